"""Simulated training curves with known answers, for the change-point test's operating characteristics.

One home for the curves the known-answer tests (``tests/test_changepoint.py``), the benchmark
(``benchmarks/changepoint_power.py``) and the registered check (:mod:`toposcale.operating.transitions`)
plant or use as negative controls. Every generator is vectorised over rows (Monte Carlo draws).

- :func:`power_decay`: ``E + A * step**(-alpha)``, a smooth decay with no transition.
- :func:`cosine_schedule_loss`: the loss a warmup + cosine learning-rate schedule gives, smooth in the
  schedule: ``E + A * S(t)**(-alpha) + c * lr(t) / lr_max`` with ``S(t)`` the cumulative learning rate
  (in units of ``lr_max`` steps) and the last term the learning-rate-proportional noise floor whose decay
  during annealing is the late speed-up (a known shape, not a transition); with ``offset`` the same
  law with a flat start (no cliff at the first steps, as the study's runs start).
- :func:`plateau_drop`: plateau, a logistic drop whose 10%-90% span is ``span`` checkpoints, plateau.
- :func:`staircase`: a real-like loss: a first descent from ln 256 to the unigram plateau, then a drop to
  the bigram level over several checkpoints (the default study's shape).
- :func:`annealing_drop`: the same in log step with a long plateau and the drop while the rate anneals
  (the default study's swiglu-d40L2 runs).
- :func:`ar1`: stationary AR(1) noise of marginal sd ``sigma``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit

from toposcale.analysis.ar1 import ar1_noise

#: ln(9): the logistic ``1 / (1 + exp(-u / s))`` goes from 10% to 90% over ``2 ln(9) s``.
_LN9 = math.log(9.0)


def ar1(n_draws: int, n: int, phi: float, sigma: float, rng) -> np.ndarray:
    """``(n_draws, n)`` stationary AR(1) noise with coefficient ``phi`` and marginal sd ``sigma``."""
    return sigma * ar1_noise(float(phi), (int(n_draws), int(n)), rng)


def power_decay(step, E: float = 1.6, A: float = 4.0, alpha: float = 0.35) -> np.ndarray:
    """``E + A * step**(-alpha)`` (nats), the smooth decay of a loss with no stage."""
    return E + A * np.asarray(step, dtype=float) ** (-alpha)


def cosine_lr(t, total: int, warmup_frac: float = 0.05, min_lr_frac: float = 0.1) -> np.ndarray:
    """Learning rate / lr_max at steps ``t``: linear warmup over ``warmup_frac * total`` steps, then a
    cosine from 1 to ``min_lr_frac`` at ``total`` (the training schedule of :mod:`toposcale.train`)."""
    t = np.asarray(t, dtype=float)
    wu = max(warmup_frac * total, 1.0)
    prog = np.clip((t - wu) / max(total - wu, 1.0), 0.0, 1.0)
    cos = min_lr_frac + (1.0 - min_lr_frac) * 0.5 * (1.0 + np.cos(math.pi * prog))
    return np.where(t < wu, t / wu, cos)


def cosine_schedule_loss(step, total: int, E: float = 1.6, L0: float = 5.545, alpha: float = 0.35,
                         anneal: float = 0.15, warmup_frac: float = 0.05, min_lr_frac: float = 0.1,
                         offset: float = 0.0) -> np.ndarray:
    """Loss at ``step`` under warmup + cosine: ``E + A * S**(-alpha) + anneal * lr / lr_max``, with ``S`` the
    cumulative learning rate in lr_max-steps (``S = sum_{u <= step} lr(u) / lr_max``) and ``A`` such that the
    loss at step 1 is ``L0`` (ln 256: a uniform byte model). The annealing term falls by
    ``anneal * (1 - min_lr_frac)`` (default 0.135 nats) over the cosine: the late speed-up.

    ``offset`` > 0 gives the *flat start*: ``E + A * (S + offset)**(-alpha) + anneal * lr / lr_max`` with
    ``A = (L0 - E) * offset**alpha`` (the loss is ``L0`` at step 0, where ``S = 0``), still smooth in the
    cumulative learning rate, but with no cliff at the first steps: with ``offset`` 1 it falls as the default
    study's d64 runs do while their learning rate warms up (5.52, 5.40, 5.20, 4.87 nats at steps 1, 3, 5, 8 of
    968; gelu-d64L2-s0: 5.54, 5.45, 5.29, 5.05). In log step that start is a plateau followed by a descent.

    Examples
    --------
    >>> s = np.array([1, 3, 5, 8, 968])
    >>> cosine_schedule_loss(s, 968).round(2).tolist()
    [5.54, 3.71, 3.14, 2.75, 1.73]
    >>> cosine_schedule_loss(s, 968, offset=1.0).round(2).tolist()
    [5.52, 5.4, 5.2, 4.87, 2.05]
    """
    step = np.asarray(step, dtype=float)
    t = np.arange(1, total + 1)
    lr = cosine_lr(t, total, warmup_frac, min_lr_frac)
    cum = np.cumsum(lr)
    s = np.interp(step, np.r_[0, t], np.r_[0.0, cum])
    if offset > 0:
        A, s = (L0 - E) * offset ** alpha, s + offset
    else:
        A = (L0 - E - anneal * lr[0]) * cum[0] ** alpha
    return E + A * s ** (-alpha) + anneal * cosine_lr(step, total, warmup_frac, min_lr_frac)


def plateau_drop(n: int, centre, drop: float, span: float = 3.0, level: float = 3.05) -> np.ndarray:
    """Rows ``level - drop * logistic((i - centre) / s)`` over checkpoint index ``i = 0..n-1``, with ``s``
    such that the drop's 10%-90% part spans ``span`` checkpoints; ``centre`` one value per row (the
    midpoint, the location a detector must find)."""
    centre = np.atleast_1d(np.asarray(centre, dtype=float))
    s = span / (2.0 * _LN9)
    i = np.arange(n)[None, :]
    return level - drop * expit((i - centre[:, None]) / s)


def staircase(n: int, centre, span, first_centre: float | None = None, first_span: float | None = None,
              levels=(5.545, 3.05, 2.3)) -> np.ndarray:
    """Rows ``levels[0] - (levels[0] - levels[1]) * logistic_1(i) - (levels[1] - levels[2]) * logistic_2(i)``
    over checkpoint index ``i``: the first descent (10%-90% over ``first_span`` checkpoints, default
    ``0.2 n``, centred at ``first_centre``, default ``0.25 n``) and the second drop centred at ``centre``
    spanning ``span`` checkpoints (10%-90%; one value per row each). Defaults: ln 256 -> the unigram
    plateau 3.05 -> the bigram level 2.3 nats (issue 21's levels)."""
    centre = np.atleast_1d(np.asarray(centre, dtype=float))
    span = np.broadcast_to(np.asarray(span, dtype=float), centre.shape)
    fc = 0.25 * n if first_centre is None else first_centre
    fs = 0.2 * n if first_span is None else first_span
    i = np.arange(n)[None, :]
    a, b, c = levels
    first = expit((i - fc) / (fs / (2.0 * _LN9)))
    second = expit((i - centre[:, None]) / (span[:, None] / (2.0 * _LN9)))
    return a - (a - b) * first - (b - c) * second


def cosine_speed_up(step, total: int, share: float, min_lr_frac: float = 0.1) -> np.ndarray:
    """:func:`cosine_schedule_loss` whose annealing term falls by ``share`` of the range (over ``step``) of the
    same loss without it: the schedule's late speed-up at a given share of the curve, e.g. at the largest the
    rate-rebound null admits (:func:`toposcale.analysis.lr_schedule.anneal_bound`)."""
    base = np.ptp(cosine_schedule_loss(step, total, anneal=0.0, min_lr_frac=min_lr_frac))
    return cosine_schedule_loss(step, total, anneal=share * base / (1.0 - min_lr_frac), min_lr_frac=min_lr_frac)


def annealing_drop(step, first=(12.0, 35.0), drop=(130.0, 260.0), levels=(5.545, 3.05, 2.3)) -> np.ndarray:
    """The default study's late bigram drop (swiglu-d40L2 of 380 steps): in log step, a first descent
    from ``levels[0]`` to the unigram plateau ``levels[1]`` whose 10%-90% part runs over steps ``first``,
    the plateau, and a drop to ``levels[2]`` over steps ``drop`` (10%-90%), both logistic in log step.
    At the default study's 32 checkpoints of a 380-step run the plateau holds 8 and the drop 6, and the
    drop comes while the learning rate anneals (training fraction 0.34-0.68; swiglu-d40L2-s0's drop holds 8
    checkpoints between steps 140 and about 260): the shape a schedule term in the null can absorb
    (:func:`toposcale.analysis.lr_schedule.anneal_bound`).

    Examples
    --------
    >>> annealing_drop(np.array([1, 22, 80, 185, 380])).round(2).tolist()
    [5.54, 4.12, 3.06, 2.67, 2.31]
    """
    x = np.log(np.asarray(step, dtype=float))
    a, b, c = levels

    def fall(lo, hi):
        return expit((x - math.log(math.sqrt(lo * hi))) / (math.log(hi / lo) / (2.0 * _LN9)))

    return a - (a - b) * fall(*first) - (b - c) * fall(*drop)


def study_schedules(total: int = 4336, n_log: int = 25, n_linear: int = 15,
                    n_study_linear: int = 8) -> dict[str, np.ndarray]:
    """Checkpoint steps (> 0): ``'log'`` the default config's log-spaced schedule
    (:func:`toposcale.plan.study.checkpoint_steps`, 26 steps at 4336 total), ``'study'`` the default
    study's schedule (the same plus ``n_study_linear`` = ``train.n_linear_checkpoints`` linearly spaced
    steps, 32 at 4336 total), ``'log+linear'`` a denser one (plus ``n_linear`` linear steps, 39): the
    densities the tests and benchmarks are written against."""
    from toposcale.plan.study import checkpoint_steps

    log = np.array([s for s in checkpoint_steps(total, n_log) if s > 0], dtype=float)

    def plus_linear(n):
        return np.unique(np.r_[log, np.round(np.linspace(total / n, total, n))])

    return {"log": log, "study": plus_linear(n_study_linear), "log+linear": plus_linear(n_linear)}


#: The settings of the known-answer simulations: negative controls and the planted drop.
KINDS = ("power_decay", "cosine", "plateau_drop")


def simulate(kind: str, step, phi: float, n_draws: int, rng, *, sigma: float = 0.02, drop_sd: float = 5.0,
             span: float = 3.0, total: int | None = None, first: int = 0):
    """``(Y, centres)``: ``n_draws`` noisy curves of ``kind`` at checkpoint ``step`` with AR(1) noise
    (``phi``, marginal sd ``sigma``). ``'plateau_drop'`` plants a drop of ``drop_sd * sigma`` whose 10%-90%
    part spans ``span`` checkpoints, centred uniformly in the middle 30%-80% of the checkpoints from index
    ``first`` on (default all; ``centres``: the midpoints); ``'staircase'`` a :func:`staircase` whose second drop (3.05 -> 2.3 nats) spans 4-6
    checkpoints (uniform) centred uniformly at 50%-75% of the checkpoints; the others have ``centres`` None. ``total`` (default the last step) is the run length
    of the cosine schedule."""
    step = np.asarray(step, dtype=float)
    n = len(step)
    noise = ar1(n_draws, n, phi, sigma, rng)
    if kind == "power_decay":
        return power_decay(step)[None, :] + noise, None
    if kind == "cosine":
        return cosine_schedule_loss(step, int(total or step[-1]))[None, :] + noise, None
    if kind == "plateau_drop":
        centres = first + rng.uniform(0.3 * (n - 1 - first), 0.8 * (n - 1 - first), n_draws)
        return plateau_drop(n, centres, drop_sd * sigma, span) + noise, centres
    if kind == "staircase":
        centres = rng.uniform(0.5 * (n - 1), 0.75 * (n - 1), n_draws)
        return staircase(n, centres, rng.uniform(4.0, 6.0, n_draws)) + noise, centres
    raise ValueError(f"kind={kind!r}; use one of {KINDS + ('staircase',)}")


def rejection_rates(results, centres=None) -> dict:
    """Rates over a batch of :func:`toposcale.analysis.changepoint.change_points_batch` results, each with
    its Monte Carlo standard error: ``reject`` (first scan ``p < significance``, i.e. at least one change
    point) and, with the planted ``centres``, ``located`` (a change point within one checkpoint of the
    midpoint)."""
    from toposcale.operating.characteristics import proportion

    rej = np.array([bool(r["change_points"]) for r in results])
    out = {"n": len(results), "reject": proportion(int(rej.sum()), len(rej))}
    if centres is not None:
        hit = [any(abs(c - m) <= 1.0 for c in r["change_points"]) for r, m in zip(results, centres)]
        out["located"] = proportion(int(np.sum(hit)), len(hit))
    return out
