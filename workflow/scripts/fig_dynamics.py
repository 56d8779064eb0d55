"""Snakemake script: the training-dynamics figures (toposcale.report.plots.dynamics).

Draws whichever of these named outputs the rule declares:
  output.heatmap      <- input.dynamics (results/analysis/dynamics.csv)
  output.forecast     <- input.forecast_summary and input.forecast_comparisons when given, else the
                         summary is recomputed from input.forecast (results/analysis/forecast.csv)
  output.transitions  <- input.transitions (results/analysis/transitions.csv) and input.metrics
params: dpi (config figures.dpi), cfg (the config's dynamics section), seed.
"""
import pandas as pd

from toposcale.report.plots import dynamics as figs

i, out, p = snakemake.input, snakemake.output, snakemake.params  # noqa: F821 (injected by Snakemake)
cfg = getattr(p, "cfg", {}) or {}
dpi = int(p.dpi)
done = []
if "heatmap" in out.keys():
    figs.plot_correlation_heatmap(pd.read_csv(i.dynamics), out.heatmap, dpi=dpi,
                                  fdr_alpha=float(cfg.get("fdr_alpha", 0.05)))
    done.append(out.heatmap)
if "forecast" in out.keys():
    if "forecast_summary" in i.keys() and "forecast_comparisons" in i.keys():
        methods, comparisons = pd.read_csv(i.forecast_summary), pd.read_csv(i.forecast_comparisons)
    else:
        from toposcale.analysis.forecast import summarise
        s = summarise(pd.read_csv(i.forecast), n_bootstrap=max(1000, int(cfg.get("n_bootstrap", 500))),
                      seed=int(getattr(p, "seed", 0)))
        methods, comparisons = s["methods"], s["comparisons"]
    figs.plot_forecast(methods, comparisons, out.forecast, dpi=dpi)
    done.append(out.forecast)
if "transitions" in out.keys():
    from toposcale.analysis.dynamics import load_metrics
    figs.plot_transitions(load_metrics(i.metrics), pd.read_csv(i.transitions), out.transitions, dpi=dpi)
    done.append(out.transitions)
if not done:
    raise ValueError("fig_dynamics: declare at least one of output.heatmap, output.forecast, "
                     "output.transitions")
if snakemake.log:  # noqa: F821
    with open(snakemake.log[0], "w") as fh:  # noqa: F821
        print("wrote " + ", ".join(map(str, done)), file=fh)
