"""Snakemake script: point clouds for every checkpoint of one run (see toposcale.topology.clouds)."""
import sys

from toposcale.topology import extract_run

sys.stderr = open(snakemake.log[0], "w")
extract_run(snakemake.params.run, snakemake.params.config, list(snakemake.input.ckpts), snakemake.input.probe,
            list(snakemake.output.clouds), threads=snakemake.threads,
            log=lambda line: print(line, file=sys.stderr, flush=True))
