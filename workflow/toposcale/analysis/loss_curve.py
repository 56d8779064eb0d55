"""The loss-curve model of forecasting: ``L(t) = E + A (t + t0)^(-alpha)`` by constrained least squares.

``t`` is the training step; ``E >= 0`` the loss the curve approaches, ``A >= 0`` its scale, ``alpha`` in
[0.01, 3] its decay exponent and ``t0`` in [0, last step] an offset that absorbs the initial plateau of
the loss. With ``t0 = 0`` it is a plain power law plus a constant (not the log-log fit
:func:`toposcale.stats.loglog_fit`, which has no constant).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize

#: Decay exponents of the starting grid: 48 log-spaced values in [0.01, 3].
_ALPHA_GRID = np.geomspace(0.01, 3.0, 48)


def _nonneg_fit(u: np.ndarray, y: np.ndarray):
    """Least squares ``y ~ E + A u`` with ``E, A >= 0`` for each row of ``u`` (G, m); returns E, A, SSE.

    The objective is a convex quadratic, so the optimum is the unconstrained one when feasible and
    otherwise the better of the two boundary optima (``A = 0``: ``E = max(mean y, 0)``; ``E = 0``:
    ``A = max(u.y / u.u, 0)``).
    """
    ub = u.mean(axis=1, keepdims=True)
    yb = float(y.mean())
    du = u - ub
    suu = np.sum(du * du, axis=1)
    a_ols = np.where(suu > 0, np.sum(du * (y - yb), axis=1) / np.where(suu > 0, suu, 1.0), 0.0)
    e_ols = yb - a_ols * ub[:, 0]
    uu = np.sum(u * u, axis=1)
    cands = [
        (e_ols, a_ols, (a_ols >= 0) & (e_ols >= 0)),
        (np.full(len(u), max(yb, 0.0)), np.zeros(len(u)), np.ones(len(u), dtype=bool)),
        (np.zeros(len(u)), np.maximum(np.sum(u * y, axis=1) / np.where(uu > 0, uu, 1.0), 0.0),
         np.ones(len(u), dtype=bool)),
    ]
    best_e = np.zeros(len(u))
    best_a = np.zeros(len(u))
    best_s = np.full(len(u), np.inf)
    for e, a, ok in cands:
        resid = y[None, :] - e[:, None] - a[:, None] * u
        sse = np.where(ok, np.sum(resid * resid, axis=1), np.inf)
        better = sse < best_s
        best_e, best_a, best_s = (np.where(better, e, best_e), np.where(better, a, best_a),
                                  np.where(better, sse, best_s))
    return best_e, best_a, best_s


def fit_loss_curve(step, loss, *, offset: bool = True) -> dict:
    """Fit ``L(t) = E + A (t + t0)^(-alpha)`` by constrained least squares.

    For every ``(alpha, t0)`` on a grid (48 log-spaced ``alpha`` in [0.01, 3]; ``t0`` = 0 and 15
    log-spaced values up to the last step, or only 0 when ``offset`` is False or there are fewer than 6
    points) the linear parameters ``E, A >= 0`` are solved exactly; the best cell is then refined by
    Nelder-Mead on ``(log alpha, log(1 + t0))`` within the same bounds.

    Parameters
    ----------
    step : array_like
        Positive training steps.
    loss : array_like
        Loss at those steps.
    offset : bool
        Fit ``t0`` (else ``t0 = 0``: the plain power law).

    Returns
    -------
    dict
        ``E``, ``A``, ``alpha``, ``t0``, ``sse`` (sum of squared residuals), ``n`` (points).
    """
    t = np.asarray(step, dtype=float)
    y = np.asarray(loss, dtype=float)
    if t.shape != y.shape or t.ndim != 1:
        raise ValueError(f"step and loss must be 1-D of equal length, got {t.shape} and {y.shape}")
    if len(t) < 3:
        raise ValueError(f"a power law needs at least 3 points, got {len(t)}; observe a longer prefix")
    if np.any(t <= 0) or not np.all(np.isfinite(y)):
        raise ValueError("steps must be positive and losses finite; drop step 0 and NaN losses")
    use_t0 = offset and len(t) >= 6
    t0s = np.concatenate([[0.0], np.geomspace(0.5, t.max(), 15)]) if use_t0 else np.array([0.0])
    alpha, t0 = np.meshgrid(_ALPHA_GRID, t0s, indexing="ij")
    alpha, t0 = alpha.ravel(), t0.ravel()
    u = (t[None, :] + t0[:, None]) ** (-alpha[:, None])
    e, a, sse = _nonneg_fit(u, y)
    k = int(np.argmin(sse))

    def objective(z):
        al = float(np.clip(math.exp(z[0]), 0.01, 3.0))
        off = float(np.clip(math.expm1(z[1]), 0.0, t.max())) if use_t0 else 0.0
        return float(_nonneg_fit(((t + off) ** -al)[None, :], y)[2][0])

    z0 = [math.log(alpha[k]), math.log1p(t0[k])]
    res = minimize(objective, z0, method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-14,
                                                                  "maxiter": 400})
    z = res.x if res.fun <= sse[k] else np.array(z0)
    al = float(np.clip(math.exp(z[0]), 0.01, 3.0))
    off = float(np.clip(math.expm1(z[1]), 0.0, t.max())) if use_t0 else 0.0
    e1, a1, s1 = _nonneg_fit(((t + off) ** -al)[None, :], y)
    return {"E": float(e1[0]), "A": float(a1[0]), "alpha": al, "t0": off, "sse": float(s1[0]),
            "n": int(len(t))}


def predict_loss_curve(fit: dict, step) -> np.ndarray:
    """Evaluate a :func:`fit_loss_curve` result at ``step``: ``E + A (step + t0)^(-alpha)``."""
    s = np.asarray(step, dtype=float)
    return fit["E"] + fit["A"] * (s + fit["t0"]) ** (-fit["alpha"])
