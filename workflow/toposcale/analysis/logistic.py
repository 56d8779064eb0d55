"""Logistic transition fits with bootstrap intervals and an AICc comparison against simple nulls.

Model
-----
A series ``y`` (a 0-1 capability score, a loss, any metric) against a predictor ``x`` (usually
``log10(training step)`` or ``log10(parameters)``) is fitted by least squares to

    logistic:   y = lo + (hi - lo) * sigma(beta * (x - x0)),      sigma(z) = 1 / (1 + exp(-z))

with ``beta >= 0`` (a falling series has ``hi < lo``). ``beta`` is the steepness in units of 1/x: with
``x = log10(step)`` it is per decade of steps, and the curve moves from 12 % to 88 % of its range
over ``4 / beta`` decades around the midpoint ``x0``.

Nulls
-----
* power law (:func:`fit_offset_power_law`): ``y = c + a * exp(b * (x - mean(x)))``; with ``x = log10(s)``
  this is ``c + a' * s**(b / ln 10)``, a power law in the raw step or parameter count plus an offset;
* linear (:func:`fit_linear`): ``y = a + b * x``.

Comparison
----------
Gaussian errors, small-sample corrected Akaike criterion
``AICc = n ln(RSS / n) + 2k + 2k(k + 1) / (n - k - 1)``, where ``k`` counts the mean parameters plus one
for the error variance (logistic 5, power law 4, linear 3); AICc is infinite when ``n <= k + 1``.
``delta_aicc = min(AICc of the nulls) - AICc(logistic)``; positive values favour the logistic.

A logistic is *supported* (see :func:`logistic_support`) when the fit converged, ``beta`` is not at its
upper bound (an unresolved jump has no measurable steepness), the midpoint ``x0`` lies inside the
observed ``x`` range (otherwise the transition was not observed), and ``delta_aicc >= 2``.

Intervals
---------
Residual bootstrap (:func:`bootstrap_logistic`): ``y* = fitted + e*`` with ``e*`` drawn with replacement
from the centred residuals inflated by ``sqrt(n / (n - 4))``; each resample is refitted and the
percentile interval of ``beta`` and ``x0`` over converged refits is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares, minimize_scalar
from scipy.special import expit

#: Number of fitted mean parameters per model (the error variance adds one more to ``k`` in AICc).
N_MEAN_PARAMS = {"logistic": 4, "power_law": 3, "linear": 2}
#: Upper bound of ``beta`` in units of ``1 / ptp(x)``: steeper curves are indistinguishable from a jump.
BETA_MAX_PER_RANGE = 200.0
#: Function evaluations per least-squares start.
MAX_NFEV = 300
#: Smallest ``delta_aicc`` that counts as support for the logistic (Burnham & Anderson's rule of thumb).
MIN_DELTA_AICC = 2.0


def logistic(x, lo, hi, beta, x0):
    """``lo + (hi - lo) * sigma(beta * (x - x0))`` evaluated elementwise (numerically stable)."""
    return lo + (hi - lo) * expit(beta * (np.asarray(x, float) - x0))


@dataclass
class LogisticFit:
    """Least-squares logistic fit of ``y`` against ``x``.

    Attributes
    ----------
    lo, hi, beta, x0 : float
        Parameters of :func:`logistic` (``beta`` in 1/x units). NaN when no fit was possible.
    rss : float
        Residual sum of squares.
    n : int
        Number of finite ``(x, y)`` pairs used.
    converged : bool
        The optimiser reported success and the parameters are finite.
    beta_at_bound : bool
        ``beta`` reached ``BETA_MAX_PER_RANGE / ptp(x)``: the data show a jump, not a measurable slope.
    """

    lo: float
    hi: float
    beta: float
    x0: float
    rss: float
    n: int
    converged: bool
    beta_at_bound: bool = False
    beta_max: float = float("nan")

    def predict(self, x):
        """Fitted values at ``x``."""
        return logistic(x, self.lo, self.hi, self.beta, self.x0)


@dataclass
class NullFit:
    """Least-squares fit of a null model: ``name`` ('power_law' or 'linear'), parameters and RSS."""

    name: str
    params: tuple
    rss: float
    n: int
    converged: bool
    extra: dict = field(default_factory=dict)


def _clean_xy(x, y):
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def _nan_fit(n):
    return LogisticFit(np.nan, np.nan, np.nan, np.nan, np.nan, n, False)


def _lsq_logistic(x, y, start, bounds):
    """One bounded trust-region least-squares fit with the analytic Jacobian (None if it fails)."""
    def resid(p):
        return logistic(x, *p) - y

    def jac(p):
        lo, hi, beta, x0 = p
        s = expit(beta * (x - x0))
        ds = (hi - lo) * s * (1 - s)
        return np.column_stack([1 - s, s, ds * (x - x0), -ds * beta])

    try:
        res = least_squares(resid, start, jac=jac, bounds=bounds, method="trf", x_scale="jac", max_nfev=MAX_NFEV)
    except ValueError:
        return None
    return res


def fit_logistic(x, y, *, starts=None) -> LogisticFit:
    """Fit :func:`logistic` to ``(x, y)`` by bounded least squares from several starting points.

    Parameters
    ----------
    x, y : array-like
        Predictor and response; pairs with a non-finite value are ignored.
    starts : list of 4-tuples, optional
        Starting points ``(lo, hi, beta, x0)``. Default: ``lo`` and ``hi`` from the means of the first
        and last fifth of the points in ``x`` order, ``beta`` in ``{2, 8, 32} / ptp(x)``, ``x0`` at the
        0.15, 0.5 and 0.85 quantiles of ``x`` (9 starts). The lowest-RSS solution is kept.

    Returns
    -------
    LogisticFit
        With ``converged=False`` and NaN parameters when fewer than 5 points remain (4 would be
        interpolated), ``x`` or ``y`` is constant, or no start succeeded; ``converged`` is also False
        when the best start stopped at ``MAX_NFEV`` evaluations.

    Notes
    -----
    Bounds: ``beta`` in ``[0, BETA_MAX_PER_RANGE / ptp(x)]``, ``x0`` within the observed range widened
    by ``ptp(x)`` on each side, ``lo`` and ``hi`` within the observed ``y`` range widened by ``ptp(y)``.
    """
    x, y = _clean_xy(x, y)
    n = x.size
    if n < 5 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return _nan_fit(n)
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    rx, ry = float(np.ptp(x)), float(np.ptp(y))
    beta_max = BETA_MAX_PER_RANGE / rx
    lower = [ys.min() - ry, ys.min() - ry, 0.0, xs[0] - rx]
    upper = [ys.max() + ry, ys.max() + ry, beta_max, xs[-1] + rx]
    if starts is None:
        m = max(1, n // 5)
        lo0, hi0 = float(ys[:m].mean()), float(ys[-m:].mean())
        if lo0 == hi0:
            hi0 = lo0 + ry
        starts = [(lo0, hi0, c / rx, q) for c in (2.0, 8.0, 32.0)
                  for q in np.quantile(xs, [0.15, 0.5, 0.85])]
    best = None
    for s in starts:
        s = np.clip(np.asarray(s, float), np.asarray(lower) + 1e-12, np.asarray(upper) - 1e-12)
        res = _lsq_logistic(x, y, s, (lower, upper))
        if res is None or not np.all(np.isfinite(res.x)):
            continue
        rss = float(np.sum(res.fun ** 2))
        if best is None or rss < best[1]:
            best = (res, rss)
    if best is None:
        return _nan_fit(n)
    res, rss = best
    lo, hi, beta, x0 = (float(v) for v in res.x)
    return LogisticFit(lo, hi, beta, x0, rss, n, bool(res.success) or res.status > 0,
                       beta_at_bound=bool(beta >= 0.999 * beta_max), beta_max=beta_max)


def fit_linear(x, y) -> NullFit:
    """Ordinary least squares ``y = a + b * x``; ``params = (a, b)``."""
    x, y = _clean_xy(x, y)
    n = x.size
    if n < 2 or np.ptp(x) == 0:
        return NullFit("linear", (np.nan, np.nan), np.nan, n, False)
    b, a = np.polyfit(x, y, 1)
    rss = float(np.sum((a + b * x - y) ** 2))
    return NullFit("linear", (float(a), float(b)), rss, n, True)


def fit_offset_power_law(x, y) -> NullFit:
    """Least squares ``y = c + a * exp(b * (x - xbar))`` with ``xbar = mean(x)``; ``params = (c, a, b)``.

    With ``x = log10(s)`` this is a power law in ``s`` with exponent ``b / ln(10)`` plus an offset ``c``.
    For a fixed ``b`` the model is linear in ``(c, a)``, so ``b`` is found by a bounded scalar search
    (``|b| <= 50 / ptp(x)``) over the profile RSS, starting from a grid of 41 values.
    """
    x, y = _clean_xy(x, y)
    n = x.size
    if n < 3 or np.ptp(x) == 0:
        return NullFit("power_law", (np.nan, np.nan, np.nan), np.nan, n, False)
    xbar = float(x.mean())
    z = x - xbar
    bmax = 50.0 / float(np.ptp(x))

    def profile(b):
        design = np.column_stack([np.ones_like(z), np.exp(b * z)])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        return float(np.sum((design @ coef - y) ** 2)), coef

    grid = np.linspace(-bmax, bmax, 41)
    rss_grid = [profile(b)[0] for b in grid]
    i = int(np.argmin(rss_grid))
    lo_b, hi_b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    res = minimize_scalar(lambda b: profile(b)[0], bounds=(lo_b, hi_b), method="bounded")
    b = float(res.x) if res.fun <= rss_grid[i] else float(grid[i])
    rss, (c, a) = profile(b)
    return NullFit("power_law", (float(c), float(a), b), rss, n, True, {"xbar": xbar})


def aicc(rss: float, n: int, n_mean_params: int) -> float:
    """Small-sample corrected AIC for Gaussian least squares.

    ``AICc = n ln(RSS/n) + 2k + 2k(k+1)/(n-k-1)`` with ``k = n_mean_params + 1`` (the error variance).
    Returns ``inf`` when ``n <= k + 1`` or the RSS is not finite. An RSS of exactly 0 is floored at
    ``1e-300`` so noise-free data give a very negative, finite value.
    """
    k = n_mean_params + 1
    if not np.isfinite(rss) or n <= k + 1:
        return float("inf")
    return float(n * np.log(max(rss, 1e-300) / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1))


def bootstrap_logistic(x, y, fit: LogisticFit, *, n_bootstrap: int = 200, seed: int = 0,
                       ci: float = 0.95) -> dict:
    """Residual-bootstrap percentile intervals for ``beta`` and ``x0``.

    Parameters
    ----------
    x, y : array-like
        The data ``fit`` was made on.
    fit : LogisticFit
        A converged fit (otherwise every interval is NaN).
    n_bootstrap : int
        Number of resamples; each is refitted from the original estimate (and, if that fails to
        converge, from the default starts of :func:`fit_logistic`).
    ci : float
        Coverage of the two-sided percentile interval.

    Returns
    -------
    dict
        ``beta_ci_low, beta_ci_high, x0_ci_low, x0_ci_high`` and ``n_boot_ok`` (converged refits).
    """
    out = {"beta_ci_low": np.nan, "beta_ci_high": np.nan, "x0_ci_low": np.nan, "x0_ci_high": np.nan,
           "n_boot_ok": 0}
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be >= 1, got {n_bootstrap}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    x, y = _clean_xy(x, y)
    if not fit.converged or x.size < 5:
        return out
    fitted = fit.predict(x)
    resid = y - fitted
    resid = (resid - resid.mean()) * np.sqrt(x.size / (x.size - 4))
    rng = np.random.default_rng(seed)
    start = (fit.lo, fit.hi, fit.beta, fit.x0)
    betas, x0s = [], []
    for _ in range(n_bootstrap):
        y_star = fitted + rng.choice(resid, size=resid.size, replace=True)
        f = fit_logistic(x, y_star, starts=[start])
        if not f.converged:
            f = fit_logistic(x, y_star)
        if f.converged:
            betas.append(f.beta)
            x0s.append(f.x0)
    if betas:
        a = (1 - ci) / 2
        out.update(beta_ci_low=float(np.quantile(betas, a)), beta_ci_high=float(np.quantile(betas, 1 - a)),
                   x0_ci_low=float(np.quantile(x0s, a)), x0_ci_high=float(np.quantile(x0s, 1 - a)),
                   n_boot_ok=len(betas))
    return out


def compare_models(x, y, fit: LogisticFit | None = None) -> dict:
    """AICc of the logistic, power-law and linear models on the same points.

    Returns
    -------
    dict
        ``aicc_logistic, aicc_power_law, aicc_linear``, ``best_model`` (lowest AICc; ties go to the
        simpler model), ``best_null`` and ``delta_aicc = AICc(best null) - AICc(logistic)``.
    """
    x, y = _clean_xy(x, y)
    fit = fit if fit is not None else fit_logistic(x, y)
    fits = {"logistic": fit.rss if fit.converged else np.nan,
            "power_law": fit_offset_power_law(x, y).rss,
            "linear": fit_linear(x, y).rss}
    scores = {m: aicc(r, x.size, N_MEAN_PARAMS[m]) for m, r in fits.items()}
    simplest_first = sorted(scores, key=lambda m: (scores[m], N_MEAN_PARAMS[m]))
    nulls = {m: s for m, s in scores.items() if m != "logistic"}
    best_null = min(nulls, key=lambda m: (nulls[m], N_MEAN_PARAMS[m]))
    delta = nulls[best_null] - scores["logistic"]
    if not np.isfinite(scores["logistic"]):
        delta = float("-inf") if np.isfinite(nulls[best_null]) else float("nan")
    all_inf = not any(np.isfinite(v) for v in scores.values())
    return {"aicc_logistic": scores["logistic"], "aicc_power_law": scores["power_law"],
            "aicc_linear": scores["linear"], "best_model": "none" if all_inf else simplest_first[0],
            "best_null": best_null, "delta_aicc": float(delta)}


def logistic_support(x, fit: LogisticFit, comparison: dict, *, min_delta: float = MIN_DELTA_AICC):
    """Whether the data support a logistic transition, and why not.

    Returns
    -------
    (bool, str)
        ``(True, "supported")`` or ``(False, reason)``; the reasons, checked in this order, are: too few
        points for AICc (``n < 7``), the fit did not converge, ``beta`` at its upper bound, the midpoint
        outside the observed ``x`` range, and ``delta_aicc < min_delta``.
    """
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    need = N_MEAN_PARAMS["logistic"] + 3
    if fit.n < need:
        return False, f"too few points (n={fit.n} < {need}) for an AICc comparison"
    if not fit.converged:
        return False, "logistic fit did not converge"
    if fit.beta_at_bound:
        return False, "beta at its upper bound: a jump between two points, steepness not resolved"
    if not (x.min() <= fit.x0 <= x.max()):
        return False, f"midpoint x0={fit.x0:.3g} outside the observed range [{x.min():.3g}, {x.max():.3g}]"
    d = comparison["delta_aicc"]
    if not (d >= min_delta):
        return False, (f"logistic not preferred: AICc({comparison['best_null']}) - AICc(logistic) = {d:.2f} "
                       f"< {min_delta:g}")
    return True, "supported"


def analyse_logistic(x, y, *, n_bootstrap: int = 200, seed: int = 0, ci: float = 0.95) -> dict:
    """Fit, bootstrap, compare and judge a logistic transition in one call.

    Returns
    -------
    dict
        Flat, CSV-ready: ``n, lo, hi, beta, x0, rss, converged, beta_at_bound``, the intervals of
        :func:`bootstrap_logistic`, the AICc columns of :func:`compare_models`,
        ``logistic_supported`` (bool) and ``support_reason``.
    """
    xc, yc = _clean_xy(x, y)
    fit = fit_logistic(xc, yc)
    out = {"n": fit.n, "lo": fit.lo, "hi": fit.hi, "beta": fit.beta, "x0": fit.x0, "rss": fit.rss,
           "converged": fit.converged, "beta_at_bound": fit.beta_at_bound}
    out.update(bootstrap_logistic(xc, yc, fit, n_bootstrap=n_bootstrap, seed=seed, ci=ci))
    comp = compare_models(xc, yc, fit)
    out.update(comp)
    ok, reason = logistic_support(xc, fit, comp)
    out["logistic_supported"] = ok
    out["support_reason"] = reason
    return out
