"""Snakemake script: the multi-model, multi-corpus and per-layer comparison tables."""
import sys

import pandas as pd

from toposcale.experiments.pretrained import (comparison_table, corpus_comparison, kind_table, layers_long,
                                              load_run_results, summarise_model, trained_layer_table)
from toposcale.io import write_csv_atomic
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
p, i = snakemake.params, snakemake.input
results = load_run_results(p.pairs, i.acts, i.layers, i.resamples)
rows = [summarise_model(r["layers"], r["resamples"], r["meta"]) for r in results.values()]
long = [layers_long(r["layers"], r["meta"]) for r in results.values()]
for path in i.trained:
    df, meta = trained_layer_table(path, p.study_corpus)
    rows.append(summarise_model(df, None, meta))
    long.append(layers_long(df, meta))
table = comparison_table(rows)
outputs = {
    snakemake.output.models: table,
    snakemake.output.kinds: kind_table(table, p.min_per_kind),
    snakemake.output.corpora: corpus_comparison(results),
    snakemake.output.layers: pd.concat(long, ignore_index=True) if long else pd.DataFrame(),
}
for out, df in outputs.items():
    write_csv_atomic(df, out)
print(f"{len(rows)} models, {len(results)} (model, corpus) pairs", file=sys.stderr)
