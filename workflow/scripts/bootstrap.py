"""Snakemake script: bootstrap CIs for every layer of one checkpoint (see toposcale.topology.summarise)."""
import re

from toposcale.io import write_csv_atomic
from toposcale.topology.summarise import bootstrap_checkpoint

run = snakemake.wildcards.run
step = int(re.sub(r"\D", "", snakemake.wildcards.step))
df = bootstrap_checkpoint(snakemake.input[0], snakemake.params.topology, snakemake.params.seed, run, step)
write_csv_atomic(df, snakemake.output[0])
with open(snakemake.log[0], "w") as fh:
    print(f"{len(df)} rows", file=fh)
