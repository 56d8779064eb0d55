"""m-out-of-n subsampling of point clouds, and intervals of diagram metrics from the subsample values.

numpy only at import (plus the compiled persistence backend through :mod:`toposcale.topology.homology`).
The percentile interval of the resampled values is :func:`toposcale.stats.percentile_ci`; which interval
suits which statistic is in :func:`subsample_interval`.

Resamples are drawn **without replacement**. Drawing with replacement (the classical bootstrap)
duplicates points, and every duplicate adds a zero-length H0 bar and removes a positive one: H0
deaths, total persistence and the cloud's scale would be biased downwards. Without replacement,
each resample is an ordinary ``m``-point cloud, so the intervals describe the metric of an
``m``-point subsample (``m = round(fraction * n)``); counts and sums such as ``n_bars`` and
``total_persistence`` scale with ``m`` and are smaller than for the full cloud, while lifetimes of
large features (a circle's H1 bar) are close to the full-cloud value.
"""

from __future__ import annotations

import math

import numpy as np

from toposcale.topology.distances import CloudError, pairwise_distances, validate_cloud
from toposcale.topology.homology import rips_persistence_from_distances
from toposcale.topology.metrics import cloud_baselines, diagram_metrics, diagram_scale

__all__ = ["INTERVAL_METHODS", "bootstrap_cloud", "subsample_indices", "subsample_interval"]


def subsample_indices(n: int, m: int, n_resamples: int, seed: int) -> np.ndarray:
    """Indices of ``n_resamples`` subsamples of size ``m`` drawn without replacement from ``range(n)``.

    Parameters
    ----------
    n, m : int
        Population and subsample sizes, ``1 <= m <= n``.
    n_resamples : int
        Number of subsamples, >= 1.
    seed : int
        Seed of ``numpy.random.default_rng``; the same arguments always give the same indices.

    Returns
    -------
    numpy.ndarray, shape (n_resamples, m), int64
        Each row holds ``m`` distinct indices, sorted ascending.
    """
    n, m, n_resamples = int(n), int(m), int(n_resamples)
    if not 1 <= m <= n:
        raise ValueError(f"subsample_indices: need 1 <= m <= n, got m={m}, n={n}")
    if n_resamples < 1:
        raise ValueError(f"subsample_indices: n_resamples must be >= 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    rows = [np.sort(rng.choice(n, size=m, replace=False)) for _ in range(n_resamples)]
    return np.asarray(rows, dtype=np.int64).reshape(n_resamples, m)


def bootstrap_cloud(
    X,
    n_resamples: int = 100,
    fraction: float = 0.8,
    seed: int = 0,
    max_dim: int = 1,
    backend: str = "auto",
    noise_fraction: float = 0.05,
    where: str = "bootstrap_cloud",
) -> list[dict]:
    """Diagram metrics and baselines of ``n_resamples`` subsamples of a point cloud.

    Each resample keeps ``m = round(fraction * n)`` distinct points (config
    ``topology.bootstrap.fraction``; at least 3), computes its Vietoris-Rips diagrams exactly
    (:func:`toposcale.topology.homology.rips_persistence_from_distances` on the submatrix of the full
    distance matrix) and summarises them with the resample's own scale.

    Parameters
    ----------
    X : array_like, shape (n, d)
    n_resamples : int
        Config ``topology.bootstrap.n_resamples``.
    fraction : float
        In (0, 1].
    seed : int
        Seed of the subsample indices (:func:`subsample_indices`).
    max_dim, backend : see :func:`toposcale.topology.homology.rips_persistence`.
    noise_fraction : float
        Config ``topology.noise_fraction``.
    where : str
        Names the cloud in error messages.

    Returns
    -------
    list of dict
        One dict per resample: ``resample`` (0-based), ``n_points`` (= m), ``scale`` (largest
        finite H0 death of the resample), the 16 keys of
        :data:`toposcale.topology.metrics.METRIC_COLUMNS` and the keys of
        :data:`toposcale.topology.metrics.BASELINE_COLUMNS`.
    """
    X = validate_cloud(X, where)
    if not 0 < fraction <= 1:
        raise ValueError(f"{where}: fraction must lie in (0, 1], got {fraction!r}")
    n = X.shape[0]
    m = int(round(fraction * n))
    if m < 3:
        raise CloudError(
            f"{where}: fraction={fraction} of {n} points leaves {m} point(s) per resample, at least 3 "
            "are needed; raise topology.bootstrap.fraction or use a larger cloud"
        )
    D = pairwise_distances(X)
    rows = []
    for r, idx in enumerate(subsample_indices(n, m, n_resamples, seed)):
        sub = D[np.ix_(idx, idx)]
        dg = rips_persistence_from_distances(sub, max_dim=max_dim, backend=backend, where=f"{where} resample {r}")
        scale = diagram_scale(dg.h0)
        row = {"resample": r, "n_points": m, "scale": scale}
        row.update(diagram_metrics(dg.h0, dg.h1, scale=scale, noise_fraction=noise_fraction))
        row.update(cloud_baselines(X[idx], D=sub))
        rows.append(row)
    return rows


#: The methods of :func:`subsample_interval`.
INTERVAL_METHODS = ("percentile", "rescaled")


def subsample_interval(estimate: float, replicates, n: int, m: int, level: float = 0.95,
                       support: tuple[float, float] = (-np.inf, np.inf), *, method: str) -> tuple[float, float]:
    """Interval for a statistic from its values on m-point subsamples of the n data points.

    ``method`` is chosen by the caller for each statistic (no default):

    ``"percentile"``
        ``(q_lo, q_hi)``, the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the finite
        ``replicates`` (:func:`toposcale.stats.percentile_ci`), with no rescaling and no centring: the
        central ``level`` range of the statistic over the drawn m-point subsamples of the data, i.e.
        how far the statistic moves when ``n - m`` of the ``n`` points are left out. It is not a
        confidence interval for the n-point value with guaranteed coverage. For ``m / n -> 0`` it
        estimates the central range of the statistic's sampling distribution at size ``m`` without
        knowing the statistic's convergence rate (the U-statistic argument of Politis, Romano and Wolf,
        *Subsampling*, Springer 1999, section 2.2, which needs no rate before the subsample values are
        centred and scaled); at a fixed fraction such as ``m / n = 0.8`` the subsamples share most of
        their points and the range is narrower than that sampling distribution. It describes the
        statistic at ``m`` points: a sum that grows with the number of points (H0 total persistence,
        bar counts) lies below its n-point value, and a maximum (the scale, a longest bar) never
        exceeds its n-point value when its points are kept. This is the method for every diagram
        metric, for the scale (a maximum), for scale-normalised metrics (divided by a maximum) and for
        ratios of them such as the expansion ratio (a maximum over layers): none is a smooth
        statistic, and their rate of convergence is not known, so the subsampling confidence interval
        of Politis and Romano (which needs that rate) is not available.
    ``"rescaled"``
        ``estimate + sqrt(m / (n - m)) * (q_lo - med, q_hi - med)`` with ``med`` the median of the
        replicates: the delete-d jackknife scaling (Shao and Wu, Ann. Statist. 17:1176, 1989), valid
        for smooth (root-n, asymptotically normal) statistics such as means, whose variance at
        subsample size m is ``sigma^2 (1/m - 1/n)`` without replacement. Not valid for maxima: for the
        maximum of uniform samples its upper end is the sample maximum (see
        ``tests/test_subsample_intervals.py`` for its coverage).

    Either interval is clipped to the statistic's ``support`` (e.g. ``(0, inf)`` for total
    persistence, ``(1, inf)`` for an expansion ratio). Returns ``(nan, nan)`` when fewer than 2
    replicates are finite or ``estimate`` is not finite.

    Examples
    --------
    Sample means of m = 80 of n = 100 standard normal points spread by ``sqrt(1/80 - 1/100)``; the
    rescaled interval recovers the n-point standard error ``1/sqrt(100) = 0.1``, the percentile
    interval is the half-as-wide spread at m = 80 with the finite-population correction:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=100)
    >>> reps = [x[rng.choice(100, 80, replace=False)].mean() for _ in range(4000)]
    >>> lo, hi = subsample_interval(x.mean(), reps, 100, 80, method="rescaled")
    >>> round((hi - lo) / (2 * 1.96), 2)
    0.1
    >>> lo, hi = subsample_interval(x.mean(), reps, 100, 80, method="percentile")
    >>> round((hi - lo) / (2 * 1.96), 2)
    0.05
    """
    if method not in INTERVAL_METHODS:
        raise ValueError(f"subsample_interval: method must be one of {INTERVAL_METHODS}, got {method!r}")
    if not 0 < m < n:
        raise ValueError(f"subsample_interval: need 0 < m < n, got m = {m}, n = {n}; "
                         f"use a subsample fraction below 1")
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    if reps.size < 2 or not np.isfinite(estimate):
        return float("nan"), float("nan")
    if method == "percentile":
        from toposcale.stats import percentile_ci  # here, not at the top: this module imports numpy only

        lo, hi = percentile_ci(reps, level)
    else:
        a = (1.0 - level) / 2.0
        q_lo, med, q_hi = np.quantile(reps, [a, 0.5, 1.0 - a])
        c = math.sqrt(m / (n - m))
        lo, hi = estimate + c * (q_lo - med), estimate + c * (q_hi - med)
    lo = min(max(lo, support[0]), support[1])
    hi = min(max(hi, support[0]), support[1])
    return float(lo), float(hi)
