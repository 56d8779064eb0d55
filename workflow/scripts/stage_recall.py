"""Snakemake script: the loss's stage crossings scored against its detected change points
(toposcale.analysis.stage_recall).

input.crossings: results/analysis/stage_crossings.csv; input.change_points: results/analysis/change_points.csv;
input.logs: every run's log.csv (its checkpoint steps), params.runs: their run names. Writes output.detection (one row per complete
crossing) and output.recall (per crossing type: recall against the 0.9 target).
"""
import sys

from toposcale.analysis.stage_recall import crossing_detection, recall_table
from toposcale.io import read_run_log, read_table, write_csv_atomic
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
checkpoints = {run: read_run_log(p)["step"].tolist() for run, p in zip(snakemake.params.runs, snakemake.input.logs)}
det = crossing_detection(read_table(snakemake.input.crossings), read_table(snakemake.input.change_points), checkpoints)
rec = recall_table(det)
write_csv_atomic(det, snakemake.output.detection)
write_csv_atomic(rec, snakemake.output.recall)
print(rec.to_string(index=False), file=sys.stderr)
