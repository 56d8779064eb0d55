"""Snakemake script: metric-loss correlations per run and layer (toposcale.analysis.dynamics).

input.metrics: results/metrics/{run}.parquet files; params.cfg: the config's ``dynamics`` section;
params.seed: the study seed. Writes output.csv (or output[0]) = results/analysis/dynamics.csv and, when
the rule declares it, output.seeds = the across-seed summary.
"""
from toposcale.analysis.dynamics import correlate, load_metrics, seed_summary, write_csv_atomic

cfg = snakemake.params.cfg  # noqa: F821 (injected by Snakemake)
out = snakemake.output  # noqa: F821
corr = correlate(load_metrics(snakemake.input.metrics), metric_cols=cfg.get("metrics") or None,  # noqa: F821
                 n_bootstrap=int(cfg.get("n_bootstrap", 500)), fdr_alpha=float(cfg.get("fdr_alpha", 0.05)),
                 seed=int(snakemake.params.seed))  # noqa: F821
write_csv_atomic(corr, out.get("csv", out[0]))
if "seeds" in out.keys():
    write_csv_atomic(seed_summary(corr), out.seeds)
if snakemake.log:  # noqa: F821
    with open(snakemake.log[0], "w") as fh:  # noqa: F821
        print(f"{len(corr)} correlation rows over {corr['run'].nunique()} runs", file=fh)
