"""Scaling-law fits with bootstrap intervals, holdout prediction and topology-vs-size fits.

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
    ``L(C) = A * C**(-alpha)`` fitted by ordinary least squares of ``log L`` on ``log C``: the
    irreducible-loss-free law of the earlier scaling harness, kept for comparison.

Uncertainty
-----------
Nonparametric bootstrap over runs (rows): each resample draws ``n`` rows with replacement and refits.
A resample with fewer distinct rows than the law has parameters cannot identify the law and is
redrawn (the count is reported as ``n_redrawn``). Intervals are percentile intervals
(2.5th and 97.5th percentiles of the resampled estimates). Bootstrap refits of the LSE laws start
from the full-data estimate and from the other distinct local minima the full-data grid search
found (``n_refit_starts``), not from the whole grid, which keeps 1000 resamples affordable.

Prediction intervals for a new point combine parameter and residual uncertainty: for resample
``b``, ``log L*_b = log L_hat(x; theta_b) + s * t_b`` with ``t_b`` drawn from Student's t with
``n - p`` degrees of freedom and ``s**2 = sum_i r_i**2 / (n - p)`` the residual variance of the
full-data fit in log space (``r_i`` its log residuals, ``p`` its number of parameters); the
interval is the percentile interval of ``exp(log L*_b)``. The t draw accounts for ``s`` itself
being estimated from few degrees of freedom (with 4 runs and 3 parameters, one); resampled
residuals would not, and with few runs a Huber (near-L1) fit passes through ``p`` of them exactly,
so most residuals are 0. The point prediction is the full-data fit.

Units: N = non-embedding parameters, D = training tokens, C = 6 N D FLOPs, L = validation
cross-entropy in nats per token.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

#: Confidence level of every interval reported here.
CI_LEVEL = 0.95

#: Metric columns of ``results/metrics/{run}.parquet`` analysed against model size.
TOPO_METRICS = tuple(
    f"{d}_{m}" for d in ("h0", "h1")
    for m in ("total_persistence", "total_persistence_norm", "max_lifetime", "max_lifetime_norm",
              "n_bars", "n_significant", "entropy", "entropy_norm")
) + ("scale", "frobenius_norm", "total_variance", "mean_pairwise_distance", "neural_persistence")

#: Relative width ``(hi - lo) / |estimate|`` of an exponent's interval above which it is called wide.
WIDE_CI = 1.0

#: L-BFGS-B settings. The summed Huber objective is tiny (about 1e-5 for 1% log residuals and
#: delta = 1e-3) while scipy's ``ftol`` is relative to ``max(|f|, 1)``, so the defaults would stop
#: far from the optimum; these tolerances polish the fit to ~1e-9 in the exponents.
_LBFGS_OPTIONS = {"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-10}


def _single_thread(func):
    """Run ``func`` with BLAS limited to one thread.

    scipy's L-BFGS-B calls BLAS on 5-vectors; a multi-threaded OpenBLAS spinning on a busy machine
    made each call ~100x slower (measured 186 ms vs 1.2 ms per small fit on 2 shared cores).
    """
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import scipy.optimize  # noqa: F401  (load scipy's BLAS before limiting it)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
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


_LAWS = {
    "chinchilla": _Law("chinchilla", ("a", "b", "e", "alpha", "beta"), ("N", "D"), _design_chinchilla),
    "compute": _Law("compute", ("a", "e", "alpha"), ("C",), _design_compute),
}


def _theta_to_params(law: str, theta: np.ndarray) -> dict:
    t = dict(zip(_LAWS[law].theta_names, (float(v) for v in theta)))
    if law == "chinchilla":
        return {"E": math.exp(t["e"]), "A": math.exp(t["a"]), "B": math.exp(t["b"]),
                "alpha": t["alpha"], "beta": t["beta"]}
    return {"E": math.exp(t["e"]), "A": math.exp(t["a"]), "alpha": t["alpha"]}


def law_parameters(law: str) -> tuple[str, ...]:
    """Names of the reported parameters of ``law`` ('chinchilla', 'compute' or 'power')."""
    return {"chinchilla": ("E", "A", "B", "alpha", "beta"), "compute": ("E", "A", "alpha"),
            "power": ("A", "alpha")}[law]


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
    if law not in _LAWS:
        raise ValueError(f"start_grid: unknown law {law!r}; use one of {sorted(_LAWS)}")
    axis = {"alpha": np.linspace(0, 2, n_exponent), "beta": np.linspace(0, 2, n_exponent),
            "e": np.linspace(-1, 1, n_offset), "a": np.linspace(0, 25, n_coef),
            "b": np.linspace(0, 25, n_coef)}
    return {k: axis[k] for k in _LAWS[law].theta_names}


def _grid_starts(law: str, grid: dict | None) -> np.ndarray:
    grid = start_grid(law) if grid is None else grid
    names = _LAWS[law].theta_names
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
    from scipy.optimize import minimize

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = minimize(_objective, theta0, args=(X, logL, delta, w), jac=True, method="L-BFGS-B",
                       options=_LBFGS_OPTIONS)
    ok = bool(res.success) and np.all(np.isfinite(res.x)) and np.isfinite(res.fun)
    return res.x, float(res.fun), ok


def _best_of(starts: np.ndarray, X, logL, delta, w):
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

def _as_column(name: str, values, n: int | None = None) -> np.ndarray:
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
    spec = _LAWS[law]
    n = len(np.asarray(data["L"]).ravel())
    out = {k: _as_column(k, data[k], n) for k in spec.inputs}
    out["L"] = _as_column("loss", data["L"], n)
    _check_count(law, n, spec.n_params)
    if law == "chinchilla":
        _check_identifiable(out["N"], out["D"])
    return out


def _check_identifiable(N: np.ndarray, D: np.ndarray) -> None:
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
    spec = _LAWS[law]
    X = spec.design(data)
    logL = np.log(data["L"])
    w = np.ones(len(logL)) if weights is None else weights
    starts = _grid_starts(law, grid) if starts is None else starts
    theta, fun, ok, n_conv, results = _best_of(starts, X, logL, delta, w)
    f, _ = _lse(X @ theta)
    resid = logL - f
    fit = {"law": law, "params": _theta_to_params(law, theta),
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


@_single_thread
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


@_single_thread
def fit_compute_law(C, L, delta: float = 1e-3, grid: dict | None = None) -> dict:
    """Fit ``L = E + A * C**(-alpha)`` in log space with the summed Huber loss (see module doc).

    ``C`` is training compute in FLOPs (``6 N D``), ``L`` the final loss in nats/token; ``grid``
    holds initial values for ``a, e, alpha`` (default 150 starts, :func:`start_grid`). Returns the
    same keys as :func:`fit_chinchilla` with ``law`` 'compute' and ``params`` E, A, alpha.
    """
    data = _prepare("compute", {"C": C, "L": L})
    return _fit_lse("compute", data, delta, grid)


def _ols_loglog(logx: np.ndarray, logy: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of the least-squares line ``log y = intercept + slope * log x``."""
    xm, ym = logx.mean(), logy.mean()
    sxx = np.sum((logx - xm) ** 2)
    slope = float(np.sum((logx - xm) * (logy - ym)) / sxx)
    return slope, float(ym - slope * xm)


def fit_power_law(x, y) -> dict:
    """Fit ``y = A * x**(-alpha)`` by least squares of ``log y`` on ``log x``.

    Returns ``law`` 'power', ``params`` (A, alpha), ``r2`` (of the log-log regression),
    ``residuals_log``, ``n_points`` and ``data`` (x as 'C', y as 'L'). Needs at least 3 points and
    two distinct x values.
    """
    data = {"C": _as_column("x", x), "L": _as_column("y", y)}
    n = len(data["C"])
    if len(data["L"]) != n:
        raise ValueError(f"fit_power_law: x has {n} values and y {len(data['L'])}; give equal lengths")
    _check_count("power", n, 2)
    lx, ly = np.log(data["C"]), np.log(data["L"])
    if np.ptp(lx) == 0:
        raise ValueError("fit_power_law: every x is equal, so the exponent is undefined; vary x")
    slope, icpt = _ols_loglog(lx, ly)
    resid = ly - (icpt + slope * lx)
    sst = np.sum((ly - ly.mean()) ** 2)
    return {"law": "power", "params": {"A": math.exp(icpt), "alpha": -slope},
            "r2": float(1 - np.sum(resid ** 2) / sst) if sst > 0 else float("nan"),
            "residuals_log": resid.tolist(), "n_points": n,
            "data": {"C": data["C"].tolist(), "L": data["L"].tolist()}}


# ---------------------------------------------------------------------------------------------
# Prediction
# ---------------------------------------------------------------------------------------------

def _predict_params(law: str, p: dict, N=None, D=None, C=None) -> np.ndarray:
    if law == "chinchilla":
        if N is None or D is None:
            raise ValueError("the 'chinchilla' law predicts from N and D; pass both")
        N, D = np.asarray(N, float), np.asarray(D, float)
        return p["E"] + p["A"] * N ** (-p["alpha"]) + p["B"] * D ** (-p["beta"])
    if C is None:
        if N is None or D is None:
            raise ValueError(f"the {law!r} law predicts from C (or from N and D with C = 6 N D)")
        C = 6.0 * np.asarray(N, float) * np.asarray(D, float)
    C = np.asarray(C, float)
    if law == "compute":
        return p["E"] + p["A"] * C ** (-p["alpha"])
    return p["A"] * C ** (-p["alpha"])


def predict(fit: dict, N=None, D=None, C=None) -> np.ndarray:
    """Loss predicted by a fitted law at new points (nats/token).

    'chinchilla' needs ``N`` and ``D``; 'compute' and 'power' use ``C`` or, if only ``N`` and ``D``
    are given, ``C = 6 N D``.
    """
    return _predict_params(fit["law"], fit["params"], N=N, D=D, C=C)


# ---------------------------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------------------------

def percentile_ci(samples, level: float = CI_LEVEL) -> list[float]:
    """Percentile interval ``[q_{(1-level)/2}, q_{(1+level)/2}]`` of the finite-or-infinite samples.

    NaN samples are ignored; infinite samples are kept (an unreachable target gives an infinite
    bound). Returns ``[nan, nan]`` when no sample is usable.
    """
    s = np.asarray(samples, dtype=float)
    s = s[~np.isnan(s)]
    if s.size == 0:
        return [float("nan"), float("nan")]
    q = [(1 - level) / 2, (1 + level) / 2]
    with np.errstate(invalid="ignore"):
        lin = np.quantile(s, q)
    near = np.quantile(s, q, method="nearest")
    return [float(b if np.isnan(a) else a) for a, b in zip(lin, near)]


def _resample_indices(rng: np.random.Generator, n: int, min_distinct: int, max_tries: int = 1000):
    for tries in range(max_tries):
        idx = rng.integers(0, n, n)
        if len(np.unique(idx)) >= min_distinct:
            return idx, tries
    raise RuntimeError(f"no bootstrap resample with {min_distinct} distinct rows out of {n} in "
                       f"{max_tries} draws; add runs")


@_single_thread
def bootstrap_fit(fit: dict, n_bootstrap: int = 1000, seed: int = 0, n_refit_starts: int = 2) -> dict:
    """Bootstrap a fit over its rows (runs).

    Parameters
    ----------
    fit : dict
        Output of :func:`fit_chinchilla`, :func:`fit_compute_law` or :func:`fit_power_law`.
    n_bootstrap : int
        Number of resamples.
    seed : int
        Seed of the resampling generator.
    n_refit_starts : int
        LSE laws only: besides the full-data estimate, each refit also starts from up to this
        many other local minima found by the full-data grid search (best first).

    Returns
    -------
    dict
        ``samples`` (parameter -> array of length ``n_bootstrap``), ``ci`` (parameter -> [lo, hi],
        95% percentile interval), ``n_bootstrap``, ``n_redrawn`` (resamples redrawn because they had
        fewer distinct rows than parameters), ``n_failed`` (refits whose kept start did not
        converge), ``resid_sd`` and ``resid_dof`` (residual standard error ``s`` of the log fit
        and its degrees of freedom ``n - p``, used by prediction intervals).
    """
    if int(n_bootstrap) < 1:
        raise ValueError(f"n_bootstrap={n_bootstrap} must be >= 1")
    law = fit["law"]
    data = {k: np.asarray(v, float) for k, v in fit["data"].items()}
    n = len(data["L"])
    names = law_parameters(law)
    p = len(names)
    rng = np.random.default_rng(seed)
    samples = {k: np.empty(n_bootstrap) for k in names}
    redrawn = failed = 0
    if law != "power":
        spec = _LAWS[law]
        X_all, logL_all = spec.design(data), np.log(data["L"])
        theta_hat = np.array([fit["theta"][k] for k in spec.theta_names])
        starts = np.vstack([theta_hat, np.asarray(fit["_local_minima"])[:n_refit_starts]])
    for b in range(n_bootstrap):
        idx, tries = _resample_indices(rng, n, p if law != "power" else 2)
        redrawn += tries
        if law == "power":
            slope, icpt = _ols_loglog(np.log(data["C"][idx]), np.log(data["L"][idx]))
            params = {"A": math.exp(icpt), "alpha": -slope}
        else:
            # Weights count how often each row was drawn: identical to refitting the resampled rows.
            w = np.bincount(idx, minlength=n).astype(float)
            keep = w > 0
            theta, _, ok, _, _ = _best_of(starts, X_all[keep], logL_all[keep], fit["delta"], w[keep])
            failed += not ok
            params = _theta_to_params(law, theta)
        for k in names:
            samples[k][b] = params[k]
    resid = np.asarray(fit["residuals_log"], float)
    return {"samples": samples, "ci": {k: percentile_ci(v) for k, v in samples.items()},
            "n_bootstrap": int(n_bootstrap), "n_redrawn": int(redrawn), "n_failed": int(failed),
            "resid_sd": float(math.sqrt(np.sum(resid ** 2) / max(n - p, 1))),
            "resid_dof": int(max(n - p, 1)), "seed": int(seed)}


def _sample_params(boot: dict, b: int) -> dict:
    return {k: v[b] for k, v in boot["samples"].items()}


def bootstrap_predictions(fit: dict, boot: dict, N=None, D=None, C=None) -> np.ndarray:
    """Predictions of every bootstrap parameter draw, shape ``(n_bootstrap, n_points)``."""
    return np.array([np.atleast_1d(_predict_params(fit["law"], _sample_params(boot, b), N=N, D=D, C=C))
                     for b in range(boot["n_bootstrap"])])


def prediction_interval(fit: dict, boot: dict, N=None, D=None, C=None, seed: int = 0,
                        level: float = CI_LEVEL) -> dict:
    """Point prediction and bootstrap prediction interval at new points (see module doc).

    Returns ``predicted``, ``lo``, ``hi`` (prediction interval: parameter and residual
    uncertainty) and ``mean_lo``, ``mean_hi`` (confidence band of the fitted curve: parameter
    uncertainty only), each a list with one value per point.
    """
    pred = np.atleast_1d(predict(fit, N=N, D=D, C=C))
    draws = bootstrap_predictions(fit, boot, N=N, D=D, C=C)
    rng = np.random.default_rng(seed)
    r = boot["resid_sd"] * rng.standard_t(boot["resid_dof"], size=draws.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        noisy = np.exp(np.log(draws) + r)
    lo, hi = zip(*(percentile_ci(noisy[:, j], level) for j in range(draws.shape[1])))
    mlo, mhi = zip(*(percentile_ci(draws[:, j], level) for j in range(draws.shape[1])))
    return {"predicted": pred.tolist(), "lo": list(lo), "hi": list(hi),
            "mean_lo": list(mlo), "mean_hi": list(mhi)}


# ---------------------------------------------------------------------------------------------
# Compute-optimal allocation and compute at equal loss
# ---------------------------------------------------------------------------------------------

def compute_optimal(params: dict, C) -> dict:
    """Compute-optimal allocation for ``L = E + A/N^alpha + B/D^beta`` under ``C = 6 N D``.

    ``G = (alpha A / (beta B))**(1 / (alpha + beta))``, ``N* = G (C/6)**(beta / (alpha + beta))``,
    ``D* = (C/6)**(alpha / (alpha + beta)) / G``. Returns ``N_opt``, ``D_opt``,
    ``tokens_per_param`` (D*/N*), ``loss`` (the law at N*, D*) and the exponents ``a`` =
    beta/(alpha+beta) (N* ~ C^a) and ``b`` = alpha/(alpha+beta) (D* ~ C^b). Needs positive exponents.
    """
    al, be, A, B = params["alpha"], params["beta"], params["A"], params["B"]
    if not (al > 0 and be > 0):
        raise ValueError(f"compute-optimal allocation needs alpha > 0 and beta > 0, got "
                         f"alpha={al:.4g}, beta={be:.4g}; the fit has no interior optimum")
    C = np.asarray(C, float)
    G = (al * A / (be * B)) ** (1.0 / (al + be))
    N = G * (C / 6.0) ** (be / (al + be))
    D = (C / 6.0) ** (al / (al + be)) / G
    L = _predict_params("chinchilla", params, N=N, D=D)
    return {"N_opt": N, "D_opt": D, "tokens_per_param": D / N, "loss": L,
            "a": be / (al + be), "b": al / (al + be)}


def loss_at_compute(law: str, params: dict, C) -> np.ndarray:
    """Loss reached with compute ``C``: the law itself ('compute', 'power') or its compute-optimal
    frontier ('chinchilla')."""
    if law == "chinchilla":
        return compute_optimal(params, C)["loss"]
    return _predict_params(law, params, C=C)


def compute_for_loss(law: str, params: dict, loss: float) -> float:
    """Compute (FLOPs) at which the law (or its compute-optimal frontier) reaches ``loss``.

    'compute': ``C = (A / (L - E))**(1/alpha)``; 'power': ``C = (A / L)**(1/alpha)``;
    'chinchilla': root of ``L*(C) = loss`` on the compute-optimal frontier. Returns ``inf`` when
    the loss is at or below the reachable floor (``E``) or the law does not decrease.
    """
    E = params.get("E", 0.0) if law != "power" else 0.0
    if not loss > E or not params["alpha"] > 0 or (law == "chinchilla" and not params["beta"] > 0):
        return math.inf
    if law in ("compute", "power"):
        return float((params["A"] / (loss - E)) ** (1.0 / params["alpha"]))
    from scipy.optimize import brentq

    def gap(logc):
        return math.log(float(loss_at_compute(law, params, math.exp(logc)))) - math.log(loss)

    lo, hi = 0.0, 60.0
    while gap(hi) > 0 and hi < 700:
        hi += 60.0
    if gap(hi) > 0:
        return math.inf
    if gap(lo) < 0:
        return 1.0
    return float(math.exp(brentq(gap, lo, hi, xtol=1e-10)))


# ---------------------------------------------------------------------------------------------
# Any table
# ---------------------------------------------------------------------------------------------

def _find_columns(df) -> dict:
    cols = {str(c).lower(): c for c in df.columns}
    if "loss" not in cols:
        raise ValueError(f"table has no 'loss' column (columns: {list(df.columns)}); give columns "
                         f"(N, D, loss) or (C, loss)")
    if "n" in cols and "d" in cols:
        return {"N": cols["n"], "D": cols["d"], "L": cols["loss"]}
    if "c" in cols:
        return {"C": cols["c"], "L": cols["loss"]}
    raise ValueError(f"table needs columns (N, D, loss) or (C, loss), got {list(df.columns)}; rename "
                     f"its parameter/token/compute columns accordingly")


def _table_column(df, col, label) -> np.ndarray:
    import pandas as pd

    raw = pd.to_numeric(df[col], errors="coerce")
    bad = np.flatnonzero(raw.isna().to_numpy())
    if bad.size:
        raise ValueError(f"column {label!r} has missing or non-numeric values at rows "
                         f"{bad[:10].tolist()}; drop or fill those rows")
    return _as_column(label, raw.to_numpy(float))


@_single_thread
def fit_table(df, delta: float = 1e-3, grid: dict | None = None, n_bootstrap: int = 1000,
              seed: int = 0) -> dict:
    """Fit the appropriate law to any table of runs, with bootstrap intervals.

    Columns (case-insensitive) ``N, D, loss`` fit the two-variable law when N and D vary
    independently, and ``L(C)`` with ``C = 6 N D`` when their log values are collinear (a fixed
    tokens-per-parameter ratio, noted in ``notes``); ``C, loss`` fit ``L(C)``. The pure power law in
    C is fitted beside it for comparison.

    Returns
    -------
    dict
        ``law``, ``params``, ``ci`` (95% percentile intervals), ``n_points``, ``converged``,
        ``power_law`` ({``params``, ``ci``, ``r2``}), ``compute_optimal`` (two-variable law only:
        exponents ``a``, ``b`` with intervals) and ``notes``.
    """
    cols = _find_columns(df)
    data = {k: _table_column(df, c, "loss" if k == "L" else c) for k, c in cols.items()}
    notes = []
    if "N" in data:
        C = 6.0 * data["N"] * data["D"]
        try:
            _check_identifiable(data["N"], data["D"])
            fit = fit_chinchilla(data["N"], data["D"], data["L"], delta=delta, grid=grid)
        except ValueError as err:
            if "collinear" not in str(err) and "constant" not in str(err):
                raise
            notes.append(f"N and D vary together ({err}); fitted L(C) with C = 6 N D instead")
            fit = None
    else:
        C = data["C"]
        fit = None
    if fit is None:
        grid_c = grid if grid is not None and set(grid) >= set(_LAWS["compute"].theta_names) else None
        fit = fit_compute_law(C, data["L"], delta=delta, grid=grid_c)
    boot = bootstrap_fit(fit, n_bootstrap=n_bootstrap, seed=seed)
    pl = fit_power_law(C, data["L"])
    pboot = bootstrap_fit(pl, n_bootstrap=n_bootstrap, seed=seed)
    out = {"law": fit["law"], "params": fit["params"], "ci": boot["ci"], "n_points": fit["n_points"],
           "converged": fit["converged"], "objective": fit["objective"],
           "power_law": {"params": pl["params"], "ci": pboot["ci"], "r2": pl["r2"]}, "notes": notes}
    if fit["law"] == "chinchilla":
        out["compute_optimal"] = _compute_optimal_summary(fit["params"], boot)
    notes.extend(_width_notes(fit, boot))
    return out


def _compute_optimal_summary(params: dict, boot: dict) -> dict:
    s = boot["samples"]
    al, be = s["alpha"], s["beta"]
    with np.errstate(invalid="ignore", divide="ignore"):
        a_s, b_s = be / (al + be), al / (al + be)
    pt = compute_optimal(params, 1.0) if params["alpha"] > 0 and params["beta"] > 0 else None
    return {"a": pt["a"] if pt else float("nan"), "a_ci": percentile_ci(a_s),
            "b": pt["b"] if pt else float("nan"), "b_ci": percentile_ci(b_s),
            "definition": "N* ~ C^a, D* ~ C^b with a = beta/(alpha+beta), b = alpha/(alpha+beta)"}


def wide_exponents(fit: dict, boot: dict) -> list[str]:
    """Exponents whose 95% interval is wider than :data:`WIDE_CI` times their estimate (or not finite)."""
    out = []
    for k in ("alpha", "beta"):
        if k in fit["params"]:
            lo, hi = boot["ci"][k]
            if not np.isfinite(lo) or not np.isfinite(hi) or (hi - lo) > WIDE_CI * abs(fit["params"][k]):
                out.append(k)
    return out


def _width_notes(fit: dict, boot: dict) -> list[str]:
    notes = []
    n, p = fit["n_points"], len(law_parameters(fit["law"]))
    for k in wide_exponents(fit, boot):
        lo, hi = boot["ci"][k]
        est = fit["params"][k]
        notes.append(f"{k} = {est:.3g} has a wide 95% CI [{lo:.3g}, {hi:.3g}]: {n} runs for "
                     f"{p} parameters leave it weakly determined; treat it as indicative")
    if fit["law"] != "power" and not fit["converged"]:
        notes.append("no L-BFGS start converged; the reported fit is the best non-converged one")
    if n <= p + 1:
        notes.append(f"{n} runs for {p} parameters: one degree of freedom, so the fit nearly "
                     f"interpolates; bootstrap resamples repeat runs and refit subsets the law passes "
                     f"through exactly, so its intervals (and the prediction intervals built on them) "
                     f"can be too narrow as well as wide: add sizes before trusting them")
    return notes


def read_table(path) -> "object":
    """Read a CSV, TSV or parquet table (by suffix) into a DataFrame."""
    import pandas as pd
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise ValueError(f"scaling table {str(path)!r} does not exist; fix scaling.tables[].path")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if path.suffix in (".tsv", ".tab") else ",")


def fit_tables(tables: list[dict], delta: float = 1e-3, n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """Fit every configured external table (``scaling.tables``: list of {name, path}).

    Returns a dict name -> :func:`fit_table` result (with ``path``).
    """
    out = {}
    for t in tables:
        try:
            res = fit_table(read_table(t["path"]), delta=delta, n_bootstrap=n_bootstrap, seed=seed)
        except ValueError as err:
            raise ValueError(f"scaling table {t['name']!r} ({t['path']}): {err}") from None
        out[t["name"]] = {"path": str(t["path"]), **res}
    return out


# ---------------------------------------------------------------------------------------------
# Trained grid
# ---------------------------------------------------------------------------------------------

_RUN_KEYS = ("name", "activation", "n_nonembed", "tokens_seen", "holdout")


def _final_loss(run: dict, log) -> float:
    if log is not None and "val_loss" in log:
        v = np.asarray(log.sort_values("step")["val_loss"], dtype=float) if "step" in log else \
            np.asarray(log["val_loss"], dtype=float)
        v = v[np.isfinite(v)]
        if v.size:
            return float(v[-1])
    v = run.get("final_val_loss")
    if v is None or not np.isfinite(float(v)):
        raise ValueError(f"run {run.get('name')!r} has no final validation loss: its log.csv has no "
                         f"finite val_loss and run.json no final_val_loss; rerun or drop the run")
    return float(v)


def grid_table(runs: list[dict], logs: dict | None = None):
    """One row per run: run, activation, size, seed, N, D, C, tokens_per_param, loss, holdout.

    ``N`` = n_nonembed, ``D`` = tokens_seen, ``C`` = flops from run.json (``6 N D`` if absent),
    ``loss`` = the last finite val_loss of log.csv (run.json's final_val_loss when the log is absent).
    """
    import pandas as pd

    if not runs:
        raise ValueError("no runs given; the scaling analysis needs run.json files of trained runs")
    rows = []
    for r in runs:
        missing = [k for k in _RUN_KEYS if k not in r]
        if missing:
            raise ValueError(f"run.json of {r.get('name', '?')!r} lacks {missing}; retrain with the "
                             f"current toposcale so run.json follows the contract")
        N, D = float(r["n_nonembed"]), float(r["tokens_seen"])
        rows.append({"run": r["name"], "activation": r["activation"], "size": r.get("size"),
                     "seed": r.get("seed"), "N": N, "D": D,
                     "C": float(r.get("flops") or 6.0 * N * D),
                     "tokens_per_param": float(r.get("tokens_per_param", D / N)),
                     "loss": _final_loss(r, (logs or {}).get(r["name"])),
                     "holdout": bool(r["holdout"])})
    return pd.DataFrame(rows)


def _curve(fit: dict, boot: dict, C_grid: np.ndarray, tpp: float | None) -> dict:
    if fit["law"] == "chinchilla":
        N = np.sqrt(C_grid / (6.0 * tpp))
        kw = {"N": N, "D": tpp * N}
    else:
        kw = {"C": C_grid}
    pred = predict(fit, **kw)
    draws = bootstrap_predictions(fit, boot, **kw)
    lo, hi = zip(*(percentile_ci(draws[:, j]) for j in range(draws.shape[1])))
    return {"tokens_per_param": tpp, "C": C_grid.tolist(), "loss": pred.tolist(),
            "lo": list(lo), "hi": list(hi)}


def _fit_activation(g, delta, grid, n_bootstrap, seed, C_grid) -> dict:
    """Fit one activation's non-holdout runs and predict its holdout runs."""
    fit_rows, hold = g[~g["holdout"]], g[g["holdout"]]
    out = {"n_fit": int(len(fit_rows)), "fit_runs": fit_rows["run"].tolist(),
           "points": g[["run", "N", "D", "C", "tokens_per_param", "loss", "holdout"]].to_dict("records"),
           "notes": []}
    tpps = sorted(fit_rows["tokens_per_param"].round(6).unique())
    law = "chinchilla" if len(tpps) > 1 else "compute"
    if law == "chinchilla" and len(fit_rows) < 6:
        out["notes"].append(f"tokens_per_param varies but only {len(fit_rows)} runs: too few for the "
                            f"5-parameter L(N, D); fitted L(C) instead")
        law = "compute"
    out["law"] = law
    try:
        if law == "chinchilla":
            fit = fit_chinchilla(fit_rows["N"], fit_rows["D"], fit_rows["loss"], delta=delta,
                                 grid=None if grid is None else grid.get("chinchilla"))
        else:
            fit = fit_compute_law(fit_rows["C"], fit_rows["loss"], delta=delta,
                                  grid=None if grid is None else grid.get("compute"))
    except ValueError as err:
        out["notes"].append(f"{law} law not fitted: {err}")
        fit = None
    try:
        pl = fit_power_law(fit_rows["C"], fit_rows["loss"])
        pboot = bootstrap_fit(pl, n_bootstrap=n_bootstrap, seed=seed)
        out["power_law"] = {"params": pl["params"], "ci": pboot["ci"], "r2": pl["r2"]}
    except ValueError as err:
        out["notes"].append(f"pure power law not fitted: {err}")
        pl = pboot = None
    out["fit"] = None
    out["holdout"] = []
    if fit is None:
        return out
    boot = bootstrap_fit(fit, n_bootstrap=n_bootstrap, seed=seed)
    out["fit"] = {"params": fit["params"], "ci": boot["ci"], "objective": fit["objective"],
                  "converged": fit["converged"], "n_starts": fit["n_starts"],
                  "n_converged": fit["n_converged"], "n_redrawn": boot["n_redrawn"],
                  "n_failed": boot["n_failed"], "wide_ci": wide_exponents(fit, boot)}
    out["notes"].extend(_width_notes(fit, boot))
    if law == "chinchilla":
        out["compute_optimal"] = _compute_optimal_summary(fit["params"], boot)
    out["curves"] = [_curve(fit, boot, C_grid, t if law == "chinchilla" else None)
                     for t in (tpps if law == "chinchilla" else [None])]
    for i, row in enumerate(hold.itertuples()):
        pi = prediction_interval(fit, boot, N=[row.N], D=[row.D], C=[row.C], seed=seed + i)
        pred = pi["predicted"][0]
        h = {"run": row.run, "N": row.N, "D": row.D, "C": row.C, "observed": row.loss,
             "predicted": pred, "pi_lo": pi["lo"][0], "pi_hi": pi["hi"][0],
             "rel_error_pct": 100.0 * (pred - row.loss) / row.loss,
             "inside_interval": bool(pi["lo"][0] <= row.loss <= pi["hi"][0])}
        if pl is not None:
            pp = float(predict(pl, C=[row.C])[0])
            h["power_law_predicted"] = pp
            h["power_law_rel_error_pct"] = 100.0 * (pp - row.loss) / row.loss
        out["holdout"].append(h)
    out["_fit"], out["_boot"] = fit, boot
    return out


def compare_activations(base_name: str, base: dict, other_name: str, other: dict) -> dict:
    """Exponent difference and compute-efficiency multiplier of ``other`` relative to ``base``.

    ``base``/``other`` hold ``_fit`` and ``_boot`` (from the grid analysis). Exponent differences
    (``other - base``) get the percentile interval of the differences of independent bootstrap
    draws. The reference loss ``L0`` is ``base``'s fitted loss at the largest compute among its
    fitted runs (on the compute-optimal frontier for the two-variable law); the multiplier is
    ``C_base(L0) / C_other(L0)``: > 1 means ``other`` reaches ``L0`` with less compute.

    ``kind`` is 'exponent shift' when some exponent difference's interval excludes 0, else
    'offset only' when the multiplier's interval excludes 1, else 'not distinguishable'.
    """
    fb, fo, bb, bo = base["_fit"], other["_fit"], base["_boot"], other["_boot"]
    law = fb["law"]
    exps = [k for k in ("alpha", "beta") if k in fb["params"]]
    n = min(bb["n_bootstrap"], bo["n_bootstrap"])
    res = {"baseline": base_name, "other": other_name, "law": law, "exponents": {}}
    for k in exps:
        d = bo["samples"][k][:n] - bb["samples"][k][:n]
        res["exponents"][k] = {"baseline": fb["params"][k], "other": fo["params"][k],
                               "difference": fo["params"][k] - fb["params"][k],
                               "ci": percentile_ci(d)}
    c_max = max(fb["data"]["C"]) if "C" in fb["data"] else max(6.0 * np.multiply(fb["data"]["N"],
                                                                                   fb["data"]["D"]))
    L0 = float(loss_at_compute(law, fb["params"], c_max))
    mult = compute_for_loss(law, fb["params"], L0) / compute_for_loss(law, fo["params"], L0)
    ms = []
    for b in range(n):
        cb = compute_for_loss(law, _sample_params(bb, b), L0)
        co = compute_for_loss(law, _sample_params(bo, b), L0)
        ms.append(np.nan if math.isinf(cb) and math.isinf(co) else cb / co)
    res.update({"ref_loss": L0, "ref_compute": float(c_max), "compute_multiplier": float(mult),
                "compute_multiplier_ci": percentile_ci(ms)})
    shifted = [k for k in exps if not (res["exponents"][k]["ci"][0] <= 0 <= res["exponents"][k]["ci"][1])]
    m_lo, m_hi = res["compute_multiplier_ci"]
    if shifted:
        kind = "exponent shift"
    elif np.isfinite(m_lo) and (m_lo > 1 or m_hi < 1):
        kind = "offset only"
    else:
        kind = "not distinguishable"
    res["kind"] = kind
    res["verdict"] = _verdict_text(res, base, other, shifted)
    return res


def _verdict_text(res: dict, base: dict, other: dict, shifted: list[str]) -> str:
    b, o = res["baseline"], res["other"]
    parts = []
    for k, e in res["exponents"].items():
        lo, hi = e["ci"]
        parts.append(f"{k} {e['other']:.3f} ({o}) vs {e['baseline']:.3f} ({b}), difference "
                     f"{e['difference']:+.3f} [95% CI {lo:+.3f}, {hi:+.3f}] "
                     f"{'excludes' if k in shifted else 'includes'} 0")
    m, (mlo, mhi) = res["compute_multiplier"], res["compute_multiplier_ci"]
    at = f"at {b}'s loss {res['ref_loss']:.3f} nats (its fit at C = {res['ref_compute']:.2e} FLOPs)"
    if m == 0:
        eff = f"{at} {o} cannot reach it (its fitted irreducible loss E is higher)"
    elif math.isinf(m):
        eff = f"{at} {o} reaches it while {b}'s own fit cannot (inconsistent fit)"
    else:
        eff = f"{at} {o} is {m:.2f}x as compute-efficient [95% CI {mlo:.2f}, {mhi:.2f}]"
    if res["kind"] == "exponent shift":
        head = f"{o} vs {b}: exponent shift"
    elif res["kind"] == "offset only":
        head = (f"{o} vs {b}: offset only (exponents not distinguishable, "
                f"compute efficiency at equal loss differs)")
    else:
        head = f"{o} vs {b}: not distinguishable (neither exponents nor compute efficiency)"
    wide = [f"{k} of {name}" for name, a in ((b, base), (o, other)) for k in a["fit"]["wide_ci"]]
    tail = f"; CIs are wide ({', '.join(wide)}): few runs per fit" if wide else ""
    return f"{head}: {'; '.join(parts)}; {eff}{tail}."


def _spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman rho and two-sided p-value: exact permutation for n <= 8, else scipy's t test."""
    from scipy.stats import rankdata, spearmanr

    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    if n > 8:
        r = spearmanr(x, y)
        return float(r.statistic), float(r.pvalue)
    rx, ry = rankdata(x), rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = math.sqrt(np.sum(rx ** 2) * np.sum(ry ** 2))
    rho = float(rx @ ry / denom)
    perms = np.array(list(itertools.permutations(ry)))
    null = perms @ rx / denom
    return rho, float(np.mean(np.abs(null) >= abs(rho) - 1e-12))


def _final_layer_means(metrics, runs_df):
    """Mean over layers of each metric at each run's final step, per (run, source)."""
    df = metrics.copy()
    last = df.groupby("run")["step"].transform("max")
    df = df[df["step"] == last]
    cols = [c for c in TOPO_METRICS if c in df.columns]
    agg = df.groupby(["run", "source"], as_index=False)[cols].mean()
    info = runs_df.set_index("run")[["activation", "N"]]
    agg = agg[agg["run"].isin(info.index)]
    return agg.join(info, on="run"), cols


def topology_vs_size(metrics, runs_df, n_bootstrap: int = 1000, seed: int = 0) -> list[dict]:
    """Power law ``metric = k * N**gamma`` and Spearman rho of each topological metric vs N.

    Per run, the metric is taken at the run's final checkpoint and averaged over layers (the mean
    of the per-layer values, each layer weighted equally), separately for each source. Fits are
    made per activation and pooled ('all'). ``gamma`` is the log-log least-squares slope with a
    bootstrap (over runs) percentile interval; it is omitted (NaN, with a note) when a value is
    <= 0 or there are fewer than 3 runs or 2 distinct sizes.
    """
    agg, cols = _final_layer_means(metrics, runs_df)
    rows = []
    groups = [(a, agg[agg["activation"] == a]) for a in sorted(agg["activation"].unique())]
    groups.append(("all", agg))
    for source in sorted(agg["source"].unique()):
        for gname, g in groups:
            g = g[g["source"] == source]
            for m in cols:
                sub = g[["run", "N", m]].dropna()
                if sub.empty:
                    continue
                rows.append(_topo_row(source, m, gname, sub, n_bootstrap, seed))
    return rows


def _topo_row(source, metric, group, sub, n_bootstrap, seed) -> dict:
    x, y = sub["N"].to_numpy(float), sub[metric].to_numpy(float)
    rho, p = _spearman(x, y)
    row = {"source": source, "metric": metric, "group": group, "n": int(len(x)),
           "gamma": float("nan"), "gamma_ci": [float("nan")] * 2, "k": float("nan"),
           "spearman_rho": rho, "spearman_p": p, "note": "",
           "points": {"run": sub["run"].tolist(), "N": x.tolist(), "value": y.tolist()}}
    if np.any(y <= 0):
        row["note"] = "values <= 0: no power law (Spearman only)"
    elif len(x) < 3 or len(np.unique(x)) < 2:
        row["note"] = "fewer than 3 runs or 2 sizes: no power law"
    else:
        pl = fit_power_law(x, y)
        b = bootstrap_fit(pl, n_bootstrap=n_bootstrap, seed=seed)
        lo, hi = b["ci"]["alpha"]
        row.update(gamma=-pl["params"]["alpha"], gamma_ci=[-hi, -lo], k=pl["params"]["A"],
                   r2=pl["r2"])
        if not np.isfinite(rho):
            row["note"] = "constant values: Spearman undefined"
    return row


@_single_thread
def analyse_grid(runs: list[dict], logs: dict | None = None, metrics=None, n_bootstrap: int = 1000,
                 delta: float = 1e-3, seed: int = 0, grid: dict | None = None,
                 tables: list[dict] | None = None) -> dict:
    """Scaling analysis of the trained grid (JSON-serialisable result).

    Parameters
    ----------
    runs : list of dict
        Contents of ``results/runs/{run}/run.json``.
    logs : dict, optional
        Run name -> DataFrame of its log.csv; the final loss is the last finite val_loss.
    metrics : DataFrame, optional
        Concatenated ``results/metrics/{run}.parquet`` tables, for topology vs size.
    n_bootstrap, delta, seed
        Bootstrap resamples, Huber threshold, random seed.
    grid : dict, optional
        Start grids per law: {'compute': ..., 'chinchilla': ...} (see :func:`start_grid`).
    tables : list of dict, optional
        External tables (config ``scaling.tables``: {name, path}) fitted with :func:`fit_table`
        into ``tables``.

    Returns
    -------
    dict
        ``settings``; ``activations`` (per activation: law, fit params and 95% CIs, pure power
        law, holdout predictions with prediction intervals and relative error %, fitted curves
        with confidence bands, notes); ``comparisons`` (each activation against the baseline,
        'gelu' when present: exponent differences, compute multiplier, kind, verdict);
        ``verdict`` (text of the first comparison); ``topology`` (see :func:`topology_vs_size`);
        ``tables`` (external tables, name -> :func:`fit_table` result); ``table`` (flat rows, see
        :func:`flat_table`); ``notes``.

    The fit uses the non-holdout runs of each activation: ``L(C)`` when they share one
    tokens-per-parameter value, ``L(N, D)`` when it varies (and there are at least 6 runs).
    """
    df = grid_table(runs, logs)
    C_all = df["C"].to_numpy(float)
    C_grid = np.geomspace(C_all.min() / 1.5, C_all.max() * 1.5, 60)
    res = {"settings": {"n_bootstrap": int(n_bootstrap), "huber_delta": float(delta), "seed": int(seed),
                        "ci_level": CI_LEVEL, "loss": "final val_loss, nats/token",
                        "compute": "C = 6 * n_nonembed * tokens_seen FLOPs",
                        "topology": "each metric at a run's final checkpoint, mean over layers (equal "
                                    "weights), per source; metric = k * N**gamma by log-log least "
                                    "squares, N = n_nonembed"},
           "activations": {}, "comparisons": [], "verdict": None, "topology": [], "notes": []}
    for act in sorted(df["activation"].unique()):
        res["activations"][act] = _fit_activation(df[df["activation"] == act], delta, grid,
                                                  n_bootstrap, seed, C_grid)
    fitted = [a for a, v in res["activations"].items() if v["fit"] is not None]
    base = "gelu" if "gelu" in fitted else (fitted[0] if fitted else None)
    for other in fitted:
        if other == base:
            continue
        A, B = res["activations"][base], res["activations"][other]
        if A["law"] != B["law"]:
            res["notes"].append(f"{other} and {base} were fitted with different laws; not compared")
            continue
        res["comparisons"].append(compare_activations(base, A, other, B))
    if res["comparisons"]:
        res["verdict"] = res["comparisons"][0]["verdict"]
    else:
        res["verdict"] = ("no activation comparison: needs two activations with a fitted law "
                          f"(fitted: {fitted or 'none'})")
    if metrics is not None and len(metrics):
        res["topology"] = topology_vs_size(metrics, df, n_bootstrap=n_bootstrap, seed=seed)
    for v in res["activations"].values():
        v.pop("_fit", None)
        v.pop("_boot", None)
    res["tables"] = fit_tables(tables, delta=delta, n_bootstrap=n_bootstrap, seed=seed) if tables else {}
    res["table"] = flat_table(res)
    return jsonable(res)


# ---------------------------------------------------------------------------------------------
# Flat table and JSON
# ---------------------------------------------------------------------------------------------

TABLE_COLUMNS = ("section", "activation", "law", "subject", "quantity", "estimate", "ci_lo", "ci_hi",
                 "observed", "rel_error_pct", "p_value", "n")


def _row(**kw) -> dict:
    return {c: kw.get(c) for c in TABLE_COLUMNS}


def flat_table(res: dict) -> list[dict]:
    """Flatten :func:`analyse_grid` output into rows with :data:`TABLE_COLUMNS`.

    Sections: 'fit' (one row per parameter), 'table' (external tables; activation = table name),
    'power_law', 'holdout' (quantity 'loss': predicted
    estimate, prediction interval, observed value, relative error %), 'comparison' (exponent
    differences and 'compute_multiplier'), 'topology' (quantity 'gamma' with CI and 'spearman_rho'
    with its p-value; subject = 'source/metric', activation = group).
    """
    rows = []
    for act, a in res["activations"].items():
        if a.get("fit"):
            for k, v in a["fit"]["params"].items():
                lo, hi = a["fit"]["ci"][k]
                rows.append(_row(section="fit", activation=act, law=a["law"], quantity=k, estimate=v,
                                 ci_lo=lo, ci_hi=hi, n=a["n_fit"]))
        if a.get("power_law"):
            for k, v in a["power_law"]["params"].items():
                lo, hi = a["power_law"]["ci"][k]
                rows.append(_row(section="power_law", activation=act, law="power", quantity=k,
                                 estimate=v, ci_lo=lo, ci_hi=hi, n=a["n_fit"]))
        for h in a.get("holdout", []):
            rows.append(_row(section="holdout", activation=act, law=a["law"], subject=h["run"],
                             quantity="loss", estimate=h["predicted"], ci_lo=h["pi_lo"],
                             ci_hi=h["pi_hi"], observed=h["observed"],
                             rel_error_pct=h["rel_error_pct"], n=a["n_fit"]))
    for c in res["comparisons"]:
        pair = f"{c['other']} - {c['baseline']}"
        for k, e in c["exponents"].items():
            rows.append(_row(section="comparison", law=c["law"], subject=pair,
                             quantity=f"delta_{k}", estimate=e["difference"], ci_lo=e["ci"][0],
                             ci_hi=e["ci"][1]))
        rows.append(_row(section="comparison", law=c["law"], subject=pair, quantity="compute_multiplier",
                         estimate=c["compute_multiplier"], ci_lo=c["compute_multiplier_ci"][0],
                         ci_hi=c["compute_multiplier_ci"][1], observed=c["ref_loss"]))
    for name, t in res.get("tables", {}).items():
        for k, v in t["params"].items():
            rows.append(_row(section="table", activation=name, law=t["law"], quantity=k, estimate=v,
                             ci_lo=t["ci"][k][0], ci_hi=t["ci"][k][1], n=t["n_points"]))
    for t in res["topology"]:
        subj = f"{t['source']}/{t['metric']}"
        rows.append(_row(section="topology", activation=t["group"], law="power", subject=subj,
                         quantity="gamma", estimate=t["gamma"], ci_lo=t["gamma_ci"][0],
                         ci_hi=t["gamma_ci"][1], n=t["n"]))
        rows.append(_row(section="topology", activation=t["group"], subject=subj,
                         quantity="spearman_rho", estimate=t["spearman_rho"], p_value=t["spearman_p"],
                         n=t["n"]))
    return rows


def jsonable(obj):
    """Recursively convert numpy scalars/arrays to Python types and NaN/inf floats to None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj


def write_outputs(res: dict, json_path, csv_path) -> None:
    """Write the analysis JSON and its flat table CSV atomically (temporary name + rename)."""
    import json

    import pandas as pd

    from toposcale.io import atomic_path, write_csv_atomic

    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(res, indent=1, allow_nan=False))
    write_csv_atomic(pd.DataFrame(res.get("table", []), columns=list(TABLE_COLUMNS)), csv_path)


def read_grid(run_paths, log_paths=(), metric_paths=()):
    """Load the scaling analysis inputs from disk.

    ``run_paths``: run.json files; ``log_paths``: ``results/runs/{run}/log.csv`` files (the run
    name is the parent folder); ``metric_paths``: ``results/metrics/{run}.parquet`` (or .csv).
    Returns ``(runs, logs, metrics)`` with ``metrics`` None when no metric file is given.
    """
    import json
    from pathlib import Path

    import pandas as pd

    runs = [json.loads(Path(p).read_text()) for p in run_paths]
    logs = {Path(p).parent.name: pd.read_csv(p) for p in log_paths}
    frames = [pd.read_parquet(p) if str(p).endswith(".parquet") else pd.read_csv(p) for p in metric_paths]
    metrics = pd.concat(frames, ignore_index=True) if frames else None
    return runs, logs, metrics
