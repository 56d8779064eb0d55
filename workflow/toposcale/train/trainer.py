"""Training loop with log-spaced checkpoints and exact resume.

Schedule: linear warmup over ``warmup_frac`` of the steps, then cosine decay to ``min_lr_frac * lr`` at
the last step. Optimiser: AdamW (decay on 2-D linear weights only), global-norm gradient clipping,
gradient accumulation. Batches are a pure function of (seed, step, micro-step), so a resumed run sees
exactly the batches an uninterrupted one would.

Files. Work in progress lives in ``runs/{run}/.partial/`` (checkpoints, ``log.csv`` rows and
``resume.safetensors`` = model + optimiser state at the last checkpoint). Snakemake deletes a job's
declared outputs before it reruns the job, so resumable state must live outside them; when training
finishes, checkpoints are renamed into ``runs/{run}/checkpoints/`` and ``log.csv`` and ``run.json`` are
written last, and ``.partial`` is removed.

Dense log. Besides the checkpoint rows of ``log.csv``, the trainer keeps ``dense_log.csv``
(:data:`DENSE_COLUMNS`): a row at step 0, at every multiple of ``training.dense_log_every``, at every
checkpoint step and at the last step. ``train_loss`` is the mean of the per-step training losses of the
updates since the previous dense row (the loss of the batch of step 0 before any update for the first
row); ``val_loss`` is the mean next-token cross-entropy (nats per token) on a fixed cheap validation batch
(``training.dense_val_windows`` evenly spaced windows of the val split, :func:`eval_offsets`: the same for
every run of a corpus and ``seq_len``), evaluated at step 0, every multiple of ``training.dense_val_every``,
every checkpoint and the last step, NaN elsewhere; ``lr`` is the rate of the update that produced the
step (as in ``log.csv``). Dense rows live in the resume state with the checkpoint rows, and every
checkpoint closes a dense row, so a resumed run writes the same file as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from toposcale.io import CheckpointError, atomic_path, load_state, save_state, versions, write_json_atomic, write_provenance
from toposcale.plan.paths import step_name
from toposcale.plan.study import run_checkpoint_steps
from toposcale.train.corpus import load_tokens
from toposcale.train.model import GPT, GPTConfig

LOG_COLUMNS = ["step", "tokens", "train_loss", "val_loss", "lr", "tokens_per_s", "elapsed_s"]
DENSE_COLUMNS = ["step", "tokens", "train_loss", "val_loss", "lr"]


def compute_environment() -> dict:
    """What decides the float results of CPU training besides the versions (run.json's ``compute``): the
    CPU kernels torch dispatches to (``torch.backends.cpu.get_cpu_capability()``, e.g. AVX2 or AVX512), its
    thread count and the processor. Training is deterministic on one machine; on another CPU type the
    summation order of those kernels differs and the trajectories part in the later digits (issue 21,
    session 15: 12 of the default study's 28 final losses moved by up to 0.04 nats)."""
    import platform

    return {"torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_threads": torch.get_num_threads(), "processor": platform.processor() or platform.machine()}


def lr_at(step: int, total_steps: int, lr: float, warmup_frac: float, min_lr_frac: float) -> float:
    """Learning rate used for the update that produces step ``step + 1`` (0-based update index).

    Examples
    --------
    >>> round(lr_at(0, 100, 1.0, 0.1, 0.1), 3), round(lr_at(9, 100, 1.0, 0.1, 0.1), 3)
    (0.1, 1.0)
    >>> round(lr_at(99, 100, 1.0, 0.1, 0.1), 3)
    0.1
    """
    warmup = max(1, int(round(warmup_frac * total_steps)))
    if step < warmup:
        return lr * (step + 1) / warmup
    span = max(1, total_steps - 1 - (warmup - 1))
    progress = min(1.0, (step - (warmup - 1)) / span)
    return lr * (min_lr_frac + (1 - min_lr_frac) * 0.5 * (1 + math.cos(math.pi * progress)))


def batch_offsets(n_tokens: int, seq_len: int, batch_size: int, seed: int, step: int, micro: int) -> np.ndarray:
    """Random window starts for one micro-batch: a pure function of (seed, step, micro)."""
    rng = np.random.default_rng([seed, step, micro])
    return rng.integers(0, n_tokens - seq_len - 1, size=batch_size)


def eval_offsets(n_tokens: int, seq_len: int, n_windows: int) -> np.ndarray:
    """Fixed, evenly spaced validation windows (the same at every checkpoint and for every run)."""
    return np.linspace(0, n_tokens - seq_len - 1, n_windows).astype(np.int64)


def _windows(data, offsets, seq_len):
    x = np.stack([np.asarray(data[o:o + seq_len], dtype=np.int64) for o in offsets])
    y = np.stack([np.asarray(data[o + 1:o + 1 + seq_len], dtype=np.int64) for o in offsets])
    return torch.from_numpy(x), torch.from_numpy(y)


def pick_device(requested: str = "auto") -> str:
    """Device for training and extraction: the one home of the project's device choice.

    Parameters
    ----------
    requested : {'auto', 'cpu', 'cuda', ...}
        Config ``training.device``. ``'auto'`` gives ``'cuda'`` when a CUDA device is visible, else
        ``'cpu'``; any other value is returned unchanged (torch checks it when a tensor is moved).

    Raises
    ------
    RuntimeError
        If ``'cuda'`` is requested but no CUDA device is visible.
    """
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("training.device = 'cuda' but no CUDA device is visible; use 'auto' or 'cpu'")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def _fingerprint(run: dict, tcfg: dict, seq_len: int) -> str:
    blob = json.dumps({"run": run, "training": tcfg, "seq_len": seq_len}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Trainer:
    """Train one run of the study; see the module docstring for the file protocol."""

    def __init__(self, run: dict, config: dict, data_dir, run_dir, threads: int = 1, log=print):
        self.run, self.cfg, self.log = run, config, log
        self.t = config["training"]
        self.seq_len = config["corpus"]["seq_len"]
        self.seed = config["seed"] * 1_000_003 + run["seed"]
        self.run_dir = Path(run_dir)
        self.partial = self.run_dir / ".partial"
        self.train_data = load_tokens(Path(data_dir) / "train.bin")
        self.val_data = load_tokens(Path(data_dir) / "val.bin")
        torch.set_num_threads(max(1, threads))
        self.device = pick_device(self.t["device"])
        torch.manual_seed(self.seed)
        self.model = GPT(GPTConfig.from_run(run, self.seq_len)).to(self.device)
        n_ne = self.model.n_params(True)
        if n_ne != run["n_nonembed"]:
            raise RuntimeError(f"built model has {n_ne} non-embedding parameters but the plan says "
                               f"{run['n_nonembed']}; toposcale.plan.sizing and toposcale.train.model disagree")
        b1, b2 = self.t["betas"]
        self.opt = torch.optim.AdamW(self.model.param_groups(self.t["weight_decay"]), lr=self.t["lr"],
                                     betas=(b1, b2))
        self.steps = run_checkpoint_steps(run["total_steps"], self.t)
        self.fingerprint = _fingerprint(run, self.t, self.seq_len)
        self.rows: list[dict] = []
        self.dense_rows: list[dict] = []
        self.step = 0
        self.elapsed = 0.0
        self.eval_x, self.eval_y = _windows(self.val_data, eval_offsets(
            len(self.val_data), self.seq_len, self.t["eval_batches"] * self.t["batch_size"]), self.seq_len)
        self.dense_x, self.dense_y = _windows(self.val_data, eval_offsets(
            len(self.val_data), self.seq_len, self.t["dense_val_windows"]), self.seq_len)

    # ---- state ---------------------------------------------------------------------------------------
    def _opt_tensors(self) -> dict:
        out = {}
        names = {id(p): n for n, p in self.model.named_parameters()}
        for group in self.opt.param_groups:
            for p in group["params"]:
                st = self.opt.state.get(p)
                if st:
                    for key in ("exp_avg", "exp_avg_sq", "step"):
                        out[f"opt.{names[id(p)]}.{key}"] = st[key].reshape(-1) if key == "step" else st[key]
        return out

    def _save_resume(self) -> None:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        tensors.update(self._opt_tensors())
        save_state(self.partial / "resume.safetensors", tensors,
                   {"step": self.step, "elapsed": self.elapsed, "fingerprint": self.fingerprint,
                    "rows": json.dumps(self.rows), "dense_rows": json.dumps(self.dense_rows)})

    def _try_resume(self) -> bool:
        path = self.partial / "resume.safetensors"
        if not path.exists():
            return False
        try:
            tensors, meta = load_state(path)
        except CheckpointError as exc:
            self.log(f"[{self.run['name']}] WARNING: {exc}; starting from scratch")
            return False
        if meta.get("fingerprint") != self.fingerprint:
            self.log(f"[{self.run['name']}] resume state was written by a different config; starting from scratch")
            return False
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        for n, p in self.model.named_parameters():
            if f"opt.{n}.exp_avg" in tensors:
                self.opt.state[p] = {"step": tensors[f"opt.{n}.step"].reshape(()).clone(),
                                     "exp_avg": tensors[f"opt.{n}.exp_avg"].to(self.device),
                                     "exp_avg_sq": tensors[f"opt.{n}.exp_avg_sq"].to(self.device)}
        self.step = int(meta["step"])
        self.elapsed = float(meta["elapsed"])
        self.rows = json.loads(meta["rows"])
        self.dense_rows = json.loads(meta.get("dense_rows", "[]"))
        self.log(f"[{self.run['name']}] resuming from step {self.step} ({path})")
        return True

    # ---- loop ----------------------------------------------------------------------------------------
    def _autocast(self):
        if self.device == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def evaluate(self, dense: bool = False) -> float:
        """Mean validation loss (nats per token) on the checkpoint batch, or on the dense batch."""
        xs, ys = (self.dense_x, self.dense_y) if dense else (self.eval_x, self.eval_y)
        self.model.eval()
        losses = []
        bs = self.t["batch_size"]
        with torch.no_grad(), self._autocast():
            for i in range(0, len(xs), bs):
                x = xs[i:i + bs].to(self.device)
                y = ys[i:i + bs].to(self.device)
                losses.append(float(self.model(x, y)[1]) * len(x))
        self.model.train()
        return sum(losses) / len(xs)

    def _dense_row(self, train_loss: float, with_val: bool) -> None:
        """Append the dense-log row of the current step (see the module docstring)."""
        val = self.evaluate(dense=True) if with_val else float("nan")
        if with_val:
            self._check_finite(val, "dense validation loss")
        lr = lr_at(max(self.step - 1, 0), self.run["total_steps"], self.t["lr"], self.t["warmup_frac"],
                   self.t["min_lr_frac"])
        self.dense_rows.append({"step": self.step, "tokens": self.step * self.run["tokens_per_step"],
                                "train_loss": train_loss, "val_loss": val, "lr": lr})

    def _check_finite(self, value: float, what: str) -> None:
        if not math.isfinite(value):
            raise FloatingPointError(
                f"[{self.run['name']}] {what} is {value} at step {self.step}; training diverged. Lower "
                f"training.lr (now {self.t['lr']}) or raise training.warmup_frac, then rerun")

    def _checkpoint(self, train_loss: float, tokens_per_s: float) -> None:
        val = self.evaluate()
        self._check_finite(val, "validation loss")
        tokens = self.step * self.run["tokens_per_step"]
        lr = lr_at(max(self.step - 1, 0), self.run["total_steps"], self.t["lr"], self.t["warmup_frac"],
                   self.t["min_lr_frac"])
        self.rows.append({"step": self.step, "tokens": tokens, "train_loss": train_loss, "val_loss": val,
                          "lr": lr, "tokens_per_s": tokens_per_s, "elapsed_s": round(self.elapsed, 3)})
        save_state(self.partial / "checkpoints" / f"{step_name(self.step)}.safetensors", self.model.state_dict(),
                   {"run": self.run["name"], "step": self.step, "tokens": tokens, "val_loss": val})
        self._save_resume()
        total = self.run["total_steps"]
        rate = self.step / self.elapsed if self.elapsed > 0 and self.step else 0.0
        eta = (total - self.step) / rate if rate else float("nan")
        self.log(f"[{self.run['name']}] step {self.step}/{total} ({100 * self.step / total:.0f}%) "
                 f"train {train_loss:.4f} val {val:.4f} lr {lr:.2e} {tokens_per_s:,.0f} tok/s "
                 f"elapsed {self.elapsed:.0f}s ETA {eta:.0f}s")

    def train(self, max_seconds: float | None = None) -> dict:
        """Run (or resume) training to the last step; ``max_seconds`` stops early (tests of resume)."""
        self.partial.mkdir(parents=True, exist_ok=True)
        resumed = self._try_resume()
        if not resumed:
            shutil.rmtree(self.partial / "checkpoints", ignore_errors=True)
            self.rows, self.dense_rows = [], []
            with torch.no_grad():
                x, y = self._batch(0, 0)
                first = float(self.model(x, y)[1])
            self._dense_row(first, True)
            self._checkpoint(first, 0.0)
        total = self.run["total_steps"]
        pending = {s for s in self.steps if s > self.step}
        accum, bs = self.t["grad_accum"], self.t["batch_size"]
        log_every, val_every = self.t["dense_log_every"], self.t["dense_val_every"]
        window_loss, window_steps, window_t0, window_tokens = 0.0, 0, time.perf_counter(), 0
        dense_loss, dense_steps = 0.0, 0
        start_wall = time.perf_counter()
        self.model.train()
        while self.step < total:
            step_loss = self.train_step()
            self._check_finite(step_loss, "training loss")
            window_loss += step_loss
            window_steps += 1
            window_tokens += bs * accum * self.seq_len
            dense_loss += step_loss
            dense_steps += 1
            at_ckpt = self.step in pending
            if at_ckpt or self.step % log_every == 0 or self.step == total:
                self._dense_row(dense_loss / dense_steps,
                                at_ckpt or self.step % val_every == 0 or self.step == total)
                dense_loss, dense_steps = 0.0, 0
            if at_ckpt:
                now = time.perf_counter()
                self.elapsed += now - window_t0
                self._checkpoint(window_loss / window_steps, window_tokens / max(now - window_t0, 1e-9))
                window_loss, window_steps, window_tokens = 0.0, 0, 0
                window_t0 = time.perf_counter()
                if max_seconds is not None and time.perf_counter() - start_wall > max_seconds:
                    return {"finished": False, "step": self.step}
        return {"finished": True, "step": self.step}

    def train_step(self) -> float:
        """One optimiser update (all micro-batches) at the current step; returns the mean train loss."""
        t = self.t
        lr = lr_at(self.step, self.run["total_steps"], t["lr"], t["warmup_frac"], t["min_lr_frac"])
        for g in self.opt.param_groups:
            g["lr"] = lr
        step_loss = 0.0
        for micro in range(t["grad_accum"]):
            x, y = self._batch(self.step, micro)
            with self._autocast():
                loss = self.model(x, y)[1] / t["grad_accum"]
            loss.backward()
            step_loss += float(loss.detach())
        if t["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), t["grad_clip"], foreach=True)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.step += 1
        return step_loss

    def _batch(self, step: int, micro: int):
        off = batch_offsets(len(self.train_data), self.seq_len, self.t["batch_size"], self.seed, step, micro)
        x, y = _windows(self.train_data, off, self.seq_len)
        return x.to(self.device), y.to(self.device)

    def finalize(self) -> dict:
        """Move checkpoints into place, write log.csv and run.json (last), remove ``.partial``."""
        ckpt_dir = self.run_dir / "checkpoints"
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        for s in self.steps:
            name = f"{step_name(s)}.safetensors"
            os.replace(self.partial / "checkpoints" / name, ckpt_dir / name)
        with atomic_path(self.run_dir / "log.csv") as tmp, open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=LOG_COLUMNS)
            w.writeheader()
            w.writerows(self.rows)
        with atomic_path(self.run_dir / "dense_log.csv") as tmp, open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=DENSE_COLUMNS)
            w.writeheader()
            w.writerows(self.dense_rows)
        write_provenance(self.run_dir / "log.csv")
        write_provenance(self.run_dir / "dense_log.csv")
        tokens_seen = self.step * self.run["tokens_per_step"]
        info = dict(self.run)
        info.update({
            "tokens_seen": tokens_seen, "flops": 6.0 * self.run["n_nonembed"] * tokens_seen,
            "epochs": tokens_seen / len(self.train_data), "train_tokens_available": int(len(self.train_data)),
            "n_nonembed_model": self.model.n_params(True), "n_total_model": self.model.n_params(False),
            "checkpoint_steps": self.steps, "final_val_loss": self.rows[-1]["val_loss"],
            "wall_seconds": self.elapsed, "device": self.device, "seed_effective": self.seed,
            "config": {k: self.cfg[k] for k in ("seed", "corpus", "model", "training")},
            "versions": versions("torch"), "compute": compute_environment()})
        write_json_atomic(info, self.run_dir / "run.json", indent=2)
        shutil.rmtree(self.partial, ignore_errors=True)
        return info


def train_run(run: dict, config: dict, data_dir, run_dir, threads: int = 1, log=print) -> dict:
    """Train (resuming if possible) and finalise one run; returns the run.json dict."""
    trainer = Trainer(run, config, data_dir, run_dir, threads=threads, log=log)
    epochs = run["total_steps"] * run["tokens_per_step"] / len(trainer.train_data)
    limit = config["training"]["max_epochs_warning"]
    if epochs > limit:
        log(f"[{run['name']}] WARNING: this run repeats its training data {epochs:.1f} times (> "
            f"training.max_epochs_warning = {limit}); use a larger corpus or fewer tokens_per_param")
    log(f"[{run['name']}] {run['n_nonembed']:,} non-embedding params, {run['total_steps']} steps, "
        f"{run['total_steps'] * run['tokens_per_step']:,} tokens ({epochs:.2f} epochs), device {trainer.device}")
    trainer.train()
    return trainer.finalize()
