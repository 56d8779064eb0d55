"""Snakemake script: results/report/summary.md, the key numbers of every analysis table given as input."""
from toposcale.report.summary import TABLE_KEYS, write_summary

paths = {key: snakemake.input[key] for key in TABLE_KEYS if key in snakemake.input.keys()}
write_summary(paths, snakemake.output[0], title=snakemake.params.title)
