"""Snakemake script: one metrics table (+ Betti curves) per run (see toposcale.topology.summarise)."""
import sys

from toposcale.io import atomic_path
from toposcale.topology import summarise_run

sys.stderr = open(snakemake.log[0], "w")
p = snakemake.params
metrics, betti = summarise_run(p.diagrams_root, p.sources, p.layers, p.steps, snakemake.input.log_csv,
                               snakemake.input.run_json, p.topology, nulls_root=p.nulls_root)
for df, out in ((metrics, snakemake.output.metrics), (betti, snakemake.output.betti)):
    with atomic_path(out) as tmp:
        df.to_parquet(tmp, index=False)
print(f"{len(metrics)} metric rows, {len(betti)} Betti rows", file=sys.stderr)
