"""Snakemake script: training_curves.png (validation loss vs tokens) from log.csv and run.json tables."""
import json

import pandas as pd

from toposcale.report.plots.training import plot_training_curves

runs = [json.loads(open(p).read()) for p in snakemake.input.runs]
logs = {r["name"]: pd.read_csv(p) for r, p in zip(runs, snakemake.input.logs)}
plot_training_curves(logs, runs, snakemake.output[0], dpi=snakemake.params.dpi)
