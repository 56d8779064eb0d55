"""Snakemake script: summary.png, the one-page summary figure, from run tables and analysis tables."""
import sys

import pandas as pd

from toposcale.io import read_run_info, read_run_log, read_table
from toposcale.provenance import use_config
from toposcale.report import SECTIONS, TABLE_KEYS, key_numbers
from toposcale.report.plots.summary import plot_summary
from toposcale.train.ngram import load_levels

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)
inp = snakemake.input
runs = [read_run_info(p) for p in inp.runs]
logs = {r["name"]: read_run_log(p) for r, p in zip(runs, inp.logs)}
metrics = pd.concat([pd.read_parquet(p) for p in inp.metrics], ignore_index=True)
tables = {key: read_table(inp[key]) for key in TABLE_KEYS if key in inp.keys()}
missing = [key for key, _ in SECTIONS if key not in tables]
plot_summary(logs, runs, metrics, snakemake.output[0], scaling=tables.get("scaling"),
             dynamics=tables.get("dynamics"), key_lines=key_numbers(tables), missing=missing,
             dpi=snakemake.params.dpi, levels=load_levels(inp.levels))
print(f"wrote {snakemake.output[0]}", file=sys.stderr)
