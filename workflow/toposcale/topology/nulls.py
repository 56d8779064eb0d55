"""Matched null clouds: the cloud a metric is compared with to ask whether it sees topology beyond geometry.

A topological metric means something only against a cloud with the same geometry and no learned
structure (DESIGN.md 5b). Two nulls, each drawn ``n_draws`` times per cloud with a seed fixed by the
cloud's identity (:func:`null_seed`):

``gaussian`` (every source)
    The same number of points, the same mean and *exactly* the same sample covariance as the cloud (so
    the same covariance spectrum, total variance and dimension), arranged at random: with the thin SVD
    of the centred cloud ``Xc = U S V^T`` (positive singular values only), the null is
    ``Q S V^T + mean(X)`` with ``Q`` (n x r) a Haar-random matrix whose orthonormal columns are
    orthogonal to the all-ones vector (so the null is centred exactly like ``Xc``). ``Q`` has the law of
    the left singular vectors of a Gaussian matrix, so the null is a Gaussian cloud with the cloud's
    covariance, conditioned on reproducing its sample covariance. It keeps point count, dimension,
    spread and anisotropy; it destroys clusters, loops, outliers and duplicated points.
``permutation`` (weights)
    The weight matrix with all its entries shuffled across positions: the same shape and exactly the same
    multiset of entries (their distribution: scale, tails, sparsity), none of the row structure (row
    norms and the covariance change). It asks whether trained *rows* are arranged beyond what their
    entries' distribution gives.

Both take the cloud exactly as persistence sees it (activations after PCA, weights raw), use numpy only,
and go through the same homology and metric code as the real cloud.
"""

from __future__ import annotations

import zlib

import numpy as np

#: The null kinds, and the sources each applies to.
NULL_KINDS = {"gaussian": ("weights", "activations"), "permutation": ("weights",)}


def null_seed(*parts) -> int:
    """A 32-bit seed that depends only on ``parts`` (e.g. config seed, run, step, source, layer, kind).

    Examples
    --------
    >>> null_seed(0, "gelu-d32L2-s0", 42, "weights", "block00", "gaussian") == null_seed(
    ...     0, "gelu-d32L2-s0", 42, "weights", "block00", "gaussian")
    True
    """
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def gaussian_null(X, rng: np.random.Generator) -> np.ndarray:
    """One draw of the covariance-matched Gaussian null of ``X`` (see the module docstring).

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(30, 4)) * [3.0, 1.0, 0.5, 0.1]
    >>> Y = gaussian_null(X, np.random.default_rng(1))
    >>> np.allclose(np.cov(Y.T), np.cov(X.T)), np.allclose(Y.mean(0), X.mean(0)), Y.shape
    (True, True, (30, 4))
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    mean = X.mean(axis=0)
    _, s, vt = np.linalg.svd(X - mean, full_matrices=False)
    keep = s > s.max(initial=0.0) * max(X.shape) * np.finfo(float).eps
    s, vt = s[keep], vt[keep]
    if s.size == 0:  # every point equal: the null is the same single point
        return np.repeat(mean[None, :], n, axis=0)
    G = rng.standard_normal((n, s.size))
    G -= G.mean(axis=0)
    Q, R = np.linalg.qr(G)
    Q = Q * np.sign(np.diag(R))  # Haar: fix the sign ambiguity of the QR factorisation
    return Q @ (s[:, None] * vt) + mean


def permutation_null(W, rng: np.random.Generator) -> np.ndarray:
    """One draw of the entry-permutation null of a weight matrix ``W`` (see the module docstring).

    Examples
    --------
    >>> W = np.arange(12.0).reshape(4, 3)
    >>> P = permutation_null(W, np.random.default_rng(0))
    >>> P.shape, sorted(P.ravel()) == sorted(W.ravel())
    ((4, 3), True)
    """
    W = np.asarray(W, dtype=np.float64)
    return rng.permutation(W.ravel()).reshape(W.shape)


def null_clouds(X, kind: str, n_draws: int, seed: int) -> list[np.ndarray]:
    """``n_draws`` null clouds of ``kind`` for ``X`` from ``numpy.random.default_rng(seed)``.

    Raises
    ------
    ValueError
        An unknown ``kind`` or a negative ``n_draws``.
    """
    if kind not in NULL_KINDS:
        raise ValueError(f"null kind {kind!r} is unknown; use one of {sorted(NULL_KINDS)}")
    if n_draws < 0:
        raise ValueError(f"n_draws = {n_draws} must be >= 0")
    draw = gaussian_null if kind == "gaussian" else permutation_null
    rng = np.random.default_rng(seed)
    return [draw(X, rng) for _ in range(int(n_draws))]
