"""Snakemake script: change points and diminishing-returns points per run and series (toposcale.analysis.transitions).

input.metrics: results/metrics/{run}.parquet files; params.cfg: the config's ``transitions`` section;
params.metrics: the ``dynamics.metrics`` list; params.seed; params.schedule: the ``training`` section's
warmup_frac and min_lr_frac (the tests' schedule covariate, each run's warmup). Writes output.csv = results/analysis/transitions.csv
(one row per series), output.change_points = results/analysis/change_points.csv (one row per change point),
output.sizes = the Spearman trends of transition and diminishing-returns fractions with model size, and
output.families = per family (primary, and each exploratory (source, variant)) the expected null count
beside the raw and the Benjamini-Hochberg counts.
"""
import sys

from toposcale.analysis import detect_transitions, family_counts, load_metrics, size_trends
from toposcale.io import write_csv_atomic
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
cfg = snakemake.params.cfg
metrics = load_metrics(snakemake.input.metrics)
tr, cp = detect_transitions(metrics, metric_cols=snakemake.params.metrics or None, settings=cfg,
                            seed=int(snakemake.params.seed), schedule=snakemake.params.schedule)
write_csv_atomic(tr, snakemake.output.csv)
write_csv_atomic(cp, snakemake.output.change_points)
write_csv_atomic(size_trends(tr), snakemake.output.sizes)
fam = family_counts(tr)
write_csv_atomic(fam, snakemake.output.families)
prim = fam[fam["primary"]]
print(f"{len(tr)} series; primary family: {int(prim['n_tests'].sum())} series, "
      f"{int(prim['n_bh'].fillna(0).sum())} significant after Benjamini-Hochberg "
      f"({int(tr.loc[tr['primary'], 'n_null'].max()) if tr['primary'].any() else 0} null draws each); exploratory: "
      f"{int(fam.loc[~fam['primary'], 'n_raw'].sum())} with p < {cfg['significance']} where "
      f"{fam.loc[~fam['primary'], 'expected_null'].sum():g} are expected by chance", file=sys.stderr)
