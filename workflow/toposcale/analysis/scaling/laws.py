"""Scaling laws: law definitions, the log-space Huber objective, fits and prediction.

Laws
----
``chinchilla``
    ``L(N, D) = E + A / N**alpha + B / D**beta`` (Hoffmann et al. 2022, "approach 3"), fitted the
    corrected way of Besiroglu et al. (2024): in log space,
    ``log L_hat = LSE(a - alpha log N, b - beta log D, e)`` with ``A = exp(a)``, ``B = exp(b)``,
    ``E = exp(e)`` and ``LSE`` the log-sum-exp; the objective is the Huber loss (threshold ``delta``)
    of the residuals ``log L - log L_hat``, **summed** over points, minimised by L-BFGS-B from every
    start of a grid; the best fit among the starts that converged is kept and reported unrounded.
``compute``
    ``L(C) = E + A * C**(-alpha)`` with ``C = 6 N D`` training FLOPs, for grids whose tokens per
    parameter is fixed (then N and D are not separately identifiable). Same log-space LSE + Huber
    fit with ``log L_hat = LSE(a - alpha log C, e)``.
``power``
    ``L(C) = A * C**(-alpha)`` fitted by ordinary least squares of ``log L`` on ``log C``
    (:func:`toposcale.stats.loglog_fit`): the irreducible-loss-free law of the earlier scaling harness,
    kept for comparison.

Units: N = non-embedding parameters, D = training tokens, C = 6 N D FLOPs, L = validation
cross-entropy in nats per token.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.optimize  # noqa: F401  (load scipy's BLAS before single_thread limits it)
from scipy.optimize import minimize

from toposcale.plan.decidability import LAW_PARAMETERS
from toposcale.stats import loglog_fit

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
    threadpool_limits = None

#: L-BFGS-B settings. The summed Huber objective is tiny (about 1e-5 for 1% log residuals and
#: delta = 1e-3) while scipy's ``ftol`` is relative to ``max(|f|, 1)``, so the defaults would stop
#: far from the optimum; these tolerances polish the fit to ~1e-9 in the exponents.
_LBFGS_OPTIONS = {"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-10}


def single_thread(func):
    """Run ``func`` with BLAS limited to one thread.

    scipy's L-BFGS-B calls BLAS on 5-vectors; a multi-threaded OpenBLAS spinning on a busy machine
    made each call ~100x slower (measured 186 ms vs 1.2 ms per small fit on 2 shared cores).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if threadpool_limits is None:  # pragma: no cover - threadpoolctl ships with scikit-learn
            return func(*args, **kwargs)
        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)
    return wrapper


# ---------------------------------------------------------------------------------------------
# Law specifications
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Law:
    """A law ``log L_hat = LSE_k(X[:, k, :] @ theta)`` linear in ``theta`` inside each LSE term."""

    name: str
    theta_names: tuple[str, ...]       # optimisation variables, in order
    inputs: tuple[str, ...]            # data columns the law needs
    design: Callable[[dict], np.ndarray]  # data -> X of shape (n, K, P)

    @property
    def n_params(self) -> int:
        return len(self.theta_names)


def _design_chinchilla(data: dict) -> np.ndarray:
    x, y = np.log(data["N"]), np.log(data["D"])
    n = len(x)
    X = np.zeros((n, 3, 5))            # theta = (a, b, e, alpha, beta)
    X[:, 0, 0], X[:, 0, 3] = 1.0, -x   # a - alpha log N
    X[:, 1, 1], X[:, 1, 4] = 1.0, -y   # b - beta log D
    X[:, 2, 2] = 1.0                   # e
    return X


def _design_compute(data: dict) -> np.ndarray:
    c = np.log(data["C"])
    X = np.zeros((len(c), 2, 3))       # theta = (a, e, alpha)
    X[:, 0, 0], X[:, 0, 2] = 1.0, -c   # a - alpha log C
    X[:, 1, 1] = 1.0                   # e
    return X


LAWS = {
    "chinchilla": _Law("chinchilla", ("a", "b", "e", "alpha", "beta"), ("N", "D"), _design_chinchilla),
    "compute": _Law("compute", ("a", "e", "alpha"), ("C",), _design_compute),
}


def _exp(x: float) -> float:
    """``exp(x)``, ``inf`` where it overflows a float (x > ~709.78) instead of raising."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def theta_to_params(law: str, theta: np.ndarray) -> dict:
    """Reported parameters of ``law`` from its log-space variables: ``E = exp(e)``, ``A = exp(a)``,
    ``B = exp(b)``; the exponents unchanged. A log-scale beyond the float range (a bootstrap resample of
    flat losses, e.g. every size on one n-gram plateau, can drive ``a`` to ~1e3 with a large exponent)
    gives an infinite scale, so the resample widens the interval (:func:`toposcale.stats.percentile_ci`
    keeps infinite samples) instead of stopping the analysis.

    >>> theta_to_params("compute", np.array([1000.0, 0.0, 80.0]))["A"]
    inf
    """
    t = dict(zip(LAWS[law].theta_names, (float(v) for v in theta)))
    if law == "chinchilla":
        return {"E": _exp(t["e"]), "A": _exp(t["a"]), "B": _exp(t["b"]),
                "alpha": t["alpha"], "beta": t["beta"]}
    return {"E": _exp(t["e"]), "A": _exp(t["a"]), "alpha": t["alpha"]}


def law_parameters(law: str) -> tuple[str, ...]:
    """Names of the reported parameters of ``law`` ('chinchilla', 'compute' or 'power'):
    :data:`toposcale.plan.decidability.LAW_PARAMETERS`."""
    return LAW_PARAMETERS[law]


def start_grid(law: str = "chinchilla", n_exponent: int = 5, n_offset: int = 5,
               n_coef: int = 6) -> dict[str, np.ndarray]:
    """Grid of L-BFGS initial values (Besiroglu et al. 2024 ranges).

    Exponents (``alpha``, ``beta``) take ``n_exponent`` evenly spaced values in [0, 2], ``e``
    ``n_offset`` values in [-1, 1] and the log-coefficients ``a``, ``b`` ``n_coef`` values in
    [0, 25]. The defaults give 5 * 5 * 5 * 6 * 6 = 4500 starts for 'chinchilla' and
    5 * 5 * 6 = 150 for 'compute'; tests use coarser grids.
    """
    for name, k in (("n_exponent", n_exponent), ("n_offset", n_offset), ("n_coef", n_coef)):
        if int(k) < 1:
            raise ValueError(f"start_grid: {name}={k} must be >= 1")
    if law not in LAWS:
        raise ValueError(f"start_grid: unknown law {law!r}; use one of {sorted(LAWS)}")
    axis = {"alpha": np.linspace(0, 2, n_exponent), "beta": np.linspace(0, 2, n_exponent),
            "e": np.linspace(-1, 1, n_offset), "a": np.linspace(0, 25, n_coef),
            "b": np.linspace(0, 25, n_coef)}
    return {k: axis[k] for k in LAWS[law].theta_names}


def _grid_starts(law: str, grid: dict | None) -> np.ndarray:
    grid = start_grid(law) if grid is None else grid
    names = LAWS[law].theta_names
    missing = [k for k in names if k not in grid]
    if missing:
        raise ValueError(f"grid for the {law!r} law lacks {missing}; give 1-D arrays for {list(names)} "
                         f"(see toposcale.analysis.scaling.start_grid)")
    axes = [np.atleast_1d(np.asarray(grid[k], dtype=float)) for k in names]
    return np.array(list(itertools.product(*axes)))


# ---------------------------------------------------------------------------------------------
# Objective and optimiser
# ---------------------------------------------------------------------------------------------

def huber(r: np.ndarray, delta: float) -> np.ndarray:
    """Huber loss: ``r**2 / 2`` where ``|r| <= delta``, else ``delta * (|r| - delta / 2)``."""
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def _lse(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-sum-exp over axis 1 and the softmax weights."""
    m = T.max(axis=1, keepdims=True)
    ex = np.exp(T - m)
    s = ex.sum(axis=1, keepdims=True)
    return (m + np.log(s))[:, 0], ex / s


def _objective(theta: np.ndarray, X: np.ndarray, logL: np.ndarray, delta: float, w: np.ndarray):
    """Sum over points of ``w_i * huber(log L_i - log L_hat_i)`` and its gradient in ``theta``."""
    n, K, P = X.shape
    f, soft = _lse(X @ theta)
    r = logL - f
    a = np.abs(r)
    obj = float(w @ np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)))
    dr = w * np.clip(r, -delta, delta)                  # d huber / d r
    # d r / d theta = -d f / d theta = -sum_k softmax_k * X[:, k, :]
    grad = -((dr[:, None] * soft).reshape(n * K) @ X.reshape(n * K, P))
    return obj, grad


def _minimise(theta0, X, logL, delta, w):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = minimize(_objective, theta0, args=(X, logL, delta, w), jac=True, method="L-BFGS-B",
                       options=_LBFGS_OPTIONS)
    ok = bool(res.success) and np.all(np.isfinite(res.x)) and np.isfinite(res.fun)
    return res.x, float(res.fun), ok


def best_of(starts: np.ndarray, X, logL, delta, w):
    """Run L-BFGS-B from every start; return the best converged (else best overall) result."""
    results = [(*_minimise(s, X, logL, delta, w), i) for i, s in enumerate(starts)]
    conv = [r for r in results if r[2]]
    pool = conv if conv else [r for r in results if np.isfinite(r[1])]
    if not pool:
        raise RuntimeError("every L-BFGS start diverged; check the data for extreme values")
    theta, fun, ok, _ = min(pool, key=lambda r: r[1])
    return theta, fun, ok, len(conv), results


# ---------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------

def as_column(name: str, values, n: int | None = None) -> np.ndarray:
    """``values`` as a flat float array of length ``n`` (if given); ValueError naming ``name`` when a value
    is NaN, infinite or <= 0 (the laws are fitted in log space)."""
    a = np.asarray(values, dtype=float).ravel()
    if n is not None and len(a) != n:
        raise ValueError(f"column {name!r} has {len(a)} values, the others {n}; give equal-length inputs")
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise ValueError(f"column {name!r} has NaN or infinite values at rows {bad[:10].tolist()}; "
                         f"drop those rows or fill them before fitting")
    bad = np.flatnonzero(a <= 0)
    if bad.size:
        raise ValueError(f"column {name!r} must be positive (the laws are fitted in log space) but rows "
                         f"{bad[:10].tolist()} are <= 0 (e.g. {a[bad[0]]!r}); drop or correct those rows")
    return a


def _check_count(law: str, n: int, n_params: int) -> None:
    if n < n_params + 1:
        raise ValueError(f"the {law!r} law has {n_params} parameters and needs at least {n_params + 1} "
                         f"points (one degree of freedom), got {n}; add runs or fit a law with fewer "
                         f"parameters (e.g. the 'power' law needs 3)")


def _prepare(law: str, data: dict) -> dict:
    spec = LAWS[law]
    n = len(np.asarray(data["L"]).ravel())
    out = {k: as_column(k, data[k], n) for k in spec.inputs}
    out["L"] = as_column("loss", data["L"], n)
    _check_count(law, n, spec.n_params)
    if law == "chinchilla":
        check_identifiable(out["N"], out["D"])
    return out


def check_identifiable(N: np.ndarray, D: np.ndarray) -> None:
    """ValueError when ``log N`` or ``log D`` is constant or the two are collinear (``|r| > 1 - 1e-9``):
    then the two-variable law cannot tell its N and D terms apart."""
    x, y = np.log(N), np.log(D)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        col = "N" if np.ptp(x) == 0 else "D"
        raise ValueError(f"column {col!r} is constant, so its term cannot be told apart from E; "
                         f"vary both N and D, or fit L(C) with fit_compute_law")
    r = np.corrcoef(x, y)[0, 1]
    if abs(r) > 1 - 1e-9:
        raise ValueError("log N and log D are collinear (e.g. a fixed tokens-per-parameter ratio), so "
                         "A/N^alpha and B/D^beta are not separately identifiable; fit L(C) with "
                         "fit_compute_law, or train several tokens-per-parameter values")


# ---------------------------------------------------------------------------------------------
# Fits
# ---------------------------------------------------------------------------------------------

def _fit_lse(law: str, data: dict, delta: float, grid: dict | None, starts=None, weights=None) -> dict:
    if not delta > 0:
        raise ValueError(f"delta={delta} must be > 0 (the Huber threshold in log-loss units)")
    spec = LAWS[law]
    X = spec.design(data)
    logL = np.log(data["L"])
    w = np.ones(len(logL)) if weights is None else weights
    starts = _grid_starts(law, grid) if starts is None else starts
    theta, fun, ok, n_conv, results = best_of(starts, X, logL, delta, w)
    f, _ = _lse(X @ theta)
    resid = logL - f
    fit = {"law": law, "params": theta_to_params(law, theta),
           "theta": dict(zip(spec.theta_names, map(float, theta))),
           "objective": fun, "converged": ok, "n_starts": int(len(starts)),
           "n_converged": int(n_conv), "delta": float(delta), "n_points": int(len(logL)),
           "residuals_log": resid.tolist(),
           "data": {k: np.asarray(v, dtype=float).tolist() for k, v in data.items()},
           "_local_minima": _distinct_minima(theta, results)}
    return fit


def _distinct_minima(theta_hat: np.ndarray, results: list, k: int = 8, tol: float = 1e-3) -> np.ndarray:
    """Up to ``k`` converged end points, best first, differing from ``theta_hat`` and from each
    other by more than ``tol`` in some log-space variable (the other local minima of the grid)."""
    kept = [np.asarray(theta_hat, float)]
    for th, fun, ok, _ in sorted((r for r in results if r[2]), key=lambda r: r[1]):
        if len(kept) > k:
            break
        if all(np.max(np.abs(th - q)) > tol for q in kept):
            kept.append(th)
    return np.array(kept[1:]).reshape(-1, len(theta_hat))


@single_thread
def fit_chinchilla(N, D, L, delta: float = 1e-3, grid: dict | None = None) -> dict:
    """Fit ``L = E + A / N**alpha + B / D**beta`` (Besiroglu et al. 2024 corrected approach 3).

    Parameters
    ----------
    N, D, L : array-like
        Non-embedding parameters, training tokens and final loss (nats/token) of each run; positive.
    delta : float
        Huber threshold on the log-space residual ``log L - log L_hat``.
    grid : dict, optional
        1-D arrays of initial values for ``a, b, e, alpha, beta`` (see :func:`start_grid`); every
        combination is a start. Default: the 4500-start grid of Besiroglu et al.

    Returns
    -------
    dict
        ``law`` ('chinchilla'), ``params`` (E, A, B, alpha, beta; unrounded), ``theta`` (the log-space
        variables a, b, e, alpha, beta), ``objective`` (summed Huber loss at the optimum),
        ``converged`` (the kept start converged), ``n_starts``, ``n_converged``, ``delta``,
        ``n_points``, ``residuals_log`` and ``data`` (the inputs, for bootstrapping).
    """
    data = _prepare("chinchilla", {"N": N, "D": D, "L": L})
    return _fit_lse("chinchilla", data, delta, grid)


@single_thread
def fit_compute_law(C, L, delta: float = 1e-3, grid: dict | None = None) -> dict:
    """Fit ``L = E + A * C**(-alpha)`` in log space with the summed Huber loss (see module doc).

    ``C`` is training compute in FLOPs (``6 N D``), ``L`` the final loss in nats/token; ``grid``
    holds initial values for ``a, e, alpha`` (default 150 starts, :func:`start_grid`). Returns the
    same keys as :func:`fit_chinchilla` with ``law`` 'compute' and ``params`` E, A, alpha.
    """
    data = _prepare("compute", {"C": C, "L": L})
    return _fit_lse("compute", data, delta, grid)


def fit_power_law(x, y) -> dict:
    """Fit ``y = A * x**(-alpha)`` by least squares of ``log y`` on ``log x`` (:func:`toposcale.stats.loglog_fit`).

    Returns ``law`` 'power', ``params`` (A, alpha), ``r2`` (of the log-log regression),
    ``residuals_log``, ``n_points`` and ``data`` (x as 'C', y as 'L'). Needs at least 3 points and
    two distinct x values.
    """
    data = {"C": as_column("x", x), "L": as_column("y", y)}
    n = len(data["C"])
    if len(data["L"]) != n:
        raise ValueError(f"fit_power_law: x has {n} values and y {len(data['L'])}; give equal lengths")
    _check_count("power", n, 2)
    if np.ptp(np.log(data["C"])) == 0:
        raise ValueError("fit_power_law: every x is equal, so the exponent is undefined; vary x")
    fit = loglog_fit(data["C"], data["L"])
    return {"law": "power", "params": {"A": math.exp(fit["intercept"]), "alpha": -fit["slope"]},
            "r2": fit["r2"], "residuals_log": fit["residuals"].tolist(), "n_points": n,
            "data": {"C": data["C"].tolist(), "L": data["L"].tolist()}}


# ---------------------------------------------------------------------------------------------
# Prediction
# ---------------------------------------------------------------------------------------------

def predict_params(law: str, p: dict, N=None, D=None, C=None) -> np.ndarray:
    """Loss of ``law`` with reported parameters ``p`` at new points (see :func:`predict`). An infinite
    scale (:func:`theta_to_params` of an overflowed resample) predicts an infinite loss, so a prediction
    interval keeps the draw as an infinite bound rather than dropping it as NaN (``inf * 0``)."""
    if law == "chinchilla":
        if N is None or D is None:
            raise ValueError("the 'chinchilla' law predicts from N and D; pass both")
        N, D = np.asarray(N, float), np.asarray(D, float)
        return p["E"] + _term(p["A"], N, p["alpha"]) + _term(p["B"], D, p["beta"])
    if C is None:
        if N is None or D is None:
            raise ValueError(f"the {law!r} law predicts from C (or from N and D with C = 6 N D)")
        C = 6.0 * np.asarray(N, float) * np.asarray(D, float)
    C = np.asarray(C, float)
    if law == "compute":
        return p["E"] + _term(p["A"], C, p["alpha"])
    return _term(p["A"], C, p["alpha"])


def _term(scale: float, x: np.ndarray, exponent: float) -> np.ndarray:
    """``scale * x ** -exponent``; infinite everywhere when ``scale`` is (see :func:`predict_params`)."""
    if math.isinf(scale):
        return np.full(np.shape(x), math.inf)
    return scale * x ** (-exponent)


def predict(fit: dict, N=None, D=None, C=None) -> np.ndarray:
    """Loss predicted by a fitted law at new points (nats/token).

    'chinchilla' needs ``N`` and ``D``; 'compute' and 'power' use ``C`` or, if only ``N`` and ``D``
    are given, ``C = 6 N D``.
    """
    return predict_params(fit["law"], fit["params"], N=N, D=D, C=C)

