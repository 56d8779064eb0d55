"""m-out-of-n subsampling of point clouds for confidence intervals of diagram metrics.

numpy only (plus the compiled persistence backend through :mod:`toposcale.topology.homology`). The
percentile interval of the resampled values is :func:`toposcale.stats.percentile_ci`.

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

__all__ = ["bootstrap_cloud", "subsample_indices", "subsample_interval"]


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


def subsample_interval(estimate: float, replicates, n: int, m: int, level: float = 0.95,
                       support: tuple[float, float] = (-np.inf, np.inf)) -> tuple[float, float]:
    """Confidence interval for an n-point statistic from its values on m-point subsamples.

    ``estimate + sqrt(m / (n - m)) * (q_lo - med, q_hi - med)`` with ``q_lo, q_hi`` the
    ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles and ``med`` the median of the finite
    ``replicates`` (delete-d jackknife scaling, Shao and Wu 1989; see the module docstring), clipped
    to the statistic's ``support`` (e.g. ``(0, inf)`` for total persistence, ``(1, inf)`` for an
    expansion ratio). Clipping matters for statistics driven by a few points, such as the scale (the
    longest MST edge, often set by one outlying text): subsamples with and without the outlier give
    a two-humped distribution whose scaled spread can cross the support's edge.
    Returns ``(nan, nan)`` when fewer than 2 replicates are finite or ``estimate`` is not finite.

    Examples
    --------
    Sample means of m = 80 of n = 100 standard normal points spread by ``sqrt(1/80 - 1/100)``; the
    interval recovers the n-point standard error ``1/sqrt(100) = 0.1``:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=100)
    >>> reps = [x[rng.choice(100, 80, replace=False)].mean() for _ in range(4000)]
    >>> lo, hi = subsample_interval(x.mean(), reps, 100, 80)
    >>> round((hi - lo) / (2 * 1.96), 2)
    0.1
    """
    if not 0 < m < n:
        raise ValueError(f"subsample_interval: need 0 < m < n, got m = {m}, n = {n}; "
                              f"use a subsample fraction below 1")
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    if reps.size < 2 or not np.isfinite(estimate):
        return float("nan"), float("nan")
    a = (1.0 - level) / 2.0
    q_lo, med, q_hi = np.quantile(reps, [a, 0.5, 1.0 - a])
    c = math.sqrt(m / (n - m))
    lo = min(max(estimate + c * (q_lo - med), support[0]), support[1])
    hi = min(max(estimate + c * (q_hi - med), support[0]), support[1])
    return float(lo), float(hi)
