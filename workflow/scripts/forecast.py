"""Snakemake script: final-loss forecasts from partial training (toposcale.analysis.forecast).

input.metrics: results/metrics/{run}.parquet files; params.cfg: the config's ``dynamics`` section
(``forecast_fractions``, ``n_bootstrap``); params.seed. Writes output.csv (or output[0]) =
results/analysis/forecast.csv and, when declared, output.summary (per fraction and method),
output.comparisons (paired differences and verdicts) and output.text (the verdict sentences).
"""
from toposcale.io import atomic_path, write_csv_atomic
from toposcale.analysis.dynamics import load_metrics
from toposcale.analysis.forecast import forecast, summarise

cfg = snakemake.params.cfg  # noqa: F821 (injected by Snakemake)
out = snakemake.output  # noqa: F821
fc = forecast(load_metrics(snakemake.input.metrics),  # noqa: F821
              fractions=tuple(cfg.get("forecast_fractions", (0.1, 0.2, 0.3, 0.5))))
write_csv_atomic(fc, out.get("csv", out[0]))
summary = summarise(fc, n_bootstrap=max(1000, int(cfg.get("n_bootstrap", 500))),
                    seed=int(snakemake.params.seed))  # noqa: F821
if "summary" in out.keys():
    write_csv_atomic(summary["methods"], out.summary)
if "comparisons" in out.keys():
    write_csv_atomic(summary["comparisons"], out.comparisons)
if "text" in out.keys():
    with atomic_path(out.text) as tmp:
        tmp.write_text(summary["text"] + "\n")
if snakemake.log:  # noqa: F821
    with open(snakemake.log[0], "w") as fh:  # noqa: F821
        print(summary["text"], file=fh)
