"""A measure against its null draws: the standardised excess and the pooled null spread."""

from __future__ import annotations

import numpy as np


def null_excess(value: float, draws) -> dict:
    """Summary of a measure against its null draws: ``null_mean``, ``null_sd`` and ``null_z``.

    ``null_mean`` and ``null_sd`` are the mean and the sample standard deviation (ddof = 1) of the
    measure over the ``K`` null draws (non-finite draws dropped); ``null_z = (value - null_mean) /
    null_sd`` is the standardised excess, NaN where ``null_sd`` is 0 (at most 1e-12 x max(1, |null_mean|),
    i.e. equal draws up to rounding) or undefined (fewer than 2 finite draws) or ``value`` is not finite.

    Examples
    --------
    >>> null_excess(5.0, [1.0, 2.0, 3.0])
    {'null_mean': 2.0, 'null_sd': 1.0, 'null_z': 3.0}
    """
    d = np.asarray(draws, dtype=np.float64).ravel()
    d = d[np.isfinite(d)]
    mean = float(d.mean()) if d.size else float("nan")
    sd = float(d.std(ddof=1)) if d.size > 1 else float("nan")
    v = float(value)
    # an sd at rounding level (draws equal up to float noise) is 0: dividing by it would give z ~ 1e15
    ok = np.isfinite(v) and np.isfinite(sd) and sd > 1e-12 * max(1.0, abs(mean))
    z = (v - mean) / sd if ok else float("nan")
    return {"null_mean": mean, "null_sd": sd, "null_z": float(z)}


def pooled_sd(sd, window: int) -> np.ndarray:
    """Root-mean of the variances ``sd**2`` over a moving window of ``+-window`` neighbours.

    ``sd`` is a 1-D sequence of per-checkpoint null sds of one series, in checkpoint order. Entry ``i``
    of the result is ``sqrt(mean(sd[j]**2 for |j - i| <= window, sd[j] finite))`` (the window is cut at
    the ends of the series; NaN where the window holds no finite sd). With ``K`` draws per checkpoint it
    estimates the null sd from up to ``(2 window + 1)(K - 1)`` degrees of freedom instead of ``K - 1``,
    assuming the null's spread varies little over ``2 window + 1`` neighbouring checkpoints (its mean may
    vary freely: each checkpoint keeps its own null mean). ``window = 0`` returns ``sd`` (NaN where not
    finite).

    Examples
    --------
    >>> pooled_sd([1.0, 1.0, 7.0, np.nan], 1).round(3).tolist()
    [1.0, 4.123, 5.0, 7.0]
    >>> pooled_sd([2.0], 3).tolist()
    [2.0]
    """
    sd = np.asarray(sd, dtype=np.float64).ravel()
    if window < 0:
        raise ValueError(f"window = {window} must be >= 0 (topology.nulls.sd_pool_window)")
    ok = np.isfinite(sd)
    var = np.where(ok, sd * sd, 0.0)
    if sd.size == 0:
        return sd
    w, cut = np.ones(2 * int(window) + 1), slice(int(window), int(window) + sd.size)
    total = np.convolve(var, w)[cut]    # full convolution: entry i + window sums var[i - window .. i + window]
    count = np.convolve(ok.astype(float), w)[cut]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.sqrt(total / np.maximum(count, 1)), np.nan)


def standardised_excess(value, mean, sd) -> np.ndarray:
    """``(value - mean) / sd`` elementwise; NaN where ``sd`` is not finite or at rounding level
    (``sd <= 1e-12 x max(1, |mean|)``, as in :func:`null_excess`) or ``value`` is not finite."""
    v, m, s = (np.asarray(a, dtype=np.float64) for a in (value, mean, sd))
    ok = np.isfinite(v) & np.isfinite(m) & np.isfinite(s) & (s > 1e-12 * np.maximum(1.0, np.abs(m)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, (v - m) / np.where(ok, s, 1.0), np.nan)
