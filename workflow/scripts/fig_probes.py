"""Snakemake script: probes.png (n-gram divergences and induction vs tokens) from the per-run probes tables."""
import json
import sys

from toposcale.report.plots.probes import plot_probes, read_probes
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
runs = [json.loads(open(p).read()) for p in snakemake.input.runs]
plot_probes(read_probes(snakemake.input.probes), runs, snakemake.output[0], dpi=snakemake.params.dpi)
print(f"wrote {snakemake.output[0]}", file=sys.stderr)
