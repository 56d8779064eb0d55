"""Snakemake script: prepare the corpus (see toposcale.train.corpus)."""
import json
import sys

from toposcale.train.corpus import prepare_corpus

sys.stderr = open(snakemake.log[0], "w")
meta = prepare_corpus(snakemake.params.cfg, snakemake.output.train.rsplit("/", 1)[0])
print(json.dumps(meta), file=sys.stderr)
