"""Snakemake script: scaling-law fits, holdout prediction, activation verdict and topology vs size
of the trained grid (toposcale.analysis.scaling.analyse_grid) -> analysis/scaling.json and scaling.csv."""
import sys

from toposcale.analysis import analyse_grid, read_grid, write_outputs
from toposcale.analysis.scaling.envelope import envelope_fit
from toposcale.analysis.scaling.grid import grid_table
from toposcale.analysis.scaling.outputs import jsonable
from toposcale.io import read_table
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
i, cfg = snakemake.input, snakemake.params.cfg
runs, logs, metrics = read_grid(i.runs, i.logs, i.metrics)
res = analyse_grid(runs, logs, metrics, n_bootstrap=cfg["n_bootstrap"], delta=cfg["huber_delta"],
                   seed=snakemake.params.seed, tables=cfg["tables"], stages=read_table(i.stages))
res["envelope"] = jsonable(envelope_fit(grid_table(runs, logs), logs, n_bootstrap=cfg["n_bootstrap"],
                                          seed=snakemake.params.seed, delta=cfg["huber_delta"]))
write_outputs(res, snakemake.output.json, snakemake.output.table)
print(res["verdict"], *res["notes"], sep="\n", file=sys.stderr)
