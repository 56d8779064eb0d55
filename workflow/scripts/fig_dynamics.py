"""Snakemake script: the training-dynamics figure its rule declares (toposcale.report.plots.dynamics).

  output.heatmap      <- input.dynamics (results/analysis/dynamics.csv); params.fdr_alpha
  output.forecast     <- input.forecast_summary and input.forecast_comparisons
  output.transitions  <- input.transitions (results/analysis/transitions.csv) and input.metrics
params.dpi: the config's figures.dpi.
"""
import sys

import pandas as pd

from toposcale.analysis import load_metrics
from toposcale.report.plots import plot_correlation_heatmap, plot_forecast, plot_transitions
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
i, out, p = snakemake.input, snakemake.output, snakemake.params
dpi = int(p.dpi)
if "heatmap" in out.keys():
    plot_correlation_heatmap(pd.read_csv(i.dynamics), out.heatmap, dpi=dpi, fdr_alpha=float(p.fdr_alpha))
elif "forecast" in out.keys():
    plot_forecast(pd.read_csv(i.forecast_summary), pd.read_csv(i.forecast_comparisons), out.forecast, dpi=dpi)
elif "transitions" in out.keys():
    plot_transitions(load_metrics(i.metrics), pd.read_csv(i.transitions), out.transitions, dpi=dpi)
else:
    raise ValueError("fig_dynamics: declare one of output.heatmap, output.forecast, output.transitions")
print(f"wrote {out[0]}", file=sys.stderr)
