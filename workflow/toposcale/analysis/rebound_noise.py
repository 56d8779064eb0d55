"""Noise scale of the rate-rebound test (:mod:`toposcale.analysis.rebound`): a robust high-pass estimate of
the noise sd, its exact factor under AR(1) noise, and a one-sided upper confidence bound (the module
docstring of :mod:`toposcale.analysis.rebound`, "Noise scale")."""

from __future__ import annotations

import numpy as np

from toposcale.analysis.ar1 import ar1_from_normals

_HP_CACHE: dict = {}


def high_pass_sigma(Y, x) -> np.ndarray:
    """Noise scale of each row of ``Y`` (positions ``x``) as if the noise were white: ``1.4826 *
    median_i |r_i| / ||h_i||`` with ``r_i = h_i . y`` the residual at point ``i + 2`` of the least-squares
    quadratic in ``x`` through the 5 points ``i .. i + 4`` (a high-pass filter: a smooth curve leaves ~0)
    and ``||h_i||`` the residual's sd for unit white noise. The median keeps it robust to the few windows a
    sharp drop or bend spoils (fewer than half)."""
    key = x.tobytes()
    if key not in _HP_CACHE:
        n = len(x)
        H = np.zeros((n - 4, n))
        for i in range(n - 4):
            xx = x[i:i + 5] - x[i + 2]
            A = np.column_stack([np.ones(5), xx, xx * xx])
            H[i, i:i + 5] = -(A @ np.linalg.pinv(A))[2]
            H[i, i + 2] += 1.0
        _HP_CACHE[key] = H / np.sqrt(np.sum(H * H, axis=1))[:, None]
    H = _HP_CACHE[key]
    return 1.4826 * np.median(np.abs(np.atleast_2d(Y) @ H.T), axis=1)


def high_pass_ar1_factor(x, phi: float) -> float:
    """``sqrt(median_i h_i Sigma(phi) h_i')``: the sd of the normalised high-pass residuals of
    :func:`high_pass_sigma` under stationary AR(1) noise of unit marginal variance (``Sigma_ij =
    phi^|i-j|``); 1 for white noise. ``high_pass_sigma / factor`` is the marginal sd of AR(1) noise."""
    high_pass_sigma(np.zeros(len(x)), x)
    H = _HP_CACHE[x.tobytes()]
    idx = np.arange(len(x))
    Sig = float(phi) ** np.abs(idx[:, None] - idx[None, :])
    return float(np.sqrt(np.median(np.einsum("ij,jk,ik->i", H, Sig, H))))


def sigma_upper_factor(x, phi: float, quantile=None, rng=None, n_draws: int = 2000) -> float:
    """Factor from the high-pass noise scale ``sigma_hat`` (:func:`high_pass_sigma`) to the marginal sd of
    the null's AR(1) noise. ``quantile`` None: ``1 / high_pass_ar1_factor(x, phi)`` (the point estimate).
    Else the ``quantile`` of ``1 / s`` over ``n_draws`` stationary unit-variance AR(1) series at ``x``, ``s``
    their :func:`high_pass_sigma`: ``sigma_hat`` times it is a one-sided upper confidence bound of the
    marginal sd (``sigma_hat`` is a median of ~n - 4 residuals: its relative sd is about 0.2 at 25-32
    points)."""
    if quantile is None:
        return 1.0 / high_pass_ar1_factor(x, phi)
    rng = np.random.default_rng(0) if rng is None else rng
    s = high_pass_sigma(ar1_from_normals(rng.standard_normal((n_draws, len(x))), phi), x)
    return float(np.quantile(1.0 / s, quantile))
