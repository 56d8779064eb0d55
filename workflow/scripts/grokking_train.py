"""Snakemake script: train one grokking run (arm, seed); see toposcale.experiments.grokking.train."""
import os
import sys

from toposcale.experiments.grokking import train
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below


def log(line):
    print(line, flush=True)  # progress on the console too
    print(line, file=sys.stderr, flush=True)


train(snakemake.params.cfg, snakemake.wildcards.arm, int(snakemake.wildcards.seed),
      os.path.dirname(snakemake.output.log_csv), threads=snakemake.threads, log=log)
