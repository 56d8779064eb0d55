"""Snakemake script: operating characteristics of every verdict at this study's design (toposcale.operating).

params.config: the validated config (its design: runs, sizes, seeds, checkpoints, K); params.n_sim:
simulated studies per verdict and control; params.seed; params.families (optional): only these check
families (e.g. ["pretrained"]). Writes output.csv = results/analysis/operating_characteristics.csv (or the
pretrained comparison's pretrained_operating.csv; columns: toposcale.operating.COLUMNS).
"""
import sys

from toposcale.io import write_csv_atomic
from toposcale.operating import Design, run_checks
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
design = Design.from_config(snakemake.params.config)
table = run_checks(design, n_sim=int(snakemake.params.n_sim), seed=int(snakemake.params.seed),
                   families=getattr(snakemake.params, "families", None),
                   progress=lambda m: print(m, file=sys.stderr, flush=True))
write_csv_atomic(table, snakemake.output.csv)
print(f"{len(table)} rows at design {design.describe()}", file=sys.stderr)
