"""Snakemake script: one pretrained-comparison figure (per model and corpus, or across models)."""
import pandas as pd

from toposcale.report.plots import pretrained as fig

p = snakemake.params
if p.figure == "expansion":
    fig.plot_expansion(pd.read_csv(snakemake.input.layers), pd.read_csv(snakemake.input.models),
                       snakemake.output[0], dpi=p.dpi)
else:
    layers = pd.read_parquet(snakemake.input.layers)
    title = f"{snakemake.wildcards.pmodel} on {snakemake.wildcards.corpus}"
    if p.figure == "summary":
        fig.plot_summary(layers, snakemake.output[0], title=title, dpi=p.dpi)
    elif p.figure == "h0h1":
        fig.plot_h0_h1(layers, snakemake.output[0], title=title, dpi=p.dpi)
    elif p.figure == "betti":
        fig.plot_betti(pd.read_parquet(snakemake.input.betti), layers, snakemake.output[0], title=title,
                       show=p.layers_to_show, dpi=p.dpi)
    else:
        raise ValueError(f"unknown pretrained figure {p.figure!r}")
