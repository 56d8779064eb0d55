"""Snakemake script: persistence, metrics, Betti curves and subsampling intervals of every layer."""
from toposcale.io import atomic_path
from toposcale.experiments.pretrained import analyse_clouds, load_activations

p = snakemake.params
layers, _, meta = load_activations(snakemake.input.acts)
lines = []
layer_df, resample_df, betti_df, _ = analyse_clouds(
    layers, pca_components=p.topology["pca_components"], max_dim=p.topology["max_dim"],
    backend=p.topology["backend"], noise_fraction=p.topology["noise_fraction"], n_resamples=p.n_resamples,
    fraction=p.topology["bootstrap"]["fraction"], seed=p.seed, betti_grid_max=p.topology["betti_grid_max"],
    betti_grid_size=p.topology["betti_grid_size"], where=f"{meta['model']}/{meta['corpus']}", log=lines.append)
for df, out in ((layer_df, snakemake.output.layers), (resample_df, snakemake.output.resamples),
                (betti_df, snakemake.output.betti)):
    with atomic_path(out) as tmp:
        df.to_parquet(tmp, index=False)
with open(snakemake.log[0], "w") as fh:
    fh.write("\n".join(lines) + "\n")
