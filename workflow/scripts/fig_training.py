"""Snakemake script: training_curves.png (validation loss vs tokens) from log.csv and run.json tables."""
import json
import sys

import pandas as pd

from toposcale.report.plots import plot_training_curves

sys.stderr = open(snakemake.log[0], "w")
runs = [json.loads(open(p).read()) for p in snakemake.input.runs]
logs = {r["name"]: pd.read_csv(p) for r, p in zip(runs, snakemake.input.logs)}
plot_training_curves(logs, runs, snakemake.output[0], dpi=snakemake.params.dpi)
print(f"wrote {snakemake.output[0]}", file=sys.stderr)
