"""Statistics shared by the analyses: multiple testing, ranks, rank correlations and ROC AUC, log-log fits,
percentile intervals, bootstrap resampling. The one home of each: call these, never a copy.

numpy and scipy only. Every function ignores nothing silently: NaN inputs are either rejected with a
ValueError or, where documented, propagated as NaN results.

One module per concern; callers import every name from ``toposcale.stats`` (each module loads on first
use): :mod:`.multiple_testing` (BH), :mod:`.rank` (ranks, Spearman, AUC), :mod:`.null_summary`
(a measure against its null draws), :mod:`.loglog` (power-law fits), :mod:`.intervals` (bootstrap and
jackknife intervals).
"""

from toposcale._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "multiple_testing": ["bh_adjust", "bh_reject"],
    "rank": ["partial_spearman", "ranks", "roc_auc", "rowwise_spearman", "spearman", "t_pvalue"],
    "null_summary": ["null_excess", "pooled_sd", "standardised_excess"],
    "loglog": ["loglog_fit"],
    "intervals": ["CLUSTER_INTERVAL", "bootstrap_ci", "default_block_length", "jackknife_t_ci",
                  "moving_block_bootstrap_indices", "percentile_ci"],
})
