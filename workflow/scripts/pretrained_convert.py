"""Snakemake script: convert a builtin GGUF model once into a safetensors Hugging Face directory."""
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never reach the network

import torch  # noqa: E402

from toposcale.experiments.pretrained import builtin_gguf_file, convert_gguf  # noqa: E402
from toposcale.provenance import use_config  # noqa: E402

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
torch.set_num_threads(max(1, snakemake.threads))
t0 = time.perf_counter()
gguf = builtin_gguf_file(snakemake.wildcards.pmodel)
convert_gguf(gguf, snakemake.output[0], overwrite=True)
print(f"converted {gguf} -> {snakemake.output[0]} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
