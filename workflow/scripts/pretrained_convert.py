"""Snakemake script: prepare a builtin model once (GGUF converted, split parts reassembled) into a Hugging Face
directory with safetensors weights."""
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never reach the network

import torch  # noqa: E402

from toposcale.experiments.pretrained import prepare_builtin  # noqa: E402
from toposcale.provenance import use_config  # noqa: E402

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
torch.set_num_threads(max(1, snakemake.threads))
t0 = time.perf_counter()
prepare_builtin(snakemake.wildcards.pmodel, snakemake.output[0], overwrite=True)
print(f"prepared {snakemake.wildcards.pmodel} -> {snakemake.output[0]} in {time.perf_counter() - t0:.1f} s",
      file=sys.stderr)
