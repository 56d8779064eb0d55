"""Snakemake script: the markdown interpretation report of the pretrained comparison."""
import sys

import pandas as pd

from toposcale.experiments.pretrained import interpretation_report
from toposcale.io import atomic_path

sys.stderr = open(snakemake.log[0], "w")
i = snakemake.input
text = interpretation_report(pd.read_csv(i.models), pd.read_csv(i.corpora), pd.read_csv(i.layers),
                             pca_components=snakemake.params.pca_components)
with atomic_path(snakemake.output[0]) as tmp:
    tmp.write_text(text)
print(f"wrote {snakemake.output[0]}", file=sys.stderr)
