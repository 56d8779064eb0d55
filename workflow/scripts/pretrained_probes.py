"""Snakemake script: the fixed probe texts of one corpus (the same for every model)."""
import json

from toposcale.io import atomic_path
from toposcale.experiments.pretrained import probe_texts

p = snakemake.params
texts = probe_texts(p.source, p.n_probe, p.seed)
out = snakemake.output[0]
with atomic_path(out) as tmp, open(tmp, "w") as fh:
    json.dump({"source": p.source, "n_probe": p.n_probe, "seed": p.seed, "texts": texts}, fh, indent=0)
