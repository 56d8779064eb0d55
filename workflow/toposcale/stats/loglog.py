"""The log-log least-squares fit of a power law, with clustered standard errors."""

from __future__ import annotations

import numpy as np


def loglog_fit(x, y, clusters=None) -> dict:
    """Least-squares line in log-log space: ``log y = intercept + slope * log x`` (natural logs).

    The one power-law regression of the project (``y = exp(intercept) * x ** slope``). With ``clusters``
    (a label per point) it also refits the slope with each cluster's points left out in turn (the
    jackknife's leave-one-out estimates, from the sums of the other clusters' points: the same least
    squares, vectorised).

    Returns
    -------
    dict
        ``slope``, ``intercept``, ``r2`` (of the log-log regression; NaN when every ``log y`` is equal)
        and ``residuals`` (``log y`` minus the fitted line, as a numpy array); with ``clusters`` also
        ``clusters`` (the sorted distinct labels) and ``loo_slopes`` (the slope without each of them; NaN
        where the points left have one ``x``).

    Raises
    ------
    ValueError
        Unequal lengths, fewer than 2 points, a non-positive or non-finite value, or all ``x`` equal.

    Examples
    --------
    >>> fit = loglog_fit([1, 2, 4, 8], [3, 6, 12, 24])
    >>> round(fit["slope"], 12), round(math.exp(fit["intercept"]), 12)
    (1.0, 3.0)
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"loglog_fit: need two 1-D arrays of equal length >= 2, got {x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(x > 0) and np.all(y > 0)):
        raise ValueError("loglog_fit: every x and y must be finite and > 0")
    lx, ly = np.log(x), np.log(y)
    if np.ptp(lx) == 0:
        raise ValueError("loglog_fit: every x is equal, so the slope is undefined; vary x")
    xm, ym = lx.mean(), ly.mean()
    slope = float(np.sum((lx - xm) * (ly - ym)) / np.sum((lx - xm) ** 2))
    intercept = float(ym - slope * xm)
    resid = ly - (intercept + slope * lx)
    sst = float(np.sum((ly - ym) ** 2))
    r2 = float(1 - np.sum(resid ** 2) / sst) if sst > 0 else float("nan")
    out = {"slope": slope, "intercept": intercept, "r2": r2, "residuals": resid}
    if clusters is not None:
        labels = np.asarray(clusters)
        if labels.shape != x.shape:
            raise ValueError(f"loglog_fit: clusters has shape {labels.shape}, x has {x.shape}")
        levels, inv = np.unique(labels, return_inverse=True)
        # sums of the points outside each cluster, centred on the full means for numerical stability
        cx, cy = lx - xm, ly - ym
        sums = [np.bincount(inv, weights=w, minlength=len(levels)) for w in (np.ones_like(cx), cx, cy, cx * cx, cx * cy)]
        n, sx, sy, sxx, sxy = (s.sum() - s for s in sums)
        with np.errstate(invalid="ignore", divide="ignore"):
            den = sxx - sx * sx / n
            loo = (sxy - sx * sy / n) / den
        out["clusters"] = levels
        out["loo_slopes"] = np.where((n >= 2) & (den > 1e-12 * max(float(np.sum(cx * cx)), 1e-300)), loo, np.nan)
    return out
