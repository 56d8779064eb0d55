"""Exact penalised piecewise-linear segmentation (PELT) and a robust noise scale.

Used by :mod:`toposcale.experiments.external.segmentation` to cut ``ln(beta)`` trajectories into
plateaus. Hand-written rather than ``ruptures``: the cost is the SSE of a least-squares *line* in an
arbitrary position ``x`` (``ruptures``' ``CostLinear`` needs a design matrix per call and its PELT is
pure Python with a sub-sampled grid, ``jump``), and the cumulative-sum cost below makes each segment
O(1).  The change-point *test* of the project lives in :mod:`toposcale.analysis.changepoint`.
"""

from __future__ import annotations

import math

import numpy as np


def _as_series(y, x) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    if y.ndim != 1:
        raise ValueError(f"y must be one-dimensional, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinite values; drop those points before calling")
    if x is None:
        x = np.arange(len(y), dtype=float)
    else:
        x = np.asarray(x, dtype=float)
        if x.shape != y.shape:
            raise ValueError(f"x has shape {x.shape} but y has shape {y.shape}; pass one x per y")
        if not np.all(np.isfinite(x)):
            raise ValueError("x contains NaN or infinite values (log of step 0?); drop those points")
        if len(x) > 1 and np.any(np.diff(x) <= 0):
            raise ValueError("x must be strictly increasing; sort the series and drop duplicate x")
    return y, x


def robust_sigma(y) -> float:
    """Noise scale from first differences: ``1.4826 * MAD(diff(y)) / sqrt(2)``.

    Falls back to ``std(diff(y)) / sqrt(2)`` when more than half of the increments are equal (MAD 0).
    Returns 0.0 for a series with constant increments (an exact line), which has no noise.
    """
    d = np.diff(np.asarray(y, dtype=float))
    if len(d) == 0:
        return 0.0
    mad = float(np.median(np.abs(d - np.median(d))))
    s = 1.4826 * mad / math.sqrt(2.0)
    if s <= 0.0:
        s = float(np.std(d)) / math.sqrt(2.0)
    return s


class _LinearCost:
    """Segment SSE of a least-squares line, from cumulative sums (O(1) per segment ``[i, j)``).

    ``y`` may be one series, shape (n,), or a batch of series sharing ``x``, shape (B, n).
    """

    def __init__(self, y: np.ndarray, x: np.ndarray):
        # centring and scaling keeps the cumulative-sum formula accurate
        xs = (x - x.mean()) / (x.std() or 1.0)
        ys = y - y.mean(axis=-1, keepdims=True)

        def c(a):
            a = np.asarray(a)
            return np.concatenate([np.zeros(a.shape[:-1] + (1,)), np.cumsum(a, axis=-1)], axis=-1)

        self.s1 = c(np.ones_like(xs))
        self.sx, self.sxx = c(xs), c(xs * xs)
        self.sy, self.sxy, self.syy = c(ys), c(xs * ys), c(ys * ys)

    def __call__(self, i, j):
        """SSE of segments ``[i, j)``; ``i`` and ``j`` broadcast (integer arrays or scalars).

        For a batch the result has the batch axis first: shape (B,) + broadcast shape of ``i, j``.
        """
        i, j = np.broadcast_arrays(np.asarray(i), np.asarray(j))
        m = self.s1[j] - self.s1[i]
        sx = self.sx[j] - self.sx[i]
        sy = self.sy[..., j] - self.sy[..., i]
        vxx = self.sxx[j] - self.sxx[i] - sx * sx / m
        vxy = self.sxy[..., j] - self.sxy[..., i] - sx * sy / m
        vyy = self.syy[..., j] - self.syy[..., i] - sy * sy / m
        safe = np.where(vxx > 0, vxx, 1.0)
        fit = np.where(vxx > 0, vxy * vxy / safe, 0.0)
        return np.maximum(vyy - fit, 0.0)

    def rows(self, b, i, j) -> np.ndarray:
        """SSE of segment ``[i[k], j[k])`` of series ``b[k]`` of a batch, for every ``k``."""
        b, i, j = (np.asarray(a, dtype=int) for a in (b, i, j))
        m = self.s1[j] - self.s1[i]
        sx = self.sx[j] - self.sx[i]
        sy = self.sy[b, j] - self.sy[b, i]
        vxx = self.sxx[j] - self.sxx[i] - sx * sx / m
        vxy = self.sxy[b, j] - self.sxy[b, i] - sx * sy / m
        vyy = self.syy[b, j] - self.syy[b, i] - sy * sy / m
        fit = np.where(vxx > 0, vxy * vxy / np.where(vxx > 0, vxx, 1.0), 0.0)
        return np.maximum(vyy - fit, 0.0)


def pelt(y, x=None, *, penalty: float, min_size: int = 3) -> list[int]:
    """Exact penalised piecewise-linear segmentation by PELT.

    Minimises ``sum_k SSE_k + penalty * K`` over segmentations with ``K`` change points, where ``SSE_k``
    is the residual sum of squares of a least-squares line in ``x`` fitted to segment ``k``, and every
    segment has at least ``min_size`` points.

    Returns
    -------
    list of int
        Sorted indices into ``y`` where a new segment starts (0 and ``n`` excluded).
    """
    y, x = _as_series(y, x)
    return _pelt(_LinearCost(y, x), len(y), float(penalty), int(min_size))


def _pelt(cost: _LinearCost, n: int, penalty: float, min_size: int) -> list[int]:
    if n < 2 * min_size:
        return []
    f = np.full(n + 1, np.inf)
    f[0] = -penalty
    last = np.zeros(n + 1, dtype=int)
    cand = np.array([0])                 # admissible segment starts (0, or >= min_size)
    pruned_at = np.array([np.inf])       # first end j at which the start was beaten (see below)
    for j in range(min_size, n + 1):
        # drop starts beaten at some j' <= j - min_size: for every end t >= j' + min_size,
        # F(s) + C(s, t) >= F(s) + C(s, j') + C(j', t) > F(j') + C(j', t) (SSE is superadditive), so
        # such a start can never be optimal again (PELT pruning, Killick et al. 2012, with K = 0)
        alive = pruned_at > j - min_size
        cand, pruned_at = cand[alive], pruned_at[alive]
        ok = j - cand >= min_size
        starts = cand[ok]
        total = f[starts] + cost(starts, j)
        k = int(np.argmin(total))
        f[j] = total[k] + penalty
        last[j] = starts[k]
        beaten = np.zeros(len(cand), dtype=bool)
        beaten[ok] = total > f[j]
        pruned_at = np.where(beaten, np.minimum(pruned_at, j), pruned_at)
        nxt = j + 1 - min_size           # becomes admissible as a start for the end j + 1
        if nxt >= min_size:
            cand = np.append(cand, nxt)
            pruned_at = np.append(pruned_at, np.inf)
    cps = []
    j = n
    while j > 0:
        i = int(last[j])
        if i > 0:
            cps.append(i)
        j = i
    return sorted(cps)
