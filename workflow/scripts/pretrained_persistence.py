"""Snakemake script: persistence, metrics, Betti curves and subsampling intervals of every layer."""
import sys

from toposcale.experiments.pretrained import analyse_clouds, load_activations
from toposcale.io import write_parquet_atomic
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
p, topo = snakemake.params, snakemake.params.topology
layers, _, meta = load_activations(snakemake.input.acts)
layer_df, resample_df, betti_df, _ = analyse_clouds(
    layers, pca_components=topo["pca_components"], max_dim=topo["max_dim"], backend=topo["backend"],
    noise_fraction=topo["noise_fraction"], n_resamples=p.n_resamples, fraction=topo["bootstrap"]["fraction"],
    seed=p.seed, betti_grid_max=topo["betti_grid_max"], betti_grid_size=topo["betti_grid_size"],
    n_null_draws=topo["nulls"]["n_draws"], min_distinct_fraction=topo["min_distinct_fraction"],
    where=f"{meta['model']}/{meta['corpus']}", log=lambda line: print(line, file=sys.stderr, flush=True))
for df, out in ((layer_df, snakemake.output.layers), (resample_df, snakemake.output.resamples),
                (betti_df, snakemake.output.betti)):
    write_parquet_atomic(df, out)
