"""Training one arm of the grokking experiment, and loading its checkpoints back.

Full-batch AdamW (betas 0.9, 0.98) with linear warm-up over ``warmup_steps`` steps, then a constant
learning rate. The grokking arm uses ``weight_decay``; the control arm is identical except for
``control_weight_decay`` (0 by default), which memorises without generalising.

Training runs on the CPU (torch's default device), with ``threads`` threads: the model is tiny and
full-batch, and a fixed device keeps the runs reproducible.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd
import torch

from toposcale.experiments.grokking.data import make_dataset, split_pairs
from toposcale.experiments.grokking.model import build_model
from toposcale.experiments.grokking.runs import LOG_COLUMNS, arm_weight_decay, checkpoint_path, checkpoint_steps
from toposcale.io import load_model_weights, save_state, write_csv_atomic


def evaluate(model, x, y) -> tuple[float, float]:
    """``(loss, accuracy)`` of ``model`` on inputs ``x`` and labels ``y``: mean cross-entropy in nats and
    the fraction of argmax predictions equal to ``y`` (no gradients)."""
    with torch.no_grad():
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y).item()
        acc = (logits.argmax(-1) == y).float().mean().item()
    return loss, acc


def train(cfg: dict, arm: str, seed: int, outdir, threads: int = 1, log=print):
    """Train one arm of the grokking experiment and write its checkpoints and log.

    Parameters
    ----------
    cfg : dict
        The validated ``grokking`` config section (keys p, train_fraction, lr, weight_decay,
        control_weight_decay, steps, warmup_steps, d_model, n_heads, d_mlp, n_checkpoints).
    arm : {'grok', 'control'}
        Selects the weight decay (see :func:`arm_weight_decay`); everything else is shared.
    seed : int
        Seeds both the train/test split and the initialisation, so the two arms of one seed see the
        same split and start from the same weights.
    outdir : path
        Receives ``checkpoints/step{step:07d}.safetensors`` for every step of
        :func:`checkpoint_steps` (weights before that step's update; step 0 = initialisation) and
        ``log.csv`` with columns :data:`LOG_COLUMNS` (losses are mean cross-entropy in nats,
        accuracies fractions, ``weight_norm`` the L2 norm of all parameters, ``elapsed_s`` wall
        seconds since the start).
    threads : int
        ``torch.set_num_threads``.

    Returns
    -------
    pandas.DataFrame
        The log.
    """
    torch.set_num_threads(max(1, int(threads)))
    p = int(cfg["p"])
    wd = arm_weight_decay(cfg, arm)
    inputs, labels = make_dataset(p)
    tr, te = split_pairs(p, cfg["train_fraction"], seed)
    x_tr, y_tr = torch.from_numpy(inputs[tr]), torch.from_numpy(labels[tr])
    x_te, y_te = torch.from_numpy(inputs[te]), torch.from_numpy(labels[te])
    model = build_model(p, cfg["d_model"], cfg["n_heads"], cfg["d_mlp"], seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=float(cfg["lr"]), betas=(0.9, 0.98), weight_decay=wd)
    warm = int(cfg["warmup_steps"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) if warm > 0 else 1.0)
    steps = checkpoint_steps(cfg)
    wanted, rows, t0 = set(steps), [], time.perf_counter()
    for step in range(int(cfg["steps"]) + 1):
        if step in wanted:
            tr_loss, tr_acc = evaluate(model, x_tr, y_tr)
            te_loss, te_acc = evaluate(model, x_te, y_te)
            with torch.no_grad():
                norm = math.sqrt(sum(float((w ** 2).sum()) for w in model.parameters()))
            rows.append(dict(step=step, train_loss=tr_loss, test_loss=te_loss, train_acc=tr_acc,
                             test_acc=te_acc, lr=opt.param_groups[0]["lr"], weight_norm=norm,
                             elapsed_s=time.perf_counter() - t0))
            save_state(checkpoint_path(outdir, step), model.state_dict())
            log(f"[grokking {arm} s{seed}] step {step:6d}  train {tr_loss:.4f}/{tr_acc:.3f}  "
                f"test {te_loss:.4f}/{te_acc:.3f}  {rows[-1]['elapsed_s']:.1f}s")
        if step == int(cfg["steps"]):
            break
        loss = torch.nn.functional.cross_entropy(model(x_tr), y_tr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    df = pd.DataFrame(rows, columns=LOG_COLUMNS)
    write_csv_atomic(df, Path(outdir) / "log.csv")
    return df


def load_checkpoint(path, cfg: dict):
    """Rebuild a model (in eval mode) from a safetensors checkpoint written by :func:`train`.

    Raises
    ------
    toposcale.io.CheckpointError
        If the file is missing, truncated or does not match the model of ``cfg``.
    """
    model = build_model(cfg["p"], cfg["d_model"], cfg["n_heads"], cfg["d_mlp"])
    load_model_weights(model, path)
    model.eval()
    return model
