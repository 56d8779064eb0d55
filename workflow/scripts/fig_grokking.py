"""Snakemake script: the grokking figure (toposcale.report.plots.grokking)."""
import sys

import pandas as pd

from toposcale.experiments.grokking import load_run_diagrams
from toposcale.report.plots import plot_grokking, style
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
i = snakemake.input
fig = plot_grokking(pd.read_csv(i.checkpoints), pd.read_csv(i.summary), load_run_diagrams(i.grok_diagrams),
                    load_run_diagrams(i.control_diagrams), seed=snakemake.params.seed,
                    accuracy=snakemake.params.accuracy, positive_control=snakemake.params.positive_control)
style.save(fig, snakemake.output[0], dpi=snakemake.params.dpi)
print(f"wrote {snakemake.output[0]}", file=sys.stderr)
