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
``copula`` (activations)
    A Gaussian copula mapped through each coordinate's empirical marginal (issue 22): the normal scores
    of the cloud, ``S_ij = Phi^-1((r_ij - 1/2) / n)`` with ``r_ij`` the rank (1..n, ties broken by
    order) of ``X_ij`` in column ``j``, get a ``gaussian`` null draw ``G`` (same sample covariance as
    ``S``), and each column of ``G`` is mapped back through the sorted values of the same column of
    ``X``: ``Y_ij = sort(X[:, j])[rank of G_ij in column j]``. It keeps *exactly*: the number of points,
    the dimension, and each coordinate's multiset of values (its marginal: location, scale, skew,
    heavy tails, sparsity). It keeps *approximately*: the rank dependence between coordinates (the
    sample covariance of the normal scores is exact in ``G``, and ranks survive the monotone map, so
    Spearman correlations match up to the ``G`` draw's rank noise) and hence the covariance (close
    where the dependence is carried by the normal-scores correlation; ``tests/test_nulls.py`` bounds
    it). It destroys clusters, loops, outliers as joint events and duplicated points. It asks whether
    the cloud is arranged beyond what its coordinates' marginals and their correlation give, so heavy
    tails alone are not topology.

All take the cloud exactly as persistence sees it (activations after PCA, weights raw), use numpy only
(plus the standard library's ``statistics.NormalDist`` for ``Phi^-1``), and go through the same homology
and metric code as the real cloud.

Which nulls a claim must beat (:data:`REQUIRED_NULLS`, :func:`null_label`): "topology beyond geometry"
needs every null matching the source, i.e. the Gaussian and the entry-permutation null for weights, the
Gaussian and the copula null for activations; a metric that beats only some is labelled by the nulls it
beats (e.g. "beyond the gaussian null only").
"""

from __future__ import annotations

import zlib
from statistics import NormalDist

import numpy as np

#: The null kinds, and the sources each applies to.
NULL_KINDS = {"gaussian": ("weights", "activations"), "permutation": ("weights",), "copula": ("activations",)}

#: The nulls a "topology beyond geometry" claim about a source must beat (all of them).
REQUIRED_NULLS = {"weights": ("gaussian", "permutation"), "activations": ("gaussian", "copula")}

#: Verdict words shared by every analysis that compares a metric with its nulls.
BEYOND = "topology beyond geometry"
EXPLAINED = "explained by its null"


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


def _normal_quantiles(n: int) -> np.ndarray:
    """``Phi^-1((i + 1/2) / n)`` for ``i = 0..n-1``: the normal scores of ranks 1..n."""
    inv = NormalDist().inv_cdf
    return np.array([inv((i + 0.5) / n) for i in range(n)], dtype=np.float64)


def _column_ranks(X: np.ndarray) -> np.ndarray:
    """0-based rank of each entry within its column (ties broken by row order)."""
    order = np.argsort(X, axis=0, kind="stable")
    r = np.empty_like(order)
    np.put_along_axis(r, order, np.arange(X.shape[0])[:, None].repeat(X.shape[1], axis=1), axis=0)
    return r


def copula_null(X, rng: np.random.Generator) -> np.ndarray:
    """One draw of the Gaussian-copula null of ``X`` (see the module docstring).

    Examples
    --------
    >>> X = np.random.default_rng(0).standard_t(3, size=(50, 3))
    >>> Y = copula_null(X, np.random.default_rng(1))
    >>> Y.shape, bool(np.all(np.sort(Y, axis=0) == np.sort(X, axis=0)))
    ((50, 3), True)
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    if n < 2:
        return X.copy()
    S = _normal_quantiles(n)[_column_ranks(X)]
    G = gaussian_null(S, rng)
    return np.take_along_axis(np.sort(X, axis=0), _column_ranks(G), axis=0)


_DRAW = {"gaussian": gaussian_null, "permutation": permutation_null, "copula": copula_null}


def null_label(source: str, beats: dict, raw_significant: bool) -> tuple[str, str]:
    """The verdict of a metric compared with its nulls, naming the nulls it beats.

    ``beats`` maps a null kind to whether the metric's null-adjusted effect against that null is
    significant (True/False; None or missing = not available). Returns ``(verdict, nulls_beaten)``
    with ``nulls_beaten`` the kinds beaten, joined by '+' in :data:`REQUIRED_NULLS` order then others:

    * :data:`BEYOND` ('topology beyond geometry') when every null of ``REQUIRED_NULLS[source]`` is
      available and beaten;
    * ``'beyond the <kinds> null only'`` when some nulls are beaten but not every required one (a
      required null missing counts as not beaten: heavy tails alone beat the Gaussian null);
    * :data:`EXPLAINED` when none is beaten and ``raw_significant``;
    * ``'not significant'`` otherwise.

    Examples
    --------
    >>> null_label("weights", {"gaussian": True, "permutation": True}, True)
    ('topology beyond geometry', 'gaussian+permutation')
    >>> null_label("weights", {"gaussian": True, "permutation": False}, True)
    ('beyond the gaussian null only', 'gaussian')
    >>> null_label("activations", {"gaussian": False}, True)
    ('explained by its null', '')
    """
    if source not in REQUIRED_NULLS:
        raise ValueError(f"source {source!r} has no required nulls; use one of {sorted(REQUIRED_NULLS)}")
    need = REQUIRED_NULLS[source]
    order = list(need) + sorted(k for k in beats if k not in need)
    beaten = [k for k in order if beats.get(k) is True]
    if beaten and all(beats.get(k) is True for k in need):
        return BEYOND, "+".join(beaten)
    if beaten:
        return f"beyond the {'+'.join(beaten)} null only", "+".join(beaten)
    return (EXPLAINED if raw_significant else "not significant"), ""


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
    draw = _DRAW[kind]
    rng = np.random.default_rng(seed)
    return [draw(X, rng) for _ in range(int(n_draws))]
