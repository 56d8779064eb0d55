"""The learning-rate schedule as a covariate of the change-point tests' nulls: a warmup + cosine run's loss
speeds up while the rate anneals, a known shape that must not count as a transition. Both tests
(:mod:`toposcale.analysis.changepoint`, :mod:`toposcale.analysis.rebound`) take the schedule's lr decay at
the checkpoints (config ``transitions.anneal``)."""

from __future__ import annotations

import math

import numpy as np

#: Default of config ``transitions.anneal_max_share.loss`` (:func:`anneal_bound`); the topology sources have
#: none (their schedule response was not bounded by the constant-rate control).
ANNEAL_MAX_SHARE = 0.2


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


def anneal_bound(Y, anneal, share=ANNEAL_MAX_SHARE):
    """The largest coefficient ``c`` of the schedule term ``-c * anneal`` that the rate-rebound test's null
    fit may take for each row of ``Y`` (config ``transitions.anneal_max_share``): the annealing speed-up may
    explain at most ``share`` of the series' range, ``c * ptp(anneal) <= share * ptp(y)``. ``share``: one
    number, or one per row (NaN: unbounded, ``inf``). None where ``share`` or ``anneal`` is None (the
    coefficient is then only ``>= 0``).

    Why a bound: without one the null fit (:func:`toposcale.analysis.rebound.unimodal_rate_fit`) gives the
    schedule whatever a drop during the annealing phase needs. The lr decay ``1 - lr / lr_max`` of a cosine
    is itself a sigmoid centred at mid-training, so a stage drop there is absorbed: on the default study's
    val-loss series the unbounded fit attributes 0.35-2.3 nats to the schedule (up to 1.6 times the whole
    descent after the warmup), and swiglu-d40L2's bigram drops (steps 120-260 of 380) got p 0.018-0.036
    from the rebound test instead of 0.001.

    Why 0.2: measured, not tuned on the test. The 28 runs retrained with a constant rate after the warmup
    (``training.min_lr_frac: 1.0``) drop between the n-gram stages at nearly the same steps as under the
    cosine (the unigram->bigram crossing of the 20 runs that make it under both: step ratio 0.70-1.16,
    median 1.00, identical in 12), so the drops are not the schedule's. The speed-up the cosine buys, the
    constant-rate run's val loss minus the cosine run's at the same forward area (cumulative learning rate,
    Tissue et al. 2024), averaged over the last 10% of training, is 0.007-0.41 nats, 0.3%-13% of the
    series' range (median 2.0%; the 13% is gelu-d32L2-s0, whose run ends inside its drop, where matching by
    forward area shifts the drop; ``benchmarks/anneal_effect.py``). 0.2 leaves 1.5 times the largest. A
    schedule effect beyond the bound reads as a change: the cosine control at 0.2 of its range has FPR
    0.0-0.02, at 0.4 0.95-1.0 (``tests/test_anneal_bound.py``; the operating table's last transitions row).

    Only for the loss. The same control measured on the weight clouds' headline series (block-mean H0 / H1
    total persistence / scale) gives a difference at equal forward area of median 14% / 12% of their range
    and above 20% in 8 / 10 of the 28 runs (up to 66-68%; ``--series``): the decoupled weight decay of each
    step is lr x weight_decay, so the schedule acts on the weights directly (and one checkpoint of a
    topology series is noisier than the loss). The topology sources therefore keep an unbounded schedule
    term (config ``anneal_max_share``: ``weights`` and ``activations`` null) until a control bounds them.

    Examples
    --------
    >>> a = anneal_covariate([50, 100, 200, 400], 400)
    >>> anneal_bound(np.array([[3.0, 2.9, 2.5, 2.0]]), a, 0.2).round(3).tolist()
    [0.226]
    """
    if share is None or anneal is None:
        return None
    span = float(np.ptp(np.asarray(anneal, dtype=float)))
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    share = np.asarray(share, dtype=float) * np.ones(len(Y))
    bounded = np.isfinite(share)
    out = np.full(len(Y), np.inf)
    out[bounded] = share[bounded] * np.ptp(Y[bounded], axis=1) / span if span > 0 else 0.0
    return out


def source_shares(shares, sources) -> np.ndarray | None:
    """Per series, its source's ``anneal_max_share`` (config ``transitions.anneal_max_share``: a mapping
    source -> share or None; a plain number applies to every source): NaN where unbounded; None where no
    source has a bound."""
    if shares is None:
        return None
    if not isinstance(shares, dict):
        return np.full(len(sources), float(shares))
    out = np.array([np.nan if shares.get(s) is None else float(shares[s]) for s in sources], dtype=float)
    return None if np.isnan(out).all() else out
