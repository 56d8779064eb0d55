"""Snakemake script: change points and diminishing-returns points per run and series (toposcale.analysis.transitions).

input.metrics: results/metrics/{run}.parquet files; params.cfg: the config's ``dynamics`` section
(``metrics``, ``n_permutations``, ``significance``); params.seed. Writes output.csv =
results/analysis/transitions.csv, output.sizes = the Spearman trends of transition and
diminishing-returns fractions with model size, and output.families = per (source, variant) family the
expected null count beside the raw and the Benjamini-Hochberg counts.
"""
import sys

from toposcale.analysis import detect_transitions, family_counts, load_metrics, size_trends
from toposcale.io import write_csv_atomic
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
cfg = snakemake.params.cfg
metrics = load_metrics(snakemake.input.metrics)
tr = detect_transitions(metrics, metric_cols=cfg["metrics"] or None, n_permutations=int(cfg["n_permutations"]),
                        significance=float(cfg["significance"]), seed=int(snakemake.params.seed))
write_csv_atomic(tr, snakemake.output.csv)
write_csv_atomic(size_trends(tr), snakemake.output.sizes)
fam = family_counts(tr)
write_csv_atomic(fam, snakemake.output.families)
print(f"{len(tr)} series, {int(tr['significant_raw'].sum())} with p < {cfg['significance']} "
      f"({fam['expected_null'].sum():g} expected by chance), {int(tr['significant'].sum())} with a significant "
      f"change point after Benjamini-Hochberg within each (source, variant)", file=sys.stderr)
