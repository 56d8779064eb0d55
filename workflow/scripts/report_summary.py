"""Snakemake script: results/report/summary.md, the key numbers of every analysis table given as input."""
import sys

from toposcale.report import TABLE_KEYS, write_summary
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
paths = {key: snakemake.input[key] for key in TABLE_KEYS if key in snakemake.input.keys()}
write_summary(paths, snakemake.output[0], title=snakemake.params.title)
print(f"wrote {snakemake.output[0]}", file=sys.stderr)
