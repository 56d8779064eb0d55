"""Snakemake script: one pretrained-comparison figure (per model and corpus, or across models)."""
import sys

import pandas as pd

from toposcale.report.plots import pretrained as plots
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
p, i, out = snakemake.params, snakemake.input, snakemake.output[0]
if p.figure == "expansion":
    plots.plot_expansion(pd.read_csv(i.layers), pd.read_csv(i.models), out, dpi=p.dpi)
else:
    layers = pd.read_parquet(i.layers)
    title = f"{snakemake.wildcards.pmodel} on {snakemake.wildcards.corpus}"
    if p.figure == "summary":
        plots.plot_summary(layers, out, title=title, dpi=p.dpi)
    elif p.figure == "h0h1":
        plots.plot_h0_h1(layers, out, title=title, dpi=p.dpi)
    elif p.figure == "betti":
        plots.plot_betti(pd.read_parquet(i.betti), layers, out, title=title, show=p.layers_to_show, dpi=p.dpi)
    else:
        raise ValueError(f"unknown pretrained figure {p.figure!r}")
print(f"wrote {out}", file=sys.stderr)
