"""Snakemake script: the fixed probe texts of one corpus (the same for every model)."""
import json
import sys

from toposcale.experiments.pretrained import probe_texts
from toposcale.io import atomic_path

sys.stderr = open(snakemake.log[0], "w")
p = snakemake.params
texts = probe_texts(p.source, p.n_probe, p.seed)
with atomic_path(snakemake.output[0]) as tmp, open(tmp, "w") as fh:
    json.dump({"source": p.source, "n_probe": p.n_probe, "seed": p.seed, "texts": texts}, fh, indent=0)
print(f"{len(texts)} probe texts from {p.source}", file=sys.stderr)
