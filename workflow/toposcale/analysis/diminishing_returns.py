"""Where a training metric's change per log step dies down (``diminishing_returns_step`` of the transitions
table)."""

from __future__ import annotations

import numpy as np


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
