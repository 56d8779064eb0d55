"""Statistics shared by the analyses: multiple testing, ranks, rank correlations and ROC AUC, log-log fits,
percentile intervals, bootstrap resampling. The one home of each: call these, never a copy.

numpy and scipy only. Every function ignores nothing silently: NaN inputs are either rejected with a
ValueError or, where documented, propagated as NaN results.

One module per concern; every name below is re-exported here, so callers import from
``toposcale.stats``: :mod:`.multiple_testing` (BH), :mod:`.rank` (ranks, Spearman, AUC), :mod:`.null_summary`
(a measure against its null draws), :mod:`.loglog` (power-law fits), :mod:`.intervals` (bootstrap and
jackknife intervals).
"""

from toposcale.stats.intervals import (CLUSTER_INTERVAL, bootstrap_ci, default_block_length, jackknife_t_ci,
                                      moving_block_bootstrap_indices, percentile_ci)
from toposcale.stats.loglog import loglog_fit
from toposcale.stats.multiple_testing import bh_adjust, bh_reject
from toposcale.stats.null_summary import null_excess, pooled_sd, standardised_excess
from toposcale.stats.rank import partial_spearman, ranks, roc_auc, rowwise_spearman, spearman, t_pvalue

__all__ = ["CLUSTER_INTERVAL", "bh_adjust", "bh_reject", "bootstrap_ci", "default_block_length", "jackknife_t_ci",
           "loglog_fit", "moving_block_bootstrap_indices", "null_excess", "partial_spearman", "percentile_ci",
           "pooled_sd", "ranks", "roc_auc", "rowwise_spearman", "spearman", "standardised_excess", "t_pvalue"]
