"""Snakemake script: train one grokking run (arm, seed); see toposcale.experiments.grokking.train."""
import os

from toposcale.experiments.grokking import train

os.makedirs(os.path.dirname(snakemake.log[0]), exist_ok=True)
with open(snakemake.log[0], "w") as log_fh:

    def log(line):
        print(line, flush=True)
        print(line, file=log_fh, flush=True)

    train(snakemake.params.cfg, snakemake.wildcards.arm, int(snakemake.wildcards.seed),
          os.path.dirname(snakemake.output.log_csv), threads=snakemake.threads, log=log)
