"""Snakemake script: train (or resume) one run (see toposcale.train.trainer)."""
import os

from toposcale.train.trainer import train_run

os.makedirs(os.path.dirname(snakemake.log[0]), exist_ok=True)
with open(snakemake.log[0], "a") as log_fh:

    def log(line):
        print(line, flush=True)
        print(line, file=log_fh, flush=True)

    data_dir = os.path.dirname(snakemake.input.train)
    run_dir = os.path.dirname(snakemake.output.run_json)
    train_run(snakemake.params.run, snakemake.params.config, data_dir, run_dir, threads=snakemake.threads, log=log)
