"""Change points in a metric trajectory: PELT segmentation tested against a shuffled-increment null.

Model and cost
--------------
A series ``y_0..y_{n-1}`` observed at increasing positions ``x`` (checkpoint index by default, log step
in :mod:`toposcale.analysis.transitions`) is cut into segments, each fitted by its own least-squares line
``y = a + b x``. The cost of a segment is its residual sum of squares (SSE), so a change point is a
change of level and/or slope: the onset, the end or the reversal of a rapid change. The segmentation
minimises ``sum(SSE of segments) + penalty * (number of change points)`` exactly, by PELT (Killick et
al. 2012; optimal partitioning with pruning), with every segment at least ``min_size`` points long.
The default penalty is BIC-like for white noise of standard deviation ``sigma``::

    penalty = 2 * log(n) * sigma**2,   sigma = 1.4826 * MAD(diff(y)) / sqrt(2)

(the first differences of white noise of sd ``sigma`` have sd ``sqrt(2) * sigma``; the median absolute
deviation ignores the few large increments a change produces).

Test statistic and null
-----------------------
For every change point ``c`` of the optimal segmentation with neighbouring change points (or ends)
``a < c < b``, its *bend gain* is ``SSE_parabola(a:b) - SSE_line(a:c) - SSE_line(c:b)``: how much better
two lines joined at ``c`` fit the points ``a..b-1`` than one least-squares parabola in ``x`` does. A smooth
bend (a power-law or exponential decay, a gentle peak) is followed by the parabola, so its gain is small
or negative; an abrupt change of slope (an onset, the start or end of a rapid drop) is not, so its gain is
large. The statistic is ``max(0, largest bend gain) / sigma**2`` (0 when PELT finds no change point).

The null distribution comes from ``n_permutations`` series with the same first differences in random
order (re-integrated from ``y_0``): exact when the increments are exchangeable, as for a random walk,
which is the usual way a drifting trajectory fools change-point methods. ``sigma`` and the penalty are
functions of the multiset of increments, so they are the same for every null series. A candidate is
reported when its max-T adjusted p-value ``(1 + #{null statistic >= its gain}) / (B + 1)`` (gains in
the same units, floored at 0) is below ``significance``; this controls the family-wise error over all
candidates of the series.

Operating characteristics (simulated, n = 26 points evenly spaced in log step, 99 permutations,
significance 0.05; see ``tests/test_changepoint.py``): false-positive rate <= 0.03 for Gaussian random
walks, white noise, and power-law decays ``E + A t^-alpha`` (alpha 0.3-0.8) with white or random-walk
noise; a linear ramp of 6 points (18 times the noise sd in total) flanked by plateaus is found in about
97% of series, within one point of both ends.

Limitations, by design: the null keeps the set of increments and only reorders them, so a change
completed within one to three consecutive points (a jump, a very steep sigmoid) is not distinguishable
from a random walk with a few large steps and is usually not reported; and for white-noise series the
null series are rougher than the data, so the test is conservative and reports only clear transitions.
"""

from __future__ import annotations

import math

import numpy as np

METHOD = "pelt-piecewise-linear, bend gain vs parabola, increment-permutation null"


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


def _parabola_sse(ys: np.ndarray, x: np.ndarray, rows, lo, hi) -> np.ndarray:
    """SSE of a least-squares parabola in ``x`` on segment ``[lo[k], hi[k])`` of series ``rows[k]``."""
    rows, lo, hi = (np.asarray(a, dtype=int) for a in (rows, lo, hi))
    out = np.empty(len(rows))
    keys = lo * (ys.shape[1] + 1) + hi
    for key in np.unique(keys):
        sel = np.nonzero(keys == key)[0]
        i, j = int(lo[sel[0]]), int(hi[sel[0]])
        u = x[i:j] - x[i:j].mean()
        u = u / (np.abs(u).max() or 1.0)
        q, _ = np.linalg.qr(np.stack([np.ones_like(u), u, u * u], axis=1))
        seg = ys[rows[sel], i:j].T                       # (segment length, k)
        resid = seg - q @ (q.T @ seg)
        out[sel] = np.sum(resid * resid, axis=0)
    return out


def _bend_gains(ys: np.ndarray, x: np.ndarray, cost: _LinearCost, rows, lo, mid, hi) -> np.ndarray:
    """Gain of each change point: parabola SSE on [lo, hi) minus the SSE of lines on [lo, mid), [mid, hi)."""
    return _parabola_sse(ys, x, rows, lo, hi) - cost.rows(rows, lo, mid) - cost.rows(rows, mid, hi)


def _triples(last: np.ndarray, n: int):
    """Back-track optimal partitions; (row, previous boundary, change point, next boundary) per point."""
    rows, lo, mid, hi = [], [], [], []
    for b in range(last.shape[0]):
        bounds, j = [n], n
        while j > 0:
            j = int(last[b, j])
            bounds.append(j)
        bounds = bounds[::-1]                      # 0, change points..., n
        for k in range(1, len(bounds) - 1):
            rows.append(b)
            lo.append(bounds[k - 1])
            mid.append(bounds[k])
            hi.append(bounds[k + 1])
    return rows, lo, mid, hi


def _segment_batch(ys: np.ndarray, x: np.ndarray, penalty: float, min_size: int):
    """Exact optimal partitioning of each row of ``ys`` (B, n), vectorised over the batch.

    It minimises the same objective as :func:`pelt` (PELT only prunes starts that cannot be optimal),
    so both give the same segmentation. Returns the cost object and the back-pointer table.
    """
    n_series, n = ys.shape
    cost = _LinearCost(ys, x)
    f = np.full((n_series, n + 1), np.inf)
    f[:, 0] = -penalty
    last = np.zeros((n_series, n + 1), dtype=int)
    for j in range(min_size, n + 1):
        starts = np.array([0] + list(range(min_size, j - min_size + 1)))
        total = f[:, starts] + cost(starts, j)
        k = np.argmin(total, axis=1)
        f[:, j] = total[np.arange(n_series), k] + penalty
        last[:, j] = starts[k]
    return cost, last


def _max_gains_batch(ys: np.ndarray, x: np.ndarray, penalty: float, min_size: int) -> np.ndarray:
    """Statistic of each row of ``ys``: the largest bend gain of its optimal segmentation, floored at 0."""
    cost, last = _segment_batch(ys, x, penalty, min_size)
    rows, lo, mid, hi = _triples(last, ys.shape[1])
    out = np.zeros(ys.shape[0])
    if rows:
        np.maximum.at(out, np.asarray(rows), _bend_gains(ys, x, cost, rows, lo, mid, hi))
    return out


def detect_change_points(y, x=None, *, n_permutations: int = 199, significance: float = 0.05,
                         min_size: int = 3, penalty: float | None = None, seed: int = 0) -> dict:
    """Change points of a series that survive a shuffled-increment permutation test.

    See the module docstring for the model, the statistic and the null.

    Parameters
    ----------
    y : array_like, shape (n,)
        The series (finite values).
    x : array_like, shape (n,), optional
        Strictly increasing positions of the points (the regressor of each segment's line); default
        ``0..n-1``. Pass log step to segment a trajectory over log training time.
    n_permutations : int
        Null series drawn by shuffling the first differences of ``y``.
    significance : float
        A candidate is reported when its max-T adjusted permutation p-value is below this.
    min_size : int
        Fewest points in a segment (at least 3, so each line has a residual).
    penalty : float, optional
        Cost of one change point in units of ``y**2``; default ``2 * log(n) * sigma**2``.
    seed : int
        Seed of the permutations; the result is a deterministic function of the inputs and ``seed``.

    Returns
    -------
    dict
        ``change_points`` (list of int): indices into ``y`` where a significant new segment starts;
        ``p_value`` (float): permutation p-value of the statistic (NaN when the series is shorter
        than ``2 * min_size`` and cannot be split); ``statistic`` (float): largest bend gain / sigma**2,
        floored at 0 (0 when PELT finds no change point); ``method`` (str); and, for diagnostics,
        ``candidates`` (all PELT change points), ``candidate_p_values`` (their adjusted p-values),
        ``penalty``, ``sigma``, ``n_permutations``.
    """
    y, x = _as_series(y, x)
    if min_size < 3:
        raise ValueError(f"min_size={min_size}: a line fitted to fewer than 3 points has no residual; "
                         f"use min_size >= 3")
    if not 0 < significance < 1:
        raise ValueError(f"significance={significance} must lie in (0, 1)")
    if n_permutations < 1:
        raise ValueError(f"n_permutations={n_permutations} must be at least 1 (199 is typical)")
    n = len(y)
    sigma = robust_sigma(y)
    pen = 2.0 * math.log(max(n, 2)) * sigma ** 2 if penalty is None else float(penalty)
    if pen < 0:
        raise ValueError(f"penalty={penalty} must be non-negative")
    out = {"change_points": [], "p_value": float("nan"), "statistic": 0.0, "method": METHOD,
           "candidates": [], "candidate_p_values": [], "penalty": pen, "sigma": sigma,
           "n_permutations": int(n_permutations)}
    if n < 2 * min_size:
        return out
    d = np.diff(y)
    if sigma <= 1e-9 * float(np.abs(d).max(initial=0.0)) or sigma == 0.0:
        # constant increments up to rounding (an exact line): nothing to detect, and no noise scale
        out["p_value"] = 1.0
        return out
    cps = _pelt(_LinearCost(y, x), n, pen, min_size)
    if cps:
        bounds = [0] + cps + [n]
        gains = _bend_gains(y[None, :], x, _LinearCost(y[None, :], x), [0] * len(cps), bounds[:-2],
                            bounds[1:-1], bounds[2:])
    else:
        gains = np.zeros(0)
    stat = max(float(gains.max()), 0.0) if cps else 0.0
    rng = np.random.default_rng(seed)
    null = np.empty(n_permutations)
    chunk = max(1, int(2_000_000 // (n * n)))  # bound the (chunk, n) work arrays per step
    for lo in range(0, n_permutations, chunk):
        m = min(chunk, n_permutations - lo)
        perm = np.stack([rng.permutation(d) for _ in range(m)])
        ys = np.concatenate([np.full((m, 1), y[0]), y[0] + np.cumsum(perm, axis=1)], axis=1)
        null[lo:lo + m] = _max_gains_batch(ys, x, pen, min_size)
    adj = [(1.0 + np.sum(null >= max(g, 0.0))) / (n_permutations + 1.0) for g in gains]
    out.update(
        statistic=stat / sigma ** 2,
        p_value=float((1.0 + np.sum(null >= stat)) / (n_permutations + 1.0)),
        candidates=[int(c) for c in cps],
        candidate_p_values=[float(p) for p in adj],
        change_points=[int(c) for c, p in zip(cps, adj) if p < significance],
    )
    return out


def diminishing_returns_index(y, x, frac: float = 0.1, window: int = 5) -> int | None:
    """First index after which the metric's rate of change per log step stays below ``frac`` of its peak.

    The rate of window ``i`` is the absolute least-squares slope of ``y`` against ``log x`` over the
    ``window`` consecutive points ``i .. i + window - 1`` (units of ``y`` per e-fold of ``x``;
    ``window = 2`` gives ``|y[i+1] - y[i]| / (log x[i+1] - log x[i])``; longer windows average out
    measurement noise). With ``peak`` the largest rate, the result is the smallest ``i`` such that every
    window starting at or after ``i`` has rate ``< frac * peak``.

    Parameters
    ----------
    y : array_like, shape (n,)
        The metric.
    x : array_like, shape (n,)
        Strictly increasing positive positions (training step or tokens; drop step 0 first).
    frac : float
        Threshold as a fraction of the peak rate, in (0, 1).
    window : int
        Points per slope (>= 2); shortened to ``n`` for short series.

    Returns
    -------
    int or None
        Index into ``y``; None when the last window is still at or above the threshold, the series
        never moves (peak rate 0) or has fewer than 3 points.
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    if not 0 < frac < 1:
        raise ValueError(f"frac={frac} must lie in (0, 1)")
    if window < 2:
        raise ValueError(f"window={window} must be at least 2 points")
    if x.shape != y.shape:
        raise ValueError(f"x has shape {x.shape} but y has shape {y.shape}")
    if np.any(x <= 0):
        raise ValueError("x must be positive (rates are per log step); drop step 0 before calling")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(x))):
        raise ValueError("x and y must be finite; drop NaN points before calling")
    if len(y) < 3:
        return None
    lx = np.log(x)
    if np.any(np.diff(lx) <= 0):
        raise ValueError("x must be strictly increasing")
    w = min(window, len(y))
    win_x = np.lib.stride_tricks.sliding_window_view(lx, w)
    win_y = np.lib.stride_tricks.sliding_window_view(y, w)
    dx = win_x - win_x.mean(axis=1, keepdims=True)
    rate = np.abs(np.sum(dx * (win_y - win_y.mean(axis=1, keepdims=True)), axis=1) / np.sum(dx * dx, axis=1))
    peak = float(rate.max())
    if peak <= 0:
        return None
    high = np.nonzero(rate >= frac * peak)[0]
    last_high = int(high[-1])
    if last_high == len(rate) - 1:
        return None
    return last_high + 1
