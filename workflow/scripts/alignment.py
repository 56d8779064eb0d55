"""Snakemake script: does each headline topology series change at the loss's stage crossings?
(toposcale.analysis.alignment).

input.metrics: results/metrics/{run}.parquet files; input.crossings: results/analysis/stage_crossings.csv;
params.cfg: the config's ``alignment`` section; params.seed. Writes output.csv =
results/analysis/alignment.csv (one row per series x variant x crossing type) and output.nulls =
results/analysis/alignment_nulls.csv (the draws of both nulls, for the figure).
"""
import sys

from toposcale.analysis.alignment import align, null_table
from toposcale.analysis.metrics_table import load_metrics
from toposcale.io import read_table, write_csv_atomic
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
cfg = snakemake.params.cfg
table, det = align(load_metrics(snakemake.input.metrics), read_table(snakemake.input.crossings),
                   n_null=int(cfg["n_null"]), n_bootstrap=int(cfg["n_bootstrap"]), widen=int(cfg["widen"]),
                   max_lag=int(cfg["max_lag"]), alpha=float(cfg["significance"]), seed=int(snakemake.params.seed),
                   details=True)
write_csv_atomic(table, snakemake.output.csv)
write_csv_atomic(null_table(det["nulls"]), snakemake.output.nulls)
for r in table.itertuples():
    print(f"{r.source} {r.layer} {r.metric} ({r.variant}) at {r.crossing}: {r.verdict} "
          f"(statistic {r.statistic:.3g}, p_random {r.p_random:.3g}, p_swap {r.p_swap:.3g}, lag {r.lag:.2g})",
          file=sys.stderr)
if table.empty:
    print("no complete crossing of any type: nothing to align", file=sys.stderr)
