"""Snakemake script: one metrics table (+ Betti curves) per run (see toposcale.topology.summarise)."""
import sys

from toposcale.io import write_parquet_atomic
from toposcale.topology import summarise_run
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
p = snakemake.params
metrics, betti = summarise_run(p.diagrams_root, p.sources, p.layers, p.steps, snakemake.input.log_csv,
                               snakemake.input.run_json, p.topology, nulls_root=p.nulls_root)
for df, out in ((metrics, snakemake.output.metrics), (betti, snakemake.output.betti)):
    write_parquet_atomic(df, out)
print(f"{len(metrics)} metric rows, {len(betti)} Betti rows", file=sys.stderr)
