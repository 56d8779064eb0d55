"""Snakemake script: the n-gram stage of every dense step and the stage crossings of every run
(toposcale.analysis.stages).

input.dense / input.runs: results/runs/{run}/dense_log.csv and run.json; input.levels:
results/data/{corpus}/ngram_levels.json; params.cfg: the config's ``stages`` section. Writes
output.stages = results/analysis/stages.csv and output.crossings = results/analysis/stage_crossings.csv;
the log lists every crossing and warns where a drop holds fewer than 3 checkpoints.
"""
import sys

from toposcale.analysis.stages import coverage_warnings, stages_from_files
from toposcale.io import write_csv_atomic
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
stages, crossings = stages_from_files(snakemake.input.dense, snakemake.input.runs, snakemake.input.levels,
                                      snakemake.params.cfg)
write_csv_atomic(stages, snakemake.output.stages)
write_csv_atomic(crossings, snakemake.output.crossings)
for r in crossings.itertuples(index=False):
    print(f"{r.run} {r.crossing}: steps {r.step_start:.0f}-{r.step_end:.0f} (cross {r.step_cross:.0f}, "
          f"frac {r.frac_cross:.3f}), complete {r.complete}, {r.n_checkpoints_in_drop} checkpoints inside",
          file=sys.stderr)
warnings = coverage_warnings(crossings)
for line in warnings:
    print(line, file=sys.stderr)
print(f"{len(crossings)} crossings in {stages['run'].nunique()} runs, {int(crossings['complete'].sum())} complete, "
      f"{len(warnings)} with too few checkpoints inside", file=sys.stderr)
