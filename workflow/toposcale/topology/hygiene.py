"""Cloud hygiene: how many distinct points a cloud has, and how many dimensions it really spans.

numpy only (it runs in the per-layer persistence jobs). A cloud with many duplicated points (e.g.
last-token pooling of byte-level probes that share their last byte) has mostly zero-length H0 bars, and
its metrics describe far fewer points than ``n_points`` says (DESIGN.md 5b, issue 15).
"""

from __future__ import annotations

import numpy as np

__all__ = ["cloud_hygiene"]


def cloud_hygiene(X) -> dict:
    """Distinct points and effective rank of a point cloud.

    Parameters
    ----------
    X : array_like, shape (n_points, n_dims)
        Finite coordinates, the cloud exactly as persistence sees it; ``n_points >= 1``.

    Returns
    -------
    dict
        ``n_distinct`` (int): the number of distinct rows of ``X`` under exact (bitwise float)
        equality, so ``1 <= n_distinct <= n_points``.

        ``effective_rank`` (float): ``exp(H)`` with ``H = -sum_i p_i log p_i`` the Shannon entropy (natural
        log, ``0 log 0 = 0``) of ``p_i = lambda_i / sum_j lambda_j``, where ``lambda_i`` are the eigenvalues
        of the sample covariance of ``X`` (Roy & Vetterli, "The effective rank: a measure of effective
        dimensionality", EUSIPCO 2007, applied to the covariance matrix). It lies in
        ``[1, min(n_points - 1, n_dims)]``: ``k`` equal variances give ``k``; one dominant direction gives
        about 1. Edge case: when the covariance is zero (one distinct point, including ``n_points == 1``)
        there is no spread to share out and the value is defined as 1.0. Eigenvalues are the squared
        singular values of the centred cloud (the ``1/(n-1)`` factor cancels in ``p``); those below
        ``max(n, d) * eps`` times the largest are rounding noise and are dropped.

    Raises
    ------
    ValueError
        ``X`` is not a 2-d array with at least one row, or has non-finite entries.

    Examples
    --------
    >>> h = cloud_hygiene([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> h["n_distinct"]
    3
    >>> cloud_hygiene(np.diag([1.0, 1.0, 1.0]) - 1 / 3)["effective_rank"]  # 3 points span a plane equally
    2.0
    >>> cloud_hygiene(np.ones((5, 3)))
    {'n_distinct': 1, 'effective_rank': 1.0}
    >>> X = np.random.default_rng(0).normal(size=(2000, 4))
    >>> round(cloud_hygiene(X)["effective_rank"], 1), round(cloud_hygiene(X * [10, 1, 1, 1])["effective_rank"], 1)
    (4.0, 1.2)
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"cloud_hygiene: expected a (n_points >= 1, n_dims) array, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("cloud_hygiene: the cloud has NaN or infinite coordinates")
    n_distinct = int(np.unique(X, axis=0).shape[0])
    s = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    lam = s**2
    lam = lam[lam > lam.max(initial=0.0) * max(X.shape) * np.finfo(float).eps]
    if lam.size == 0:
        return {"n_distinct": n_distinct, "effective_rank": 1.0}
    p = lam / lam.sum()
    return {"n_distinct": n_distinct, "effective_rank": float(np.exp(-np.sum(p * np.log(p))))}
