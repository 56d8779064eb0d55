"""Snakemake script: train the offline fixture series (see toposcale.experiments.series.fixture)."""
import sys

from toposcale.experiments.series.fixture import train_fixture_series
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
p = snakemake.params
train_fixture_series(p.corpus, p.fixture, p.out, seed=p.seed, threads=snakemake.threads,
                     log=lambda line: print(line, file=sys.stderr, flush=True))
