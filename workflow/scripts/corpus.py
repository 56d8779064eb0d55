"""Snakemake script: prepare the corpus (see toposcale.train.corpus)."""
import json
import os
import sys

from toposcale.train import prepare_corpus
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
meta = prepare_corpus(snakemake.params.cfg, os.path.dirname(snakemake.output.train))
print(json.dumps(meta), file=sys.stderr)
