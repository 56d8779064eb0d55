"""The AR(1) noise model of the ramp scan's null (:mod:`toposcale.analysis.changepoint`): the null fit and
the coefficient ``phi`` and marginal sd ``sigma`` read from its residuals.

The *null fit* (:func:`_null_fit`) is OLS on a spline basis plus the best single ramp; the noise model
comes from its residuals ``r`` over the neighbour pairs outside that ramp widened by one point on each side
(:func:`_noise_stats`; what a drop leaves in the residuals sits there):

* ``phi``: their lag-1 autocorrelation is biased low (at 25-39 checkpoints a true 0.9 reads ~0.6) and very
  noisy, and a null with too small a ``phi`` is too light. It is read off the *30% quantile*
  (``PHI_QUANTILE``) of the estimator's distribution simulated on the same design for ``phi`` on a grid
  (:func:`phi_bias_map`): the ``phi`` for which the observed value is the 30% quantile, a deliberate lean
  upward; clipped to ``[0, PHI_MAX]``, rounded to 0.01. The estimator carries little information at this
  size (with ``null_df`` 8 and 29 points its simulated 30% quantile moves only from -0.45 at phi 0 to -0.25
  at phi 0.95), which is why ``null_df`` stays 6: more columns would follow the early descent better but
  make ``phi`` unidentifiable and lose real 15-sd drops (tests/test_transitions.py fails with 8).
* ``sigma`` (marginal sd) from the short-range structure: ``q = (1.4826 * MAD(diff(r)))^2``, a robust
  variance of the residuals' first differences, and ``sigma = sqrt(q / q_1(phi))`` with ``q_1(phi)`` the
  same quantity's simulated mean for unit-variance noise on this design: the null noise has the observed
  first-difference variance (previously ``sigma`` came from ``mean(r^2)``; the FPR is about the same, the
  MAD is not inflated by a drop's leftovers).

The rate-rebound test (:mod:`toposcale.analysis.rebound`, ``noise='spline'``) reads its ``phi`` here too.
"""

from __future__ import annotations

import numpy as np

from toposcale.analysis.ar1 import ar1_noise

#: phi is read off the simulated 30% quantile of the residual lag-1 autocorrelation (not its mean): an upward
#: lean, because a null with too small a phi is too light (module docstring).
PHI_QUANTILE = 0.3
PHI_MAX = 0.95
PHI_STEP = 0.01
_BIAS_GRID = np.round(np.arange(0.0, PHI_MAX + 1e-9, 0.05), 2)
_BIAS_DRAWS = 400
_MAD = 1.4826


def _lag1(R: np.ndarray) -> np.ndarray:
    """Lag-1 autocorrelation of each row, ``sum r_t r_{t-1} / sum r_t^2`` (0 for a zero row)."""
    den = np.sum(R * R, axis=1)
    return np.where(den > 0, np.sum(R[:, 1:] * R[:, :-1], axis=1) / np.where(den > 0, den, 1.0), 0.0)


def _pair_mask(n: int, start, stop) -> np.ndarray:
    """``(m, n - 1)`` mask of the neighbour pairs ``(t - 1, t)`` with neither point in ``[start, stop]``
    (per row): the pairs the noise model uses, away from the best ramp of the null fit."""
    t = np.arange(1, n)[None, :]
    lo, hi = np.asarray(start)[:, None], np.asarray(stop)[:, None]
    return ~(((t >= lo) & (t <= hi)) | ((t - 1 >= lo) & (t - 1 <= hi)))


def _masked_lag1(R: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Lag-1 autocorrelation over the neighbour pairs ``M``: ``sum r_t r_{t-1} / sum (r_t^2 + r_{t-1}^2) / 2``."""
    num = np.sum(M * R[:, 1:] * R[:, :-1], axis=1)
    den = np.sum(M * (R[:, 1:] ** 2 + R[:, :-1] ** 2), axis=1) / 2.0
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def _row_nanmedian(A: np.ndarray) -> np.ndarray:
    """Median of the non-NaN values of each row of ``A`` (NaN for a row of NaN): ``np.nanmedian(A, axis=1)``
    to the last bit, without its masked-array path (about 5 times slower on the 400-row arrays of
    :func:`phi_bias_map`)."""
    S = np.sort(A, axis=1)                                     # NaN sort last
    cnt = np.sum(~np.isnan(A), axis=1)
    lo = np.take_along_axis(S, np.maximum((cnt - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(S, np.maximum(cnt // 2, 0)[:, None], axis=1)[:, 0]
    return np.where(cnt > 0, np.where(cnt % 2 == 1, lo, (lo + hi) / 2.0), np.nan)


def _masked_diff_var(R: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Robust variance ``(1.4826 * MAD)^2`` of the first differences over the neighbour pairs ``M``."""
    D = np.where(M, np.diff(R, axis=1), np.nan)
    return (_MAD * _row_nanmedian(np.abs(D - _row_nanmedian(D)[:, None]))) ** 2


def _ols_residuals(Y: np.ndarray, S: np.ndarray) -> np.ndarray:
    q, _ = np.linalg.qr(S)
    return Y - (Y @ q) @ q.T


_BIAS_CACHE: dict = {}


def _null_fit(Y, S, Z, allowed):
    """Fit of every row of ``Y`` by OLS on ``[S, best allowed ramp]``: returns ``(smooth, resid, k)`` where
    ``smooth`` is the fitted curve without the ramp's part, ``resid`` the residuals and ``k`` the ramp's
    column of ``Z`` (-1 when no ramp is allowed)."""
    q, _ = np.linalg.qr(S)
    R = Y - (Y @ q) @ q.T
    U = Z - q @ (q.T @ Z)
    nrm2 = np.sum(U * U, axis=0)
    ok = allowed & (nrm2 > 1e-10 * max(float(nrm2.max(initial=0.0)), 1e-300))
    if not ok.any():
        return Y - R, R, np.full(len(Y), -1)
    proj = R @ np.where(ok, U / np.sqrt(np.where(ok, nrm2, 1.0)), 0.0)
    k = np.argmax(np.where(ok[None, :], proj * proj, -1.0), axis=1)
    coef = proj[np.arange(len(k)), k] / np.sqrt(nrm2[k])       # ramp coefficient of the joint fit
    resid = R - coef[:, None] * U[:, k].T
    return Y - resid - coef[:, None] * Z[:, k].T, resid, k


def _noise_stats(R: np.ndarray, k: np.ndarray, span) -> tuple[np.ndarray, np.ndarray]:
    """Lag-1 autocorrelation and robust first-difference variance of the residual rows ``R`` over the
    neighbour pairs outside each row's best ramp ``k`` widened by one point (``span = (start, stop)`` per
    candidate; rows with ``k = -1`` use every pair)."""
    n = R.shape[1]
    start = np.where(k >= 0, span[0][np.maximum(k, 0)], n + 1)
    stop = np.where(k >= 0, span[1][np.maximum(k, 0)], n + 1)
    M = _pair_mask(n, start, stop)
    return _masked_lag1(R, M), _masked_diff_var(R, M)


def phi_bias_map(Sf: np.ndarray, Z: np.ndarray, span):
    """``(grid, lag1, dvar)`` for AR(1) noise of unit variance with each ``phi`` of ``grid`` (0 to
    ``PHI_MAX`` by 0.05), simulated on this design (400 draws per value, fixed seed), of the residuals of the
    null fit (:func:`_null_fit` on the basis ``Sf`` plus the best ramp of ``Z``) outside the best ramp
    (:func:`_noise_stats`): the ``PHI_QUANTILE`` quantile of their lag-1 autocorrelation (made
    non-decreasing in ``phi``) and the mean robust first-difference variance. Cached per design."""
    key = (Sf.tobytes(), Z.tobytes())
    if key not in _BIAS_CACHE:
        rng = np.random.default_rng(20240521)
        n = Sf.shape[0]
        allowed = np.ones(Z.shape[1], dtype=bool)
        lag, dvar = [], []
        for p in _BIAS_GRID:
            _, r, k = _null_fit(ar1_noise(float(p), (_BIAS_DRAWS, n), rng), Sf, Z, allowed)
            l1, dv = _noise_stats(r, k, span)
            lag.append(np.quantile(l1, PHI_QUANTILE))
            dvar.append(np.mean(dv))
        _BIAS_CACHE[key] = (_BIAS_GRID, np.maximum.accumulate(lag), np.asarray(dvar))
    return _BIAS_CACHE[key]


def noise_model(resid, k, Sf: np.ndarray, Z: np.ndarray, span, correct: bool = True):
    """``(phi, sigma)`` of the AR(1) noise behind null-fit residuals (rows of ``resid``; ``k`` the null
    fit's ramp per row, whose span widened by one point is left out, :func:`_noise_stats`).

    ``phi``: the lag-1 autocorrelation, bias-corrected by inverting the simulated ``PHI_QUANTILE`` quantile
    curve of :func:`phi_bias_map` (``correct=False``: uncorrected), clipped to ``[0, PHI_MAX]``, rounded to
    ``PHI_STEP``. ``sigma``: marginal sd matching the robust first-difference variance, ``sqrt(q / q_1(phi))``
    with ``q = (1.4826 MAD(diff(resid)))^2`` and ``q_1`` its simulated mean for unit-variance noise on this
    design (the fit absorbs part of the noise, which ``q_1`` accounts for).
    """
    grid, lag, dvar = phi_bias_map(Sf, Z, span)
    raw, q = _noise_stats(resid, k, span)
    phi = np.interp(raw, lag, grid) if correct else raw
    phi = np.round(np.clip(phi, 0.0, PHI_MAX) / PHI_STEP) * PHI_STEP
    sigma = np.sqrt(q / np.interp(phi, grid, dvar))
    return phi, sigma
