"""Snakemake script: probes of every checkpoint of one run (see toposcale.analysis.probes)."""
import sys

from toposcale.analysis import probe_run
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
probe_run(snakemake.params.run, snakemake.params.config, list(snakemake.input.ckpts), list(snakemake.params.steps),
          snakemake.input.probe, snakemake.input.train, snakemake.output.csv, threads=snakemake.threads,
          log=lambda line: print(line, file=sys.stderr, flush=True))
