import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def run_snakemake(args, cwd=ROOT, timeout=900, check=True, env=None):
    """Run snakemake in a subprocess with a hard timeout; return the CompletedProcess."""
    cmd = [SNAKEMAKE, *args]
    e = dict(os.environ, **(env or {}))
    e["PATH"] = str(Path(sys.executable).parent) + os.pathsep + e.get("PATH", "")
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=e)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """A prepared byte-level KJV corpus (short probe) shared by the training tests."""
    from toposcale.train.corpus import prepare_corpus

    out = tmp_path_factory.mktemp("corpus")
    prepare_corpus({"source": "builtin:kjv", "tokenizer": "byte", "block_tokens": 8192, "val_fraction": 0.1,
                    "seq_len": 32, "probe_size": 16, "bpe_vocab_size": 512}, out)
    return out


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory):
    """The whole smoke study run once through Snakemake (shared by the workflow tests).

    Its results folder has a space in its name, so every shell command must quote its paths."""
    out = tmp_path_factory.mktemp("smoke") / "smoke results"
    proc = run_snakemake(["--cores", "2", "--configfile", "configs/smoke.yaml", "--config", f"results={out}"],
                         timeout=1500)
    return out, proc
