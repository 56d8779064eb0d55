"""Snakemake script: detection test and positive control of the grokking runs (toposcale.experiments.grokking)."""
import os

import pandas as pd

from toposcale.experiments.grokking import write_csv_atomic, detection_summary, positive_control

os.makedirs(os.path.dirname(snakemake.log[0]), exist_ok=True)
df = pd.concat([pd.read_csv(p) for p in snakemake.input.measures], ignore_index=True)
df = df.sort_values(["seed", "arm", "step"], ascending=[True, False, True]).reset_index(drop=True)
summary = detection_summary(df, seed=snakemake.params.seed)
control = positive_control(df)
write_csv_atomic(df, snakemake.output.checkpoints)
write_csv_atomic(summary, snakemake.output.summary)
write_csv_atomic(control, snakemake.output.control)
with open(snakemake.log[0], "w") as fh:
    print(summary.to_string(), file=fh)
    print(control.to_string(), file=fh)
