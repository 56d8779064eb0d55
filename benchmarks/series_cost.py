"""Cost of one checkpoint of a checkpoint series (issue 24): time and peak memory per stage, on CPU.

Builds a randomly initialised GPT-NeoX of a given shape (the weights do not change the cost), saves it with
a tokenizer as a Hugging Face directory, then times what the series job and the persistence job do per
checkpoint: load (``load_checkpoint``), weight clouds, activation clouds of ``--probe`` texts of
``--max-tokens`` tokens, the loss per byte on ``--loss-bytes`` bytes of the KJV validation split (windows of
``--loss-tokens`` tokens), writing the clouds file (PCA, subsampling to ``--max-points``), and persistence
(H0 + H1, gudhi) of the largest weight cloud and of one activation cloud. Peak RSS is ``ru_maxrss``.

    PYTHONPATH=workflow python benchmarks/series_cost.py --width 128 --layers 6 --vocab 50304   # Pythia-14M shape
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def timed(out: dict, name: str, fn, *args, **kwargs):
    """Run ``fn``; record its wall seconds (``{name}_s``) and this process's CPU seconds (``{name}_cpu_s``:
    the cost on one thread, less inflated than wall time on a shared machine)."""
    w, c = time.perf_counter(), time.process_time()
    res = fn(*args, **kwargs)
    out[f"{name}_s"], out[f"{name}_cpu_s"] = time.perf_counter() - w, time.process_time() - c
    return res


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--vocab", type=int, default=50304)
    ap.add_argument("--probe", type=int, default=256)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--loss-bytes", type=int, default=100_000)
    ap.add_argument("--loss-tokens", type=int, default=512)
    ap.add_argument("--max-points", type=int, default=1024)
    ap.add_argument("--pca", type=int, default=50)
    ap.add_argument("--model-dir", default="", help="an existing model directory instead of a random GPT-NeoX")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    from toposcale.config import validate_config
    from toposcale.experiments.series.extract import checkpoint_clouds, load_checkpoint
    from toposcale.experiments.series.fixture import fixture_tokenizer
    from toposcale.experiments.series.loss import nll_per_byte, validation_text
    from toposcale.topology.clouds import write_clouds
    from toposcale.topology.persist import persist_cloud
    from toposcale.train.corpus import corpus_split

    cfg = validate_config({"topology": {"pca_components": a.pca, "max_points": a.max_points}})
    tmp = Path(tempfile.mkdtemp(prefix="series_cost_"))
    if a.model_dir:
        mdir = Path(a.model_dir)
    else:
        mdir = tmp / "model"
        train_b, _, _, _ = corpus_split(cfg["corpus"])
        tok = fixture_tokenizer(train_b[:200_000].decode("utf-8", "ignore"), min(a.vocab - 1, 4096))
        GPTNeoXForCausalLM(GPTNeoXConfig(
            vocab_size=a.vocab, hidden_size=a.width, num_hidden_layers=a.layers, num_attention_heads=max(1, a.width // 64),
            intermediate_size=4 * a.width, max_position_embeddings=2048, rotary_pct=0.25,
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)).save_pretrained(mdir)
        tok.save_pretrained(mdir)
    out = {"width": a.width, "layers": a.layers, "vocab": a.vocab}
    model, tok = timed(out, "load", load_checkpoint, {"path": str(mdir), "step": 0, "tokens": 0}, "decoder")
    out["n_params"] = sum(p.numel() for p in model.parameters())
    spec = {"series": "bench", "kind": "decoder", "pooling": "mean", "max_tokens": a.max_tokens, "n_layers": a.layers,
            "name": "series-bench", "max_points": a.max_points, "loss_bytes": a.loss_bytes,
            "loss_tokens": a.loss_tokens, "checkpoints": [{"step": 0, "tokens": 0, "path": str(mdir)},
                                                          {"step": 1, "tokens": 1, "path": str(mdir)}]}
    _, val, _, _ = corpus_split(cfg["corpus"])
    lines = val.decode("utf-8", "ignore").splitlines()
    texts = [" ".join(lines[i:i + 4]) for i in range(0, 4 * a.probe, 4)][:a.probe]
    clouds = timed(out, "weight_clouds", checkpoint_clouds, model, tok, spec, texts, ["weights"])
    clouds.update(timed(out, "activation_clouds", checkpoint_clouds, model, tok, spec, texts, ["activations"]))
    out["probe_tokens"] = int(sum(min(len(tok(t)["input_ids"]), a.max_tokens) for t in texts))
    timed(out, "write_clouds", write_clouds, tmp / "step0000000.npz", clouds,
          {**cfg["topology"], "max_points": a.max_points}, 0, "bench")
    text = validation_text(cfg["corpus"], a.loss_bytes)
    loss = timed(out, "loss", nll_per_byte, model, tok, text, a.loss_tokens)
    out["loss_tokens_evaluated"] = loss["n_tokens"]
    out["series_job_peak_rss_mb"] = rss_mb()
    with np.load(tmp / "step0000000.npz") as npz:
        for key in ("weights/block00", "activations/block00", "weights/embed"):
            X = npz[key]
            timed(out, f"persist_{key.replace('/', '_')}", persist_cloud, X, key.split("/")[0],
                  npz[key + "/baselines"], 1, "auto", key)
            out[f"points_{key.replace('/', '_')}"] = list(X.shape)
    out["peak_rss_mb"] = rss_mb()
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
