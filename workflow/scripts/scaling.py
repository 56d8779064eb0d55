"""Snakemake script: scaling-law fits, holdout prediction, activation verdict and topology vs size
of the trained grid (toposcale.analysis.scaling.analyse_grid) -> analysis/scaling.json and scaling.csv."""
from toposcale.analysis.scaling import analyse_grid, read_grid, write_outputs

i, p = snakemake.input, snakemake.params  # noqa: F821 (injected by Snakemake)
runs, logs, metrics = read_grid(i.runs, i.logs, getattr(i, "metrics", []))
cfg = p.cfg
res = analyse_grid(runs, logs, metrics, n_bootstrap=cfg["n_bootstrap"], delta=cfg["huber_delta"],
                   seed=p.seed, tables=cfg.get("tables"))
write_outputs(res, snakemake.output.json, snakemake.output.table)  # noqa: F821
if snakemake.log:  # noqa: F821
    with open(snakemake.log[0], "w") as fh:  # noqa: F821
        print(res["verdict"], *res["notes"], sep="\n", file=fh)
