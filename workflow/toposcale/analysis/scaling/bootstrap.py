"""Bootstrap of the scaling fits: parameter intervals, prediction intervals, width notes.

Uncertainty
-----------
Nonparametric bootstrap: by default each resample draws ``n`` rows (runs) with replacement and refits;
given ``resamples`` (from :func:`size_draws`), each resample takes every run of each drawn size (a
cluster bootstrap over sizes, so the seeds of one size stay together, and two activations can share
the same drawn sizes: the paired design of
:func:`~toposcale.analysis.scaling.compare_activations`). A size resample with fewer than ``p + 1``
distinct sizes (``p`` = the law's parameters, :data:`MIN_RESAMPLE_DOF`) cannot identify the law (fewer
than ``p``) or interpolates it exactly (``p``: zero residual, an exponent that just joins the drawn
points) and is redrawn; the count is reported as ``n_redrawn``. (Distinct *sizes*, not runs: with 2
seeds per size, 2 drawn sizes give 4 runs, enough rows for 3 parameters but not enough points.)
Without ``resamples`` runs are drawn one by one and a resample with fewer distinct rows than
parameters is redrawn. Intervals are percentile intervals
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
"""

from __future__ import annotations

import math

import numpy as np

from toposcale.analysis.scaling.laws import (LAWS, best_of, law_parameters, predict, predict_params, single_thread,
                                             theta_to_params)
from toposcale.stats import loglog_fit, percentile_ci

#: Confidence level of every interval reported here.
CI_LEVEL = 0.95

#: Residual degrees of freedom every size resample must keep (distinct drawn sizes minus the law's
#: parameters). 1, not :data:`toposcale.plan.decidability.MIN_RESIDUAL_DOF` (3, the gate of the full-data
#: fit): the resample distribution would then be conditioned on nearly every size being drawn (for 6
#: sizes and 3 parameters only 6!/6**6 = 1.5% of resamples have 6 distinct sizes), i.e. on near-copies
#: of the data, and its interval would shrink towards a point. With 1, P(accept) = 0.75 for 6 sizes and
#: 3 parameters, 0.92 for 7 sizes and 2 parameters.
MIN_RESAMPLE_DOF = 1

#: Relative width ``(hi - lo) / |estimate|`` of an exponent's interval above which it is called wide.
WIDE_CI = 1.0


def _resample_indices(rng: np.random.Generator, n: int, min_distinct: int, max_tries: int = 1000):
    for tries in range(max_tries):
        idx = rng.integers(0, n, n)
        if len(np.unique(idx)) >= min_distinct:
            return idx, tries
    raise RuntimeError(f"no bootstrap resample with {min_distinct} distinct rows out of {n} in "
                       f"{max_tries} draws; add runs")


def size_draws(row_sizes: dict, n_params: dict, n_bootstrap: int, seed: int = 0, max_tries: int = 1000,
               min_dof: int = MIN_RESAMPLE_DOF) -> dict:
    """Resamples of the shared size grid, one set for every fit (the paired design).

    ``row_sizes``: fit name -> the size label of each of its rows; ``n_params``: fit name -> parameters
    of its law. The levels are the sorted union of all sizes; each resample draws as many levels as
    there are, with replacement, from ``default_rng(seed)``, and is redrawn until every fit has at least
    ``n_params + min_dof`` distinct sizes of its own among the drawn sizes (distinct sizes, not rows;
    a fit with no more sizes than that, undecidable by its gate anyway, needs one size fewer than it has).

    Returns ``levels``, ``draws`` (array ``(n_bootstrap, n_levels)`` of drawn sizes, the same for every
    fit), ``n_redrawn`` (draws rejected and redrawn, summed over resamples), ``min_distinct`` (fit name
    -> the distinct sizes each of its resamples has at least; an int when there is one fit) and ``rows`` (fit name -> list of row-index arrays, one per resample: every row
    of each drawn size, repeated as often as the size was drawn).
    """
    sizes = {k: np.asarray(v) for k, v in row_sizes.items()}
    levels = np.unique(np.concatenate(list(sizes.values())))
    # a fit with too few sizes (below its decidability gate anyway) needs one size fewer than it has,
    # so that resamples still differ from the data
    need = {k: min(int(n_params[k]) + int(min_dof), max(len(np.unique(v)) - 1, 1)) for k, v in sizes.items()}
    rng = np.random.default_rng(seed)
    draws, redrawn = [], 0
    for _ in range(int(n_bootstrap)):
        for tries in range(max_tries):
            d = levels[rng.integers(0, len(levels), len(levels))]
            if all(len(np.intersect1d(sizes[k], d)) >= need[k] for k in sizes):
                break
        else:
            raise RuntimeError(f"no resample of {len(levels)} sizes gives every fit parameters + {min_dof} "
                               f"distinct sizes in {max_tries} draws; add sizes")
        redrawn += tries
        draws.append(d)
    rows = {k: [np.concatenate([np.flatnonzero(s == lv) for lv in d]) for d in draws] for k, s in sizes.items()}
    return {"levels": levels, "draws": np.array(draws), "n_redrawn": int(redrawn), "rows": rows,
            "min_distinct": next(iter(need.values())) if len(need) == 1 else need}


@single_thread
def bootstrap_fit(fit: dict, n_bootstrap: int = 1000, seed: int = 0, n_refit_starts: int = 2,
                  resamples: list | None = None) -> dict:
    """Bootstrap a fit over its rows (runs).

    Parameters
    ----------
    fit : dict
        Output of :func:`~toposcale.analysis.scaling.fit_chinchilla`,
        :func:`~toposcale.analysis.scaling.fit_compute_law` or :func:`~toposcale.analysis.scaling.fit_power_law`.
    n_bootstrap : int
        Number of resamples.
    seed : int
        Seed of the resampling generator.
    n_refit_starts : int
        LSE laws only: besides the full-data estimate, each refit also starts from up to this
        many other local minima found by the full-data grid search (best first).
    resamples : list of int arrays, optional
        The resamples themselves (row indices, e.g. :func:`size_draws` ``rows``); then ``n_bootstrap``
        is their number, nothing is drawn or redrawn here, and a resample with fewer distinct rows than
        parameters is an error.

    Returns
    -------
    dict
        ``samples`` (parameter -> array of length ``n_bootstrap``), ``ci`` (parameter -> (lo, hi),
        95% percentile interval, :func:`toposcale.stats.percentile_ci`), ``n_bootstrap``, ``n_redrawn`` (resamples redrawn because they had
        fewer distinct rows than parameters), ``n_failed`` (refits whose kept start did not
        converge), ``resid_sd`` and ``resid_dof`` (residual standard error ``s`` of the log fit
        and its degrees of freedom ``n - p``, used by prediction intervals).
    """
    if resamples is not None:
        n_bootstrap = len(resamples)
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
        spec = LAWS[law]
        X_all, logL_all = spec.design(data), np.log(data["L"])
        theta_hat = np.array([fit["theta"][k] for k in spec.theta_names])
        starts = np.vstack([theta_hat, np.asarray(fit["_local_minima"])[:n_refit_starts]])
    for b in range(n_bootstrap):
        if resamples is None:
            idx, tries = _resample_indices(rng, n, p if law != "power" else 2)
            redrawn += tries
        else:
            idx = np.asarray(resamples[b], dtype=int)
            if len(np.unique(idx)) < (p if law != "power" else 2):
                raise ValueError(f"resample {b} has {len(np.unique(idx))} distinct rows for {p} parameters")
        if law == "power":
            c, loss = data["C"][idx], data["L"][idx]
            if np.ptp(np.log(c)) == 0:  # distinct rows, one x value: the slope is 0/0
                params = {"A": math.nan, "alpha": math.nan}
            else:
                ll = loglog_fit(c, loss)
                params = {"A": math.exp(ll["intercept"]), "alpha": -ll["slope"]}
        else:
            # Weights count how often each row was drawn: identical to refitting the resampled rows.
            w = np.bincount(idx, minlength=n).astype(float)
            keep = w > 0
            theta, _, ok, _, _ = best_of(starts, X_all[keep], logL_all[keep], fit["delta"], w[keep])
            failed += not ok
            params = theta_to_params(law, theta)
        for k in names:
            samples[k][b] = params[k]
    resid = np.asarray(fit["residuals_log"], float)
    return {"samples": samples, "ci": {k: percentile_ci(v) for k, v in samples.items()},
            "n_bootstrap": int(n_bootstrap), "n_redrawn": int(redrawn), "n_failed": int(failed),
            "resid_sd": float(math.sqrt(np.sum(resid ** 2) / max(n - p, 1))),
            "resid_dof": int(max(n - p, 1)), "seed": int(seed)}


def sample_params(boot: dict, b: int) -> dict:
    """Parameters of bootstrap draw ``b`` of ``boot``."""
    return {k: v[b] for k, v in boot["samples"].items()}


def bootstrap_predictions(fit: dict, boot: dict, N=None, D=None, C=None) -> np.ndarray:
    """Predictions of every bootstrap parameter draw, shape ``(n_bootstrap, n_points)``."""
    return np.array([np.atleast_1d(predict_params(fit["law"], sample_params(boot, b), N=N, D=D, C=C))
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




def wide_exponents(fit: dict, boot: dict) -> list[str]:
    """Exponents whose 95% interval is wider than :data:`WIDE_CI` times their estimate (or not finite)."""
    out = []
    for k in ("alpha", "beta"):
        if k in fit["params"]:
            lo, hi = boot["ci"][k]
            if not np.isfinite(lo) or not np.isfinite(hi) or (hi - lo) > WIDE_CI * abs(fit["params"][k]):
                out.append(k)
    return out


def width_notes(fit: dict, boot: dict) -> list[str]:
    """Notes on wide exponent intervals, a non-converged fit and too few runs for the parameters."""
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


