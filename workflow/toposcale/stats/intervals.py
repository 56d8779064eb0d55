"""Intervals: the moving-block bootstrap, percentile and jackknife-t intervals, and the cluster interval rule."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def moving_block_bootstrap_indices(n: int, block_length: int, n_resamples: int, seed: int = 0) -> np.ndarray:
    """Index arrays of the moving-block bootstrap for a series of length ``n`` (Kuensch 1989).

    Each resample concatenates ``ceil(n / block_length)`` blocks ``[s, s + block_length)`` whose starts
    ``s`` are drawn uniformly from ``0 .. n - block_length`` and keeps the first ``n`` indices, so serial
    dependence shorter than a block is preserved.

    Returns
    -------
    numpy.ndarray of int, shape (n_resamples, n)
    """
    if n < 1:
        raise ValueError(f"n={n} must be positive")
    if not 1 <= block_length <= n:
        raise ValueError(f"block_length={block_length} must lie in [1, n={n}]")
    if n_resamples < 1:
        raise ValueError(f"n_resamples={n_resamples} must be positive")
    rng = np.random.default_rng(seed)
    n_blocks = -(-n // block_length)
    starts = rng.integers(0, n - block_length + 1, size=(n_resamples, n_blocks))
    idx = (starts[:, :, None] + np.arange(block_length)[None, None, :]).reshape(n_resamples, -1)
    return idx[:, :n]


def default_block_length(n: int) -> int:
    """``max(2, round(n ** (1/3)))``, capped at ``n``: the usual order for the moving-block bootstrap."""
    return int(min(n, max(2, round(n ** (1.0 / 3.0)))))


def percentile_ci(samples, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval ``(q_{(1-level)/2}, q_{(1+level)/2})`` of ``samples`` (linear interpolation).

    The one percentile interval of the project. NaN samples are dropped (a resample where the statistic
    is undefined); infinite samples are kept, so an unreachable target gives an infinite bound instead of
    silently narrowing the interval. Where linear interpolation leaves a bound undefined (it interpolates
    between two infinite samples, or gives an infinite sample zero weight), that bound is the nearest-rank
    quantile instead (``numpy.quantile(..., method="nearest")``). ``(nan, nan)`` when no sample is left.

    Examples
    --------
    >>> percentile_ci([1.0, 2.0, 3.0, 4.0, float("nan")], level=0.5)
    (1.75, 3.25)
    >>> percentile_ci([1.0, 2.0, float("inf"), float("inf")], level=0.5)
    (1.75, inf)
    """
    if not 0 < level < 1:
        raise ValueError(f"percentile_ci: level must lie in (0, 1), got {level!r}")
    s = np.asarray(samples, dtype=float).ravel()
    s = s[~np.isnan(s)]
    if len(s) == 0:
        return float("nan"), float("nan")
    q = [(1 - level) / 2, (1 + level) / 2]
    with np.errstate(invalid="ignore"):
        lo, hi = np.quantile(s, q)
    if np.isnan(lo) or np.isnan(hi):
        near = np.quantile(s, q, method="nearest")
        lo, hi = (near[0] if np.isnan(lo) else lo), (near[1] if np.isnan(hi) else hi)
    return float(lo), float(hi)


#: The interval of every verdict resting on a few clusters (model sizes): the size verdicts
#: (:func:`toposcale.analysis.scaling.topology_vs_size`) and the forecasting comparisons
#: (:func:`toposcale.analysis.forecast_summary.summarise_forecasts`). Why not the percentile cluster
#: bootstrap: over 6-7 sizes it under-covers (simulated coverage of its 95% interval of a log-log slope,
#: 7 sizes x 2 seeds clustered by size: 0.87-0.90; ``benchmarks/interval_coverage.py``), because a
#: resample of G clusters has on average only 1 - (1 - 1/G)**G = 66% of them distinct, which narrows
#: its spread; the jackknife-t interval of :func:`jackknife_t_ci` covers 0.93-0.96 there.
CLUSTER_INTERVAL = "jackknife_t"


def jackknife_t_ci(estimate: float, loo, df: int | None = None, level: float = 0.95) -> tuple[float, float]:
    """Jackknife-t interval ``estimate +- t_{df, (1+level)/2} * se_J`` from leave-one-out estimates.

    ``loo``: the statistic recomputed with each of ``G`` clusters (or values) left out in turn;
    ``se_J**2 = (G - 1) / G * sum_g (loo_g - mean(loo))**2`` is the jackknife variance (Efron and Stein
    1981; for a mean over equal clusters it is the variance of the cluster means / G, so the interval is
    the textbook t interval over cluster means). ``df`` defaults to ``G - 1``; pass ``G - p`` for a
    statistic fitted with ``p`` parameters (``G - 2`` for a slope). ``(nan, nan)`` when ``G < 2``,
    ``df < 1``, or ``estimate`` or any leave-one-out value is not finite.

    Examples
    --------
    >>> lo, hi = jackknife_t_ci(2.0, [2.5, 1.5, 2.0])
    >>> round(lo, 4), round(hi, 4)
    (-0.4841, 4.4841)
    """
    if not 0 < level < 1:
        raise ValueError(f"jackknife_t_ci: level must lie in (0, 1), got {level!r}")
    loo = np.asarray(loo, dtype=float).ravel()
    g = len(loo)
    df = g - 1 if df is None else int(df)
    if g < 2 or df < 1 or not np.isfinite(estimate) or not np.all(np.isfinite(loo)):
        return float("nan"), float("nan")
    se = math.sqrt((g - 1) / g * float(np.sum((loo - loo.mean()) ** 2)))
    half = float(stats.t.ppf((1 + level) / 2, df)) * se
    return float(estimate) - half, float(estimate) + half


def bootstrap_ci(values, statistic=np.mean, n_resamples: int = 2000, level: float = 0.95,
                 seed: int = 0, clusters=None, method: str = "percentile") -> tuple[float, float]:
    """Interval of ``statistic`` of the finite ``values``, by resampling clusters (or values).

    ``method="percentile"``: percentile bootstrap. Without ``clusters`` the values are resampled one by
    one (i.i.d.). With ``clusters`` (a label per value) each resample draws as many clusters as there
    are, with replacement, and takes every finite value of each drawn cluster (a cluster bootstrap:
    values that share a cluster, e.g. the runs of one held-out size, move together).

    ``method="jackknife_t"`` (:data:`CLUSTER_INTERVAL`, the one to use over a handful of clusters): the
    statistic with each cluster (or, without ``clusters``, each value) left out in turn, and
    :func:`jackknife_t_ci` on ``G - 1`` degrees of freedom; deterministic, ``n_resamples`` and ``seed``
    are not used.

    Returns NaNs when fewer than 2 finite values (or 2 clusters) are given (3 for ``jackknife_t``).

    Examples
    --------
    >>> v = [1.0, 1.0, 3.0, 3.0]
    >>> bootstrap_ci(v, n_resamples=500, clusters=["a", "a", "b", "b"]) == bootstrap_ci([1.0, 3.0], n_resamples=500)
    True
    >>> [round(b, 4) for b in bootstrap_ci([1.0, 2.0, 3.0, 4.0], method="jackknife_t")]
    [0.4457, 4.5543]
    """
    if method not in ("percentile", "jackknife_t"):
        raise ValueError(f"bootstrap_ci: method {method!r} unknown; use 'percentile' or 'jackknife_t'")
    v = np.asarray(values, dtype=float)
    finite = np.isfinite(v)
    labels = np.arange(len(v)) if clusters is None else np.asarray(clusters)
    labels, v = labels[finite], v[finite]
    levels = list(dict.fromkeys(labels.tolist()))           # first-seen order: reproducible draws
    if method == "jackknife_t":
        if len(levels) < 3:
            return float("nan"), float("nan")
        loo = [statistic(v[labels != lv]) for lv in levels]
        return jackknife_t_ci(statistic(v), loo, len(levels) - 1, level)
    if clusters is None:
        if len(v) < 2:
            return float("nan"), float("nan")
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(v), size=(n_resamples, len(v)))
        stats_ = np.array([statistic(v[i]) for i in idx])
        return percentile_ci(stats_, level)
    if len(levels) < 2:
        return float("nan"), float("nan")
    members = [v[labels == lv] for lv in levels]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(levels), size=(n_resamples, len(levels)))
    stats_ = np.array([statistic(np.concatenate([members[j] for j in row])) for row in idx])
    return percentile_ci(stats_, level)
