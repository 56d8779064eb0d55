"""Snakemake script: the markdown interpretation report of the pretrained comparison."""
import sys

import pandas as pd

from toposcale.experiments.pretrained import interpretation_report
from toposcale.io import read_table, write_text_atomic
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
i = snakemake.input
text = interpretation_report(pd.read_csv(i.models), pd.read_csv(i.corpora), pd.read_csv(i.layers),
                             pca_components=snakemake.params.pca_components, kinds=pd.read_csv(i.kinds),
                             operating=read_table(i.operating))
write_text_atomic(text, snakemake.output[0])
print(f"wrote {snakemake.output[0]}", file=sys.stderr)
