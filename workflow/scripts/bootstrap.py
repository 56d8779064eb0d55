"""Snakemake script: bootstrap CIs for every layer of one checkpoint (see toposcale.topology.summarise)."""
import sys

from toposcale.io import write_csv_atomic
from toposcale.topology import bootstrap_checkpoint
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
run, step = snakemake.wildcards.run, int(snakemake.wildcards.step)
df = bootstrap_checkpoint(snakemake.input[0], snakemake.params.topology, snakemake.params.seed, run, step)
write_csv_atomic(df, snakemake.output[0])
print(f"{len(df)} rows", file=sys.stderr)
