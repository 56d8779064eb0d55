"""Snakemake script: probes.png (n-gram divergences and induction vs tokens) from the per-run probes tables."""
import json
import sys

from toposcale.report.plots.probes import plot_probes, read_probes

sys.stderr = open(snakemake.log[0], "w")
runs = [json.loads(open(p).read()) for p in snakemake.input.runs]
plot_probes(read_probes(snakemake.input.probes), runs, snakemake.output[0], dpi=snakemake.params.dpi)
print(f"wrote {snakemake.output[0]}", file=sys.stderr)
