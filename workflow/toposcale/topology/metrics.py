"""Summaries of persistence diagrams, Betti curves, neural persistence and non-topological baselines.

numpy only (plus :mod:`toposcale.topology.distances`). Definitions (DESIGN.md section 5):

* A *bar* is a row ``(birth, death)`` of a diagram; its *lifetime* is ``death - birth`` in the units of
  the point cloud's coordinates (Euclidean distance; Rips filtration values are diameters).
* Every summary is taken over the **finite bars with lifetime > 0** only. The essential H0 bar
  ``(0, inf)`` is excluded (never replaced by a constant), and so are zero-length bars (a duplicated
  point gives an H0 bar ``(0, 0)``; it is not persistence).
* The *scale* of a cloud is its largest finite H0 death (the longest minimum-spanning-tree edge,
  :func:`diagram_scale`). ``*_norm`` metrics are divided by it (0 when the scale is 0), because raw
  persistence mostly follows the weight or activation norm.
"""

from __future__ import annotations

import numpy as np

from toposcale.topology.distances import pairwise_distances

__all__ = [
    "BAR_METRICS",
    "METRIC_COLUMNS",
    "BASELINE_COLUMNS",
    "bar_metrics",
    "betti_curve",
    "betti_curves",
    "cloud_baselines",
    "diagram_metrics",
    "diagram_scale",
    "neural_persistence",
]

#: Keys of :func:`bar_metrics`, in column order.
BAR_METRICS = (
    "total_persistence",
    "total_persistence_norm",
    "max_lifetime",
    "max_lifetime_norm",
    "n_bars",
    "n_significant",
    "entropy",
    "entropy_norm",
)

#: Keys of :func:`diagram_metrics` (the metric columns of ``results/metrics/{run}.parquet``).
METRIC_COLUMNS = tuple(f"{dim}_{name}" for dim in ("h0", "h1") for name in BAR_METRICS)

#: Keys of :func:`cloud_baselines`.
BASELINE_COLUMNS = ("frobenius_norm", "total_variance", "mean_pairwise_distance")


def _as_bars(bars, name: str = "bars") -> np.ndarray:
    arr = np.asarray(bars, dtype=np.float64)
    if arr.size == 0:
        return np.empty((0, 2), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name}: expected an array of (birth, death) rows with shape (k, 2), got {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name}: contains NaN; diagrams must have numeric births and deaths")
    if (arr[:, 1] < arr[:, 0]).any():
        bad = int((arr[:, 1] < arr[:, 0]).sum())
        raise ValueError(f"{name}: {bad} bar(s) die before they are born (death < birth)")
    return arr


def _lifetimes(bars) -> np.ndarray:
    """Lifetimes of the finite bars with positive lifetime."""
    arr = _as_bars(bars)
    life = arr[:, 1] - arr[:, 0]
    return life[np.isfinite(life) & (life > 0)]


def diagram_scale(h0) -> float:
    """Scale of a cloud: its largest finite H0 death (longest MST edge); 0.0 if there is none.

    Parameters
    ----------
    h0 : array_like, shape (k, 2)
        H0 diagram; the infinite bar is ignored.
    """
    arr = _as_bars(h0, "h0")
    deaths = arr[:, 1][np.isfinite(arr[:, 1])]
    return float(deaths.max()) if deaths.size else 0.0


def _safe_div(value: float, scale: float) -> float:
    return float(value / scale) if scale > 0 else 0.0


def bar_metrics(bars, scale: float, noise_fraction: float = 0.05) -> dict:
    """Summaries of one diagram, over its finite bars with lifetime ``l = death - birth > 0``.

    Parameters
    ----------
    bars : array_like, shape (k, 2)
        ``(birth, death)`` rows; infinite and zero-length bars are ignored.
    scale : float
        The cloud's scale (:func:`diagram_scale`), >= 0.
    noise_fraction : float
        A bar is significant when ``l > noise_fraction * scale``.

    Returns
    -------
    dict
        ``total_persistence`` = sum of ``l``; ``max_lifetime`` = max of ``l`` (0 with no bars);
        ``n_bars`` = number of bars counted; ``n_significant`` = number with ``l > noise_fraction *
        scale``; ``entropy`` = ``-sum p log p`` with ``p = l / sum(l)`` (natural log, nats; 0 with no
        bars); ``entropy_norm`` = ``entropy / log(n_bars)`` in [0, 1] (0 when ``n_bars < 2``);
        ``total_persistence_norm`` and ``max_lifetime_norm`` = the raw values divided by ``scale``
        (0 when ``scale == 0``). Lengths are in the cloud's coordinate units.
    """
    scale = float(scale)
    if not np.isfinite(scale) or scale < 0:
        raise ValueError(f"bar_metrics: scale must be a finite number >= 0, got {scale!r}")
    if not 0 <= noise_fraction <= 1:
        raise ValueError(f"bar_metrics: noise_fraction must lie in [0, 1], got {noise_fraction!r}")
    life = _lifetimes(bars)
    n = int(life.size)
    total = float(life.sum()) if n else 0.0
    longest = float(life.max()) if n else 0.0
    if n:
        p = life / total
        entropy = float(-(p * np.log(p)).sum())
    else:
        entropy = 0.0
    return {
        "total_persistence": total,
        "total_persistence_norm": _safe_div(total, scale),
        "max_lifetime": longest,
        "max_lifetime_norm": _safe_div(longest, scale),
        "n_bars": n,
        "n_significant": int((life > noise_fraction * scale).sum()),
        "entropy": entropy,
        "entropy_norm": float(entropy / np.log(n)) if n >= 2 else 0.0,
    }


def diagram_metrics(h0, h1, scale: float | None = None, noise_fraction: float = 0.05) -> dict:
    """All metric columns of one cloud: :func:`bar_metrics` of H0 and H1, keys prefixed ``h0_``/``h1_``.

    Parameters
    ----------
    h0, h1 : array_like, shape (k, 2)
        Diagrams (``h1`` may be empty when only H0 was computed).
    scale : float, optional
        Defaults to :func:`diagram_scale` of ``h0``; the same scale normalises both dimensions.
    noise_fraction : float
        See :func:`bar_metrics` (config ``topology.noise_fraction``).

    Returns
    -------
    dict
        The 16 keys of :data:`METRIC_COLUMNS`.
    """
    if scale is None:
        scale = diagram_scale(h0)
    out = {}
    for dim, bars in (("h0", h0), ("h1", h1)):
        for key, value in bar_metrics(bars, scale, noise_fraction).items():
            out[f"{dim}_{key}"] = value
    return out


def betti_curve(bars, grid) -> np.ndarray:
    """Betti numbers on a grid: ``beta(t) = #{bars with birth <= t < death}``.

    Infinite bars count at every ``t >= birth``; zero-length bars never count.

    Parameters
    ----------
    bars : array_like, shape (k, 2)
    grid : array_like, shape (g,)
        Filtration values (same units as the bars).

    Returns
    -------
    numpy.ndarray, shape (g,), int64
    """
    arr = _as_bars(bars)
    grid = np.asarray(grid, dtype=np.float64)
    births = np.sort(arr[:, 0])
    deaths = np.sort(arr[:, 1])
    # death >= birth, so {death <= t} is a subset of {birth <= t}
    alive = np.searchsorted(births, grid, side="right") - np.searchsorted(deaths, grid, side="right")
    return alive.astype(np.int64)


def betti_curves(h0, h1, scale: float, grid_max: float = 1.5, grid_size: int = 64) -> dict:
    """Scale-normalised Betti curves of H0 and H1 on a shared grid.

    The grid is ``linspace(0, grid_max, grid_size)`` in units of ``scale`` (config keys
    ``topology.betti_grid_max`` and ``topology.betti_grid_size``), i.e. the curves are evaluated at
    filtration values ``u * scale``. With ``scale == 0`` all filtration values are 0.

    Returns
    -------
    dict
        ``grid`` (float64, in units of scale), ``betti0`` and ``betti1`` (int64).
    """
    if grid_size < 2 or not grid_max > 0:
        raise ValueError(f"betti_curves: need grid_size >= 2 and grid_max > 0, got {grid_size}, {grid_max}")
    grid = np.linspace(0.0, float(grid_max), int(grid_size))
    values = grid * float(scale)
    return {"grid": grid, "betti0": betti_curve(h0, values), "betti1": betti_curve(h1, values)}


def _maximum_spanning_tree_bipartite(A: np.ndarray) -> np.ndarray:
    """Edge weights of a maximum spanning tree of the complete bipartite graph with weights ``A``.

    Vertices are the rows and the columns of ``A``; edge (r, c) has weight ``A[r, c]``. Prim's
    algorithm, ``O((R + C) * max(R, C))``. Returns the ``R + C - 1`` tree edge weights.
    """
    R, C = A.shape
    row_in = np.zeros(R, dtype=bool)
    col_in = np.zeros(C, dtype=bool)
    row_best = np.full(R, -np.inf)
    col_best = A[0].astype(np.float64).copy()
    row_in[0] = True
    row_best[0] = -np.inf
    weights = np.empty(R + C - 1, dtype=np.float64)
    for k in range(R + C - 1):
        r = int(np.argmax(row_best))
        c = int(np.argmax(col_best))
        if row_best[r] >= col_best[c]:
            weights[k] = row_best[r]
            row_in[r] = True
            row_best[r] = -np.inf
            np.maximum(col_best, A[r], out=col_best, where=~col_in)
        else:
            weights[k] = col_best[c]
            col_in[c] = True
            col_best[c] = -np.inf
            np.maximum(row_best, A[:, c], out=row_best, where=~row_in)
    return weights


def neural_persistence(W) -> float:
    """Normalised neural persistence of one weight matrix (Rieck et al., ICLR 2019).

    Definition used here: the layer is the complete bipartite graph ``G`` on its ``R`` output neurons
    (rows of ``W``) and ``C`` input neurons (columns), ``|V| = R + C``. Edge weights are normalised
    to ``w' = |w| / max|W|`` in [0, 1]. In the descending filtration (edges enter from ``w' = 1`` down
    to 0, all vertices present from the start) the zero-dimensional persistence pairs are
    ``(1, w'_e)`` for the ``|V| - 1`` edges ``e`` of a maximum spanning tree, with lifetimes
    ``1 - w'_e``. Neural persistence is ``NP = ||(1 - w'_e)_e||_2``; it lies in
    ``[0, sqrt(|V| - 1)]``, and the returned normalised value is ``NP / sqrt(|V| - 1)`` in [0, 1].
    The essential component is not counted.

    Parameters
    ----------
    W : array_like, shape (R, C)
        Weight matrix (``nn.Linear.weight`` layout: rows = outputs, columns = inputs).

    Returns
    -------
    float
        Normalised neural persistence; 0.0 for an all-zero matrix (normalisation undefined).
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] < 1 or W.shape[1] < 1:
        raise ValueError(f"neural_persistence: W must be a non-empty 2-D weight matrix, got shape {W.shape}")
    if not np.isfinite(W).all():
        raise ValueError(f"neural_persistence: W contains {int((~np.isfinite(W)).sum())} NaN/Inf value(s)")
    A = np.abs(W)
    top = A.max()
    if top == 0:
        return 0.0
    tree = _maximum_spanning_tree_bipartite(A / top)
    life = 1.0 - tree
    return float(np.sqrt((life**2).sum()) / np.sqrt(tree.size))


def cloud_baselines(X, D=None) -> dict:
    """Non-topological baselines of a point cloud.

    Parameters
    ----------
    X : array_like, shape (n, d)
    D : array_like, shape (n, n), optional
        Its Euclidean distance matrix, if already computed.

    Returns
    -------
    dict
        ``frobenius_norm`` = ``sqrt(sum_ij X_ij^2)`` (uncentred); ``total_variance`` = sum over
        coordinates of the population variance (``ddof=0``), i.e. the mean squared distance to the
        centroid; ``mean_pairwise_distance`` = mean Euclidean distance over the ``n(n-1)/2`` pairs
        ``i < j`` (NaN when ``n < 2``).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"cloud_baselines: X must be 2-D (n_points, n_dims), got shape {X.shape}")
    n = X.shape[0]
    if n >= 2:
        if D is None:
            D = pairwise_distances(X)
        D = np.asarray(D, dtype=np.float64)
        mean_dist = float((D.sum() - np.trace(D)) / (n * (n - 1)))  # symmetric: mean over i < j
    else:
        mean_dist = float("nan")
    return {
        "frobenius_norm": float(np.sqrt(np.einsum("ij,ij->", X, X))),
        "total_variance": float(X.var(axis=0).sum()) if n else float("nan"),
        "mean_pairwise_distance": mean_dist,
    }
