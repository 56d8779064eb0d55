"""Snakemake script: detection test and positive control of the grokking runs (toposcale.experiments.grokking)."""
import sys

import pandas as pd

from toposcale.experiments.grokking import detection_summary, positive_control
from toposcale.io import write_csv_atomic
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
df = pd.concat([pd.read_csv(p) for p in snakemake.input.measures], ignore_index=True)
df = df.sort_values(["seed", "arm", "step"], ascending=[True, False, True]).reset_index(drop=True)
summary = detection_summary(df, seed=snakemake.params.seed, accuracy=snakemake.params.accuracy,
                            detection=snakemake.params.detection)
control = positive_control(df, **snakemake.params.positive_control, accuracy=snakemake.params.accuracy)
write_csv_atomic(df, snakemake.output.checkpoints)
write_csv_atomic(summary, snakemake.output.summary)
write_csv_atomic(control, snakemake.output.control)
print(summary.to_string(), file=sys.stderr)
print(control.to_string(), file=sys.stderr)
