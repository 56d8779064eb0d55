"""Snakemake script: pooled per-layer activations and perplexity of one model on one corpus's probes."""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never reach the network


from toposcale.experiments.pretrained import ModelSpec, resolve_model_dir, run_activations  # noqa: E402
from toposcale.train import pick_device  # noqa: E402
from toposcale.provenance import use_config  # noqa: E402

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
p = snakemake.params
spec = ModelSpec(**p.spec)
with open(snakemake.input.probes) as fh:
    texts = json.load(fh)["texts"]
device = pick_device(p.device)  # the one device choice: "cuda" without a visible GPU is an error
meta = run_activations(resolve_model_dir(spec), spec.kind, texts, p.pooling, p.max_tokens, snakemake.output.acts,
                       extra_meta={"model": spec.name, "origin": spec.origin, "corpus": snakemake.wildcards.corpus,
                                   "quantisation": spec.quantisation, "instruction_tuned": spec.instruction_tuned},
                       threads=snakemake.threads, seed=p.seed, device=device)
json.dump(meta, sys.stderr, indent=1, default=str)
