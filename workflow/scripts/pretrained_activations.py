"""Snakemake script: pooled per-layer activations and perplexity of one model on one corpus's probes."""
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from toposcale.experiments.pretrained import ModelSpec, resolve_model_dir, run_activations  # noqa: E402

p = snakemake.params
spec = ModelSpec(**p.spec)
with open(snakemake.input.probes) as fh:
    texts = json.load(fh)["texts"]
device = "cpu"
if p.device in ("auto", "cuda"):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
meta = run_activations(resolve_model_dir(spec), spec.kind, texts, p.pooling, p.max_tokens, snakemake.output.acts,
                       extra_meta={"model": spec.name, "origin": spec.origin, "corpus": snakemake.wildcards.corpus},
                       threads=snakemake.threads, seed=p.seed, device=device)
with open(snakemake.log[0], "w") as fh:
    json.dump({k: v for k, v in meta.items()}, fh, indent=1, default=str)
