"""Snakemake script: point clouds for every checkpoint of one run (see toposcale.topology.clouds)."""
from toposcale.topology.clouds import extract_run

with open(snakemake.log[0], "w") as log_fh:
    extract_run(snakemake.params.run, snakemake.params.config, list(snakemake.input.ckpts),
                snakemake.input.probe, list(snakemake.output.clouds), threads=snakemake.threads,
                log=lambda line: print(line, file=log_fh, flush=True))
