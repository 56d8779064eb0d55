"""Snakemake script: one topology figure (metric_evolution, diagrams or betti_curves) from tables.

Reads only the summarise tables, the persistence diagram files and log.csv; recomputes nothing.
"""
import sys

import pandas as pd

from toposcale.io import read_run_log
from toposcale.provenance import use_config
from toposcale.report.plots import plot_betti_curves, plot_diagrams, plot_metric_evolution
from toposcale.topology import load_diagrams

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)
p, i, out = snakemake.params, snakemake.input, snakemake.output[0]


def step_tokens(log_path):
    log = read_run_log(log_path)
    return dict(zip(log["step"].astype(int), log["tokens"].astype(float)))


if p.figure == "metric_evolution":
    metrics = pd.concat([pd.read_parquet(x) for x in i.metrics], ignore_index=True)
    plot_metric_evolution(metrics, out, runs=p.runs, layers_to_show=p.layers_to_show, baseline=p.baseline,
                          dpi=p.dpi)
elif p.figure == "diagrams":
    keys = [(src, step) for src in p.layers for step in p.steps]
    if len(keys) != len(i.diagrams):
        raise ValueError(f"diagrams figure: {len(i.diagrams)} files for {len(keys)} (source, step) pairs")
    diagrams = {k: load_diagrams(path) for k, path in zip(keys, i.diagrams)}
    plot_diagrams(diagrams, out, run=p.run, layers=dict(p.layers), tokens=step_tokens(i.log), dpi=p.dpi)
elif p.figure == "betti_curves":
    plot_betti_curves(pd.read_parquet(i.betti), out, run=p.run, steps=p.steps, layers_to_show=p.layers_to_show,
                      tokens=step_tokens(i.log), dpi=p.dpi)
else:
    raise ValueError(f"unknown topology figure {p.figure!r}; use metric_evolution, diagrams or betti_curves")
print(f"wrote {out}", file=sys.stderr)
