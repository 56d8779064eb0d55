"""Snakemake script: bootstrap CIs for every layer of one checkpoint (see toposcale.summarise)."""
import os
import re

from toposcale.summarise import bootstrap_checkpoint

run = snakemake.wildcards.run
step = int(re.sub(r"\D", "", snakemake.wildcards.step))
df = bootstrap_checkpoint(snakemake.input[0], snakemake.params.topology, snakemake.params.seed, run, step)
tmp = snakemake.output[0] + ".tmp"
df.to_csv(tmp, index=False)
os.replace(tmp, snakemake.output[0])
with open(snakemake.log[0], "w") as fh:
    print(f"{len(df)} rows", file=fh)
