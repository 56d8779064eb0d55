"""Snakemake script: progress measures of every checkpoint of one grokking run (toposcale.experiments.grokking)."""
import os
import sys
import time

from toposcale.experiments.grokking import measure_run
from toposcale.io import write_csv_atomic
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
t0 = time.perf_counter()
p, wc = snakemake.params, snakemake.wildcards
df = measure_run(os.path.dirname(snakemake.input.log_csv), p.cfg, wc.arm, int(wc.seed),
                 noise_fraction=p.noise_fraction, backend=p.backend, n_null_draws=p.n_null_draws,
                 threads=snakemake.threads,
                 diagrams_path=snakemake.output.diagrams)
write_csv_atomic(df, snakemake.output.measures)
print(f"{len(df)} checkpoints measured in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
