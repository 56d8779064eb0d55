"""Snakemake script: clouds, log.csv and run.json of one checkpoint series (toposcale.experiments.series.extract)."""
import sys

from toposcale.experiments.series.extract import extract_series
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
extract_series(snakemake.params.spec, snakemake.params.config, snakemake.input.probe, snakemake.input.tokenizer,
               list(snakemake.output.clouds), snakemake.output.log_csv, snakemake.output.run_json,
               threads=snakemake.threads, log=lambda line: print(line, file=sys.stderr, flush=True))
