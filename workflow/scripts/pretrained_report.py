"""Snakemake script: the markdown interpretation report of the pretrained comparison."""
import os

import pandas as pd

from toposcale.pretrained import interpretation_report

table = pd.read_csv(snakemake.input.models)
corpora = pd.read_csv(snakemake.input.corpora)
layers = pd.read_csv(snakemake.input.layers)
text = interpretation_report(table, corpora, layers, pca_components=snakemake.params.pca_components)
out = snakemake.output[0]
tmp = out + ".tmp"
with open(tmp, "w") as fh:
    fh.write(text)
os.replace(tmp, out)
