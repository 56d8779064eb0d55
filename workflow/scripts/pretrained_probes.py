"""Snakemake script: the fixed probe texts of one corpus (the same for every model)."""
import json
import os

from toposcale.pretrained import probe_texts

p = snakemake.params
texts = probe_texts(p.source, p.n_probe, p.seed)
out = snakemake.output[0]
tmp = out + ".tmp"
with open(tmp, "w") as fh:
    json.dump({"source": p.source, "n_probe": p.n_probe, "seed": p.seed, "texts": texts}, fh, indent=0)
os.replace(tmp, out)
