"""Snakemake script: train one grokking run (arm, seed); see toposcale.experiments.grokking.train."""
import os
import sys

from toposcale.experiments.grokking import train

sys.stderr = open(snakemake.log[0], "w")


def log(line):
    print(line, flush=True)  # progress on the console too
    print(line, file=sys.stderr, flush=True)


train(snakemake.params.cfg, snakemake.wildcards.arm, int(snakemake.wildcards.seed),
      os.path.dirname(snakemake.output.log_csv), threads=snakemake.threads, log=log)
