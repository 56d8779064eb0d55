"""Snakemake script: the markdown interpretation report of the pretrained comparison."""
import pandas as pd

from toposcale.io import atomic_path

from toposcale.experiments.pretrained import interpretation_report

table = pd.read_csv(snakemake.input.models)
corpora = pd.read_csv(snakemake.input.corpora)
layers = pd.read_csv(snakemake.input.layers)
text = interpretation_report(table, corpora, layers, pca_components=snakemake.params.pca_components)
out = snakemake.output[0]
with atomic_path(out) as tmp:
    tmp.write_text(text)
