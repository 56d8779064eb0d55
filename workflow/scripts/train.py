"""Snakemake script: train (or resume) one run (see toposcale.train.trainer)."""
import os
import sys

from toposcale.train import train_run
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "a")  # a resumed run appends to the log of the interrupted one
use_config(snakemake.config)  # provenance of every table and figure written below


def log(line):
    print(line, flush=True)  # progress on the console too
    print(line, file=sys.stderr, flush=True)


train_run(snakemake.params.run, snakemake.params.config, os.path.dirname(snakemake.input.train),
          os.path.dirname(snakemake.output.run_json), threads=snakemake.threads, log=log)
