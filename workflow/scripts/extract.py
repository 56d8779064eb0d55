"""Snakemake script: point clouds for every checkpoint of one run (see toposcale.topology.clouds)."""
import sys

from toposcale.topology import extract_run
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
extract_run(snakemake.params.run, snakemake.params.config, list(snakemake.input.ckpts), snakemake.input.probe,
            list(snakemake.output.clouds), threads=snakemake.threads,
            log=lambda line: print(line, file=sys.stderr, flush=True))
