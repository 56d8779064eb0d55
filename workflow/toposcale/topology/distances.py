"""Point clouds as the homology code sees them: input checks, Euclidean distances, and H0.

numpy only (this module is on the per-layer persistence path).

* :func:`validate_cloud` turns a point cloud into a finite float64 ``(n_points, n_dims)`` array or
  raises :class:`CloudError` naming the cloud and the problem.
* :func:`pairwise_distances` is the Euclidean distance matrix, accurate to a relative error of order
  1e-12 (duplicated points are exactly 0 apart).
* :func:`h0_mst` is H0 of the Vietoris-Rips filtration, computed exactly in float64: the finite H0
  deaths are the ``n - 1`` edge lengths of a Euclidean minimum spanning tree (Prim's algorithm).
"""

from __future__ import annotations

import numpy as np

__all__ = ["CloudError", "h0_mst", "pairwise_distances", "validate_cloud"]


class CloudError(ValueError):
    """A point cloud that cannot be analysed (wrong shape, too few points, NaN or Inf)."""


def validate_cloud(X, where: str, min_points: int = 3) -> np.ndarray:
    """Check a point cloud and return it as a float64 2-D array.

    Parameters
    ----------
    X : array_like, shape (n_points, n_dims)
        One point per row.
    where : str
        Names the cloud in error messages (e.g. ``"gelu-d64L4-s0 step0000100 weights block00"``).
    min_points : int
        Fewest points accepted (3 by default; :func:`toposcale.topology.homology.rips_persistence`
        accepts any non-empty cloud, ``min_points=1``).

    Returns
    -------
    numpy.ndarray
        ``X`` as a float64 array (a copy only if a conversion was needed).

    Raises
    ------
    CloudError
        If ``X`` is not 2-D, has fewer than ``min_points`` points (3 by default), has 0 coordinates
        per point, or contains NaN or Inf (the message says how many and in which rows). Clouds whose
        points are all identical are allowed.
    """
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CloudError(f"{where}: point cloud is not numeric ({exc})") from exc
    if arr.ndim != 2:
        raise CloudError(
            f"{where}: point cloud must be 2-D (n_points, n_dims), got shape {arr.shape}; "
            "reshape it so that each row is one point"
        )
    n = arr.shape[0]
    if n < min_points:
        raise CloudError(
            f"{where}: point cloud has {n} point(s), at least {min_points} are needed; "
            "use a layer or probe set with more points"
        )
    if arr.shape[1] == 0:
        raise CloudError(f"{where}: point cloud has 0 coordinates per point (shape {arr.shape})")
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(bad.sum()) - n_nan
        shown = ", ".join(str(r) for r in rows[:10]) + (", ..." if rows.size > 10 else "")
        raise CloudError(
            f"{where}: point cloud of shape {arr.shape} has {n_nan} NaN and {n_inf} Inf value(s) "
            f"in {rows.size} row(s) (rows {shown}); the model or extraction produced non-finite "
            "values, fix them upstream rather than dropping points"
        )
    return arr


def pairwise_distances(X) -> np.ndarray:
    """Euclidean distance matrix of a point cloud.

    Computed with the Gram identity ``|x - y|^2 = |x|^2 + |y|^2 - 2 x.y`` on the centred cloud (one
    BLAS call), clipped at 0. Where that identity loses accuracy to cancellation (squared distance
    below ``1e-4`` of ``|x|^2 + |y|^2``, e.g. near-duplicate points) the entry is recomputed from the
    coordinate differences, so every entry has a relative error of order 1e-12 or better and
    duplicated points are exactly 0 apart.

    Parameters
    ----------
    X : array_like, shape (n, d)

    Returns
    -------
    numpy.ndarray, shape (n, n), float64
        Symmetric, zero diagonal, non-negative.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise CloudError(f"pairwise_distances: expected a 2-D array, got shape {X.shape}")
    Xc = X - X.mean(axis=0)
    sq = np.einsum("ij,ij->i", Xc, Xc)
    D2 = Xc @ Xc.T  # numpy uses a symmetric rank-k update here: D2 is exactly symmetric
    D2 *= -2.0
    D2 += np.add.outer(sq, sq)  # one symmetric sum: adding the two terms separately is not symmetric
    # The rounding error of an entry is about eps * (sq_i + sq_j); recompute the entries where
    # that is not negligible. First a cheap scalar screen, then the exact per-pair criterion.
    i, j = np.nonzero(D2 <= 2e-4 * sq.max())
    keep = (i < j) & (D2[i, j] <= 1e-4 * (sq[i] + sq[j]))
    i, j = i[keep], j[keep]
    if i.size:
        exact = _direct_sq_distances(Xc, i, j)
        D2[i, j] = exact
        D2[j, i] = exact
    np.maximum(D2, 0.0, out=D2)
    D = np.sqrt(D2, out=D2)
    np.fill_diagonal(D, 0.0)
    return D


def _direct_sq_distances(X: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 65536) -> np.ndarray:
    out = np.empty(i.size, dtype=np.float64)
    for s in range(0, i.size, chunk):
        diff = X[i[s : s + chunk]] - X[j[s : s + chunk]]
        out[s : s + chunk] = np.einsum("ij,ij->i", diff, diff)
    return out


def h0_mst(D) -> np.ndarray:
    """Finite H0 deaths of the Vietoris-Rips filtration: minimum spanning tree edge lengths.

    Prim's algorithm on the dense distance matrix, ``O(n^2)`` time and ``O(n)`` extra memory. In the
    Rips filtration every point is born at 0 and two components merge exactly when an MST edge
    appears, so the ``n - 1`` finite H0 bars are ``(0, w_e)`` for the MST edges ``e``.

    Parameters
    ----------
    D : array_like, shape (n, n)
        Symmetric distance matrix.

    Returns
    -------
    numpy.ndarray, shape (n - 1,), float64
        MST edge lengths sorted ascending (empty for ``n <= 1``). Duplicated points give zeros.
    """
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise ValueError(f"h0_mst: D must be a square distance matrix, got shape {D.shape}")
    n = D.shape[0]
    if n <= 1:
        return np.empty(0, dtype=np.float64)
    best = D[0].copy()
    in_tree = np.zeros(n, dtype=bool)
    in_tree[0] = True
    best[0] = np.inf
    deaths = np.empty(n - 1, dtype=np.float64)
    for k in range(n - 1):
        v = int(np.argmin(best))
        deaths[k] = best[v]
        in_tree[v] = True
        best[v] = np.inf
        np.minimum(best, D[v], out=best, where=~in_tree)
    deaths.sort()
    return deaths
