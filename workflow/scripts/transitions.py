"""Snakemake script: change points and diminishing-returns points per run and series (toposcale.analysis.transitions).

input.metrics: results/metrics/{run}.parquet files; params.cfg: the config's ``dynamics`` section
(``metrics``, ``n_permutations``, ``significance``); params.seed. Writes output.csv (or
output[0]) = results/analysis/transitions.csv and, when declared, output.sizes = the Spearman trends of
transition and diminishing-returns fractions with model size.
"""
from toposcale.analysis.dynamics import load_metrics, write_csv_atomic
from toposcale.analysis.transitions import detect_transitions, size_trends

cfg = snakemake.params.cfg  # noqa: F821 (injected by Snakemake)
out = snakemake.output  # noqa: F821
metrics = load_metrics(snakemake.input.metrics)  # noqa: F821
tr = detect_transitions(metrics, metric_cols=cfg.get("metrics") or None,
                        n_permutations=int(cfg.get("n_permutations", 199)),
                        significance=float(cfg.get("significance", 0.05)),
                        seed=int(snakemake.params.seed))  # noqa: F821
write_csv_atomic(tr, out.get("csv", out[0]))
if "sizes" in out.keys():
    write_csv_atomic(size_trends(tr), out.sizes)
if snakemake.log:  # noqa: F821
    with open(snakemake.log[0], "w") as fh:  # noqa: F821
        print(f"{len(tr)} series, {int(tr['significant'].sum())} with a significant change point", file=fh)
