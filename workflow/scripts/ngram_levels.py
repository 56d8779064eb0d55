"""Snakemake script: the corpus's n-gram loss levels (see toposcale.train.ngram)."""
import json
import sys
import time

from toposcale.io import atomic_path
from toposcale.train.corpus import load_tokens
from toposcale.train.ngram import ngram_levels
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
t0 = time.perf_counter()
doc = ngram_levels(load_tokens(snakemake.input.train), load_tokens(snakemake.input.val), int(snakemake.params.vocab),
                   int(snakemake.params.max_order), corpus=snakemake.params.corpus)
doc["config"] = {"max_order": int(snakemake.params.max_order), "vocab_size": int(snakemake.params.vocab)}
with atomic_path(snakemake.output.levels) as tmp:
    tmp.write_text(json.dumps(doc, indent=2))
for lv in doc["levels"]:
    print(f"{lv['name']}: {lv['nats']:.4f} nats held out (plug-in on train {lv['plugin_train_nats']:.4f})", file=sys.stderr)
print(f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
