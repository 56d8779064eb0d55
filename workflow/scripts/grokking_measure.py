"""Snakemake script: progress measures of every checkpoint of one grokking run (toposcale.experiments.grokking)."""
import os
import time

from toposcale.experiments.grokking import write_csv_atomic, measure_run

os.makedirs(os.path.dirname(snakemake.log[0]), exist_ok=True)
t0 = time.perf_counter()
df = measure_run(os.path.dirname(snakemake.input.log_csv), snakemake.params.cfg, snakemake.wildcards.arm,
                 int(snakemake.wildcards.seed), noise_fraction=snakemake.params.noise_fraction,
                 backend=snakemake.params.backend, threads=snakemake.threads,
                 diagrams_path=snakemake.output.diagrams)
write_csv_atomic(df, snakemake.output.measures)
with open(snakemake.log[0], "w") as fh:
    print(f"{len(df)} checkpoints measured in {time.perf_counter() - t0:.1f} s", file=fh)
