"""Snakemake script: convert a builtin GGUF model once into a safetensors Hugging Face directory."""
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from toposcale.experiments.pretrained.gguf_convert import convert_gguf  # noqa: E402
from toposcale.experiments.pretrained import builtin_gguf_file  # noqa: E402

torch.set_num_threads(max(1, snakemake.threads))
t0 = time.perf_counter()
gguf = builtin_gguf_file(snakemake.wildcards.pmodel)
convert_gguf(gguf, snakemake.output[0], overwrite=True)
with open(snakemake.log[0], "w") as fh:
    print(f"converted {gguf} -> {snakemake.output[0]} in {time.perf_counter() - t0:.1f} s", file=fh)
