"""Multiple testing: Benjamini-Hochberg adjusted p-values and rejections."""

from __future__ import annotations

import numpy as np


def bh_adjust(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values).

    For the ``m`` finite p-values sorted ascending, ``q_(i) = min_{k >= i} min(1, m * p_(k) / k)``;
    rejecting every hypothesis with ``q <= alpha`` controls the false discovery rate at ``alpha`` for
    independent or positively dependent tests. NaN p-values are left out of ``m`` and get NaN.

    Parameters
    ----------
    p : array_like
        p-values in [0, 1] (any shape); NaN allowed.

    Returns
    -------
    numpy.ndarray
        q-values, same shape as ``p``.
    """
    p = np.asarray(p, dtype=float)
    finite = np.isfinite(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    q = np.full(p.shape, np.nan)
    vals = p[finite]
    m = len(vals)
    if m == 0:
        return q
    order = np.argsort(vals, kind="mergesort")
    scaled = vals[order] * m / np.arange(1, m + 1)
    adj = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    out = np.empty(m)
    out[order] = adj
    q[finite] = out
    return q


def bh_reject(p, alpha: float = 0.05) -> np.ndarray:
    """Boolean mask of hypotheses rejected by Benjamini-Hochberg at FDR ``alpha`` (NaN p: False)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha} must lie in (0, 1)")
    q = bh_adjust(p)
    return np.where(np.isfinite(q), q <= alpha, False)
