"""Snakemake script: change points and diminishing-returns points per run and series (toposcale.analysis.transitions).

input.metrics: results/metrics/{run}.parquet files; params.cfg: the config's ``dynamics`` section
(``metrics``, ``n_permutations``, ``significance``); params.seed. Writes output.csv =
results/analysis/transitions.csv and output.sizes = the Spearman trends of transition and
diminishing-returns fractions with model size.
"""
import sys

from toposcale.analysis import detect_transitions, load_metrics, size_trends
from toposcale.io import write_csv_atomic

sys.stderr = open(snakemake.log[0], "w")
cfg = snakemake.params.cfg
metrics = load_metrics(snakemake.input.metrics)
tr = detect_transitions(metrics, metric_cols=cfg["metrics"] or None, n_permutations=int(cfg["n_permutations"]),
                        significance=float(cfg["significance"]), seed=int(snakemake.params.seed))
write_csv_atomic(tr, snakemake.output.csv)
write_csv_atomic(size_trends(tr), snakemake.output.sizes)
print(f"{len(tr)} series, {int(tr['significant'].sum())} with a significant change point", file=sys.stderr)
