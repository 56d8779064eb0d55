"""Training throughput: the workflow's training step vs a bare minimal PyTorch loop.

Both loops train the same model (same shape, same initial weights) on the same batch size and sequence
length, one after the other in this process, with the same thread count. The workflow side is
``toposcale.train.trainer.Trainer.train_step`` (schedule, deterministic batch sampling from the memmap, grad
clipping, AdamW param groups); the bare side is forward/backward/AdamW on a pre-built random batch.

    .venv/bin/python benchmarks/train_throughput.py [--steps 150] [--threads 1] [--device cpu|cuda|auto]

Prints tokens/s for both and their ratio (target >= 0.95). With ``--device cuda`` both loops run on the
GPU under bf16 autocast (as the workflow trains there) and the clock reads after ``cuda.synchronize()``.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time

import torch

from toposcale.config import validate_config
from toposcale.train.corpus import prepare_corpus
from toposcale.train.model import GPT, GPTConfig
from toposcale.plan.study import study_runs
from toposcale.train.trainer import Trainer, pick_device


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def bare_loop(run: dict, seq_len: int, batch: int, steps: int, seed: int, device: str = "cpu") -> float:
    torch.manual_seed(seed)
    model = GPT(GPTConfig.from_run(run, seq_len)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, run["vocab_size"], (batch, seq_len), device=device)
    y = torch.randint(0, run["vocab_size"], (batch, seq_len), device=device)
    for i in range(5 + steps):
        if i == 5:  # warm-up done
            _sync(device)
            t0 = time.perf_counter()
        with (torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else contextlib.nullcontext()):
            loss = model(x, y)[1]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    _sync(device)
    return steps * batch * seq_len / (time.perf_counter() - t0)


def workflow_loop(trainer: Trainer, steps: int) -> float:
    for _ in range(5):
        trainer.train_step()
    trainer.step = 0
    _sync(trainer.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    _sync(trainer.device)
    return steps * trainer.t["batch_size"] * trainer.seq_len / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sizes", type=int, nargs="+", default=[25000, 99000, 444000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    cfg = validate_config({"model": {"target_params": args.sizes, "activations": ["gelu"]},
                           "training": {"device": device}})
    with tempfile.TemporaryDirectory() as tmp:
        prepare_corpus(cfg["corpus"], tmp)
        print(f"device: {device}{' (' + torch.cuda.get_device_name() + ')' if device == 'cuda' else ''}")
        print("| model | N non-embed | bare tok/s | workflow tok/s | ratio |\n|---|---|---|---|---|")
        for run in study_runs(cfg):
            r = run.to_dict()
            trainer = Trainer(r, cfg, tmp, f"{tmp}/run", threads=args.threads, log=lambda s: None)
            bare, wf = [], []
            for _ in range(args.repeats):  # interleave so drift in machine load hits both sides alike
                bare.append(bare_loop(r, cfg["corpus"]["seq_len"], cfg["training"]["batch_size"], args.steps, 0,
                                      device))
                wf.append(workflow_loop(trainer, args.steps))
            b, w = max(bare), max(wf)
            print(f"| {r['name']} | {r['n_nonembed']:,} | {b:,.0f} | {w:,.0f} | {w / b:.3f} |", flush=True)


if __name__ == "__main__":
    main()
