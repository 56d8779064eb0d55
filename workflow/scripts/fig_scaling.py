"""Snakemake script: a scaling figure from analysis/scaling.json (toposcale.report.plots.scaling).

Draws whichever of output.loss (loss vs compute, fitted laws, holdout) and output.topo (topological
metric vs N) the rule declares, so each figure is its own rule and redraws alone."""
import json

from toposcale.report.plots.scaling import plot_loss_vs_compute, plot_topology_vs_size
from toposcale.analysis.scaling import read_grid

i, o, dpi = snakemake.input, snakemake.output, snakemake.params.dpi  # noqa: F821 (injected by Snakemake)
with open(i.json) as fh:
    res = json.load(fh)
if "loss" in o.keys():
    _, logs, _ = read_grid([], getattr(i, "logs", []))
    plot_loss_vs_compute(res, o.loss, logs=logs, dpi=dpi)
if "topo" in o.keys():
    plot_topology_vs_size(res, o.topo, dpi=dpi)
