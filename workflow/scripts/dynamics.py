"""Snakemake script: metric-loss correlations per run and layer (toposcale.analysis.dynamics).

input.metrics: results/metrics/{run}.parquet files; params.cfg: the config's ``dynamics`` section;
params.seed: the study seed. Writes output.csv = results/analysis/dynamics.csv and output.seeds = the
across-seed summary.
"""
import sys

from toposcale.analysis import correlate, load_metrics, seed_summary
from toposcale.io import write_csv_atomic
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
cfg = snakemake.params.cfg
metrics = load_metrics(snakemake.input.metrics)
corr = correlate(metrics, metric_cols=cfg["metrics"] or None, n_bootstrap=int(cfg["n_bootstrap"]),
                 fdr_alpha=float(cfg["fdr_alpha"]), seed=int(snakemake.params.seed),
                 n_surrogates=int(cfg["n_surrogates"]))
write_csv_atomic(corr, snakemake.output.csv)
write_csv_atomic(seed_summary(corr), snakemake.output.seeds)
print(f"{len(corr)} correlation rows over {corr['run'].nunique()} runs", file=sys.stderr)
