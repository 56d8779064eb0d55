"""Snakemake script: the grokking figure (toposcale.report.plots.grokking)."""
import os

import pandas as pd

from toposcale.experiments.grokking import load_run_diagrams
from toposcale.report.plots import style
from toposcale.report.plots.grokking import plot_grokking

os.makedirs(os.path.dirname(snakemake.log[0]), exist_ok=True)
checkpoints = pd.read_csv(snakemake.input.checkpoints)
summary = pd.read_csv(snakemake.input.summary)
fig = plot_grokking(checkpoints, summary, load_run_diagrams(snakemake.input.grok_diagrams),
                    load_run_diagrams(snakemake.input.control_diagrams), seed=snakemake.params.seed)
style.save(fig, snakemake.output[0], dpi=snakemake.params.dpi)
with open(snakemake.log[0], "w") as fh:
    print(f"wrote {snakemake.output[0]}", file=fh)
