"""Snakemake script: prepare the corpus (see toposcale.train.corpus)."""
import json
import os
import sys

from toposcale.train import prepare_corpus

sys.stderr = open(snakemake.log[0], "w")
meta = prepare_corpus(snakemake.params.cfg, os.path.dirname(snakemake.output.train))
print(json.dumps(meta), file=sys.stderr)
