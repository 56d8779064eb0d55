"""Snakemake script: the synthetic beta-trajectory demo log with planted effects (toposcale.experiments.external)."""
import sys

from toposcale.experiments.external import write_demo_log
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
write_demo_log(snakemake.output[0], snakemake.params.seed)
print(f"wrote {snakemake.output[0]}", file=sys.stderr)
