"""The change-point test on dense curves (:func:`toposcale.analysis.changepoint.change_points_batch` on
log-step bins).

A curve with thousands of points (a loss logged every few steps) is averaged into ``n_bins`` equal-width
bins of log step (empty bins dropped). Bin means of AR(1) noise are heteroscedastic (``Var = sigma^2 /
n_b^2 * sum_{i,j < n_b} phi^|i-j|``), so each bin is weighted by the inverse of that variance at ``phi_d``,
the lag-1 autocorrelation of the dense OLS spline residuals (thousands of points: no correction needed),
and the weighted bin means are tested as checkpoint series are (the AR(1) model then applies across
bins). Locations are bin indices.
"""

from __future__ import annotations

import numpy as np

from toposcale.analysis.changepoint import SMOOTH_DF, _check, change_points_batch, spline_basis
from toposcale.analysis.changepoint_noise import _lag1, _ols_residuals


def log_bins(step, n_bins: int):
    """Assign dense steps to ``n_bins`` equal-width bins of ``log(step)`` between the first and last step.

    Returns ``(bin_of_point, counts, x_bins)`` over the non-empty bins (renumbered ``0..B-1`` in order);
    ``x_bins`` is the mean log step of each bin.
    """
    step = np.asarray(step, dtype=float)
    if np.any(step <= 0) or np.any(np.diff(step) <= 0):
        raise ValueError("dense steps must be positive and strictly increasing")
    lx = np.log(step)
    edges = np.linspace(lx[0], lx[-1], n_bins + 1)
    b = np.clip(np.searchsorted(edges, lx, side="right") - 1, 0, n_bins - 1)
    used, b = np.unique(b, return_inverse=True)
    counts = np.bincount(b)
    return b, counts, np.bincount(b, weights=lx) / counts


def _bin_means(A, b, counts):
    """Bin means along the last axis (points sorted, so bins are contiguous)."""
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    return np.add.reduceat(A, starts, axis=-1) / counts


def _mean_var_ar1(counts, phi: float) -> np.ndarray:
    """Variance of the mean of ``n_b`` consecutive points of unit-variance AR(1) noise, per bin."""
    out = np.empty(len(counts))
    for j, nb in enumerate(counts):
        k = np.arange(1, nb)
        out[j] = (nb + 2.0 * np.sum((nb - k) * phi ** k)) / nb ** 2
    return out


def change_points_dense(Y, step, *, n_bins: int = 60, smooth_df: int = SMOOTH_DF, **kwargs):
    """The test on dense curves (rows of ``Y`` at the strictly increasing positive ``step``), binned in log step.

    Each row is averaged into the non-empty bins of :func:`log_bins`; bin ``b`` gets the weight
    ``1 / v_b(phi_d)``, the variance of a mean of ``n_b`` consecutive points of unit-variance AR(1) noise,
    with ``phi_d`` the median over rows of the lag-1 autocorrelation of the dense OLS spline residuals
    (thousands of points: no bias correction needed); then :func:`change_points_batch` runs on the bin means
    at the bins' mean log step with those weights (``kwargs`` as there). Returns ``(results, x_bins,
    counts)``; locations are bin indices.
    """
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    step = np.asarray(step, dtype=float)
    b, counts, xb = log_bins(step, n_bins)
    Y, lx = _check(Y, np.log(step))
    phi_d = float(np.clip(np.median(_lag1(_ols_residuals(Y, spline_basis(lx, smooth_df)))), 0.0, 0.999))
    wts = 1.0 / _mean_var_ar1(counts, phi_d)
    res = change_points_batch(_bin_means(Y, b, counts), xb, smooth_df=smooth_df, weights=wts / wts.mean(),
                              **kwargs)
    return res, xb, counts
