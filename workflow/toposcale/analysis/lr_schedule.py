"""The learning-rate schedule as a covariate of the change-point tests' nulls: a warmup + cosine run's loss
speeds up while the rate anneals, a known shape that must not count as a transition. Both tests
(:mod:`toposcale.analysis.changepoint`, :mod:`toposcale.analysis.rebound`) take the schedule's lr decay at
the checkpoints (config ``transitions.anneal``)."""

from __future__ import annotations

import math

import numpy as np


def warmup_steps(total_steps: int, warmup_frac: float = 0.05) -> int:
    """Steps of the linear warmup of a ``total_steps`` run: ``max(1, round(warmup_frac * total_steps))``
    (:func:`toposcale.train.trainer.lr_at`); the checkpoints at steps ``<= warmup_steps`` were trained
    entirely while the rate rose.

    >>> warmup_steps(968), warmup_steps(62), warmup_steps(10)
    (48, 3, 1)
    """
    return max(1, int(round(warmup_frac * total_steps)))


def warmup_points(step, total_steps: int, warmup_frac: float = 0.05) -> int:
    """How many of the checkpoints ``step`` (increasing) were trained at least partly while the rate rose:
    those at steps ``<= warmup_steps(total_steps, warmup_frac)``. The change-point tests scan no ramp that
    rises across them (:func:`toposcale.analysis.changepoint.change_points_batch`, ``warmup_points``).

    >>> warmup_points([1, 2, 4, 8, 16, 32, 48, 49, 64], 968)
    7
    """
    return int(np.sum(np.asarray(step, dtype=float) <= warmup_steps(total_steps, warmup_frac)))


def anneal_covariate(step, total_steps: int, warmup_frac: float = 0.05, min_lr_frac: float = 0.1) -> np.ndarray:
    """The learning-rate decay so far at checkpoint ``step`` of a warmup + cosine run: ``1 - lr(step) / lr_max``
    after the warmup (``warmup = max(1, round(warmup_frac * total_steps))`` steps), 0 during it, with ``lr``
    the schedule of :func:`toposcale.train.trainer.lr_at` (the rate of the update that produced ``step``;
    restated here because that module imports torch): from 0 at the warmup's end to ``1 - min_lr_frac``."""
    step = np.asarray(step, dtype=float)
    warmup = warmup_steps(total_steps, warmup_frac)
    u = step - 1.0                                   # update index that produced the checkpoint
    prog = np.clip((u - (warmup - 1)) / max(1, total_steps - warmup), 0.0, 1.0)
    lr = min_lr_frac + (1.0 - min_lr_frac) * 0.5 * (1.0 + np.cos(math.pi * prog))
    return np.where(u < warmup, 0.0, 1.0 - lr)


def check_anneal(anneal, n: int):
    """``anneal`` as a float array of the ``n`` points (None stays None); a clear error when it is not ``n``
    finite numbers."""
    if anneal is None:
        return None
    a = np.asarray(anneal, dtype=float)
    if a.shape != (n,) or not np.all(np.isfinite(a)):
        raise ValueError(f"anneal must be {n} finite numbers, one per point (the schedule's lr decay)")
    return a
