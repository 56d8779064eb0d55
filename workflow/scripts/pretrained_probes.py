"""Snakemake script: the fixed probe texts of one corpus (the same for every model)."""
import sys

from toposcale.experiments.pretrained import probe_texts
from toposcale.io import write_json_atomic
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
p = snakemake.params
texts = probe_texts(p.source, p.n_probe, p.seed)
write_json_atomic({"source": p.source, "n_probe": p.n_probe, "seed": p.seed, "texts": texts}, snakemake.output[0],
                  indent=0)
print(f"{len(texts)} probe texts from {p.source}", file=sys.stderr)
