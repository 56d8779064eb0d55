"""Snakemake script: a scaling figure from analysis/scaling.json (toposcale.report.plots.scaling).

Draws whichever of output.loss (loss vs compute, fitted laws, holdout; needs input.logs) and output.topo
(topological metric vs N) the rule declares; the loss figure draws the corpus's n-gram levels (input.levels), so each figure is its own rule and redraws alone."""
import json
import sys

from toposcale.analysis import read_grid
from toposcale.report.plots import plot_loss_vs_compute, plot_topology_vs_size
from toposcale.provenance import use_config
from toposcale.train.ngram import load_levels

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
i, o, dpi = snakemake.input, snakemake.output, snakemake.params.dpi
with open(i.json) as fh:
    res = json.load(fh)
if "loss" in o.keys():
    _, logs, _ = read_grid([], i.logs)
    plot_loss_vs_compute(res, o.loss, logs=logs, dpi=dpi, levels=load_levels(i.levels))
if "topo" in o.keys():
    plot_topology_vs_size(res, o.topo, dpi=dpi)
print(f"wrote {o[0]}", file=sys.stderr)
