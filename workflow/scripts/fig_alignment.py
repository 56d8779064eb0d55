"""Snakemake script: the alignment figure (toposcale.report.plots.alignment.plot_alignment).

input.metrics: results/metrics/{run}.parquet; input.crossings: results/analysis/stage_crossings.csv;
input.alignment / input.nulls: results/analysis/alignment.csv and alignment_nulls.csv; params.dpi.
"""
import sys

from toposcale.analysis.metrics_table import load_metrics
from toposcale.io import read_table
from toposcale.report.plots.alignment import plot_alignment
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
i = snakemake.input
out = plot_alignment(load_metrics(i.metrics), read_table(i.crossings), read_table(i.alignment), read_table(i.nulls),
                     snakemake.output[0], dpi=int(snakemake.params.dpi))
print(f"wrote {snakemake.output[0]}: runs {out['runs']}", file=sys.stderr)
