"""Snakemake script: final-loss forecasts from partial training (toposcale.analysis.forecasting, .forecast_summary).

input.metrics: results/metrics/{run}.parquet files; params.cfg: the config's ``dynamics`` section
(``forecast_fractions``, ``n_bootstrap``); params.seed. Writes output.csv = results/analysis/forecast.csv,
output.summary (per evaluation, fraction and method) and output.comparisons (paired differences and
verdicts, per evaluation: leave-one-size-out primary, leave-one-run-out secondary); the verdict sentences
go to the log.
"""
import sys

from toposcale.analysis import forecast, load_metrics, summarise_forecasts
from toposcale.io import write_csv_atomic
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
cfg = snakemake.params.cfg
fc = forecast(load_metrics(snakemake.input.metrics), fractions=tuple(cfg["forecast_fractions"]))
write_csv_atomic(fc, snakemake.output.csv)
summary = summarise_forecasts(fc, n_bootstrap=max(1000, int(cfg["n_bootstrap"])), seed=int(snakemake.params.seed))
write_csv_atomic(summary["methods"], snakemake.output.summary)
write_csv_atomic(summary["comparisons"], snakemake.output.comparisons)
print(summary["text"], file=sys.stderr)
