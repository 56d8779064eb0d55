"""Snakemake script: training_curves.png (validation loss vs tokens) from log.csv and run.json tables, with the
corpus's n-gram loss levels and the stage crossings (input.levels, input.crossings) marked."""
import pandas as pd
import sys

from toposcale.io import read_run_info, read_run_log
from toposcale.provenance import use_config
from toposcale.report.plots import plot_training_curves
from toposcale.train.ngram import load_levels

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)
runs = [read_run_info(p) for p in snakemake.input.runs]
logs = {r["name"]: read_run_log(p) for r, p in zip(runs, snakemake.input.logs)}
plot_training_curves(logs, runs, snakemake.output[0], dpi=snakemake.params.dpi,
                     levels=load_levels(snakemake.input.levels), crossings=pd.read_csv(snakemake.input.crossings))
print(f"wrote {snakemake.output[0]}", file=sys.stderr)
