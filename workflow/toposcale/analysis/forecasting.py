"""Forecast a run's final validation loss from the first fraction of its training.

For each observed fraction ``f`` of a run (the prefix: checkpoints with ``0 < step`` and
``frac <= f``, where ``frac = step / total_steps`` is fixed by the plan, so no future is used), five
forecasts of the final-checkpoint ``val_loss`` are compared:

``power_law`` (loss-only baseline)
    ``L(t) = E + A (t + t0)^(-alpha)`` fitted by least squares to the prefix ``(step, val_loss)`` with
    ``E >= 0``, ``A >= 0``, ``0.01 <= alpha <= 3`` and ``0 <= t0 <= last prefix step`` (``t0`` absorbs the
    initial plateau of the loss; it is fixed to 0 when the prefix has fewer than 6 points), then
    evaluated at the final step (:func:`toposcale.analysis.loss_curve.fit_loss_curve`).
``ridge_loss`` and ``ridge_topology`` (learned corrections, leave-one-run-out)
    A ridge regression predicts ``log(final loss / power_law forecast)`` from prefix features and the
    forecast is ``power_law * exp(prediction)``. ``ridge_loss`` uses loss features only
    (:data:`LOSS_FEATURES`); ``ridge_topology`` adds topological features (:func:`topology_features`).
    For each held-out run the model (feature standardisation, ridge penalty chosen by leave-one-out
    on the training runs, coefficients) is fitted on the *other* runs only, from their prefixes and
    final losses; the held-out run contributes nothing but its own prefix features. Comparing the two
    isolates what topology adds beyond a learned loss-only correction.
``ridge_topology_null`` (null-adjusted topology, issue 15)
    As ``ridge_topology`` with the topological features built from each metric's standardised excess
    over its covariance-matched Gaussian null, ``{m}_null_z``, instead of ``m``. Comparing it with
    ``ridge_loss`` and ``ridge_topology`` says whether topology beyond geometry helps the forecast. Left
    out (with a warning) when the metrics table has no ``_null_z`` columns.
``last_observed`` (naive floor)
    The last prefix ``val_loss``.

Errors are ``predicted - final`` (``error``), its absolute value, and the absolute value relative to
the final loss. Degenerate clouds (``degenerate == True``) are left out of the topological features.
:func:`summarise_forecasts` gives bootstrap intervals (over runs) of each method's mean errors and
of paired differences, with a plain verdict.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from toposcale.analysis.dynamics import NULL_Z_SUFFIX, RUN_COLUMNS, check_columns, non_degenerate, run_info
from toposcale.analysis.loss_curve import fit_loss_curve, predict_loss_curve
from toposcale.stats import bootstrap_ci

#: Forecast methods, in report order.
METHODS = ("power_law", "ridge_loss", "ridge_topology", "ridge_topology_null", "last_observed")
#: The ridge methods and the metric-column variant of their topological features (None: loss only).
RIDGE_METHODS = {"ridge_loss": None, "ridge_topology": "raw", "ridge_topology_null": "null_z"}
#: Loss-only features of a prefix (see :func:`loss_features`).
LOSS_FEATURES = ("log_power_law", "log_last_loss", "loss_log_slope", "log_n_nonembed")
#: Topological metrics summarised by default for ``ridge_topology`` (mean over layers, per source).
DEFAULT_TOPOLOGY_METRICS = ("h0_total_persistence_norm", "h1_total_persistence_norm", "h0_entropy_norm")
#: Ridge penalties tried (features standardised), chosen by leave-one-out error on the training runs.
RIDGE_LAMBDAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


# ----------------------------------------------------------------------------- prefixes and features

def loss_curves(metrics):
    """One row per (run, step) with ``step``, ``frac``, ``val_loss`` and the run descriptors."""
    check_columns(metrics, ("run", "step", "frac", "val_loss"))
    keep = [c for c in RUN_COLUMNS if c in metrics.columns] + ["step", "frac", "val_loss"]
    return (metrics[keep].drop_duplicates(["run", "step"]).sort_values(["run", "step"])
            .reset_index(drop=True))


def _final(curve) -> tuple[int, float]:
    last = curve.iloc[-1]
    if last["frac"] < 0.999:
        raise ValueError(f"run {last['run']!r} ends at frac={last['frac']:.3f}; forecasting needs complete "
                         f"runs (the final checkpoint has frac = 1)")
    return int(last["step"]), float(last["val_loss"])


def _prefix(curve, fraction: float):
    return curve[(curve["step"] > 0) & (curve["frac"] <= fraction + 1e-9)]


def _log_slope(step, value) -> float:
    """Least-squares slope of ``value`` against ``log(step)`` over the last half of the points (>= 2)."""
    step = np.asarray(step, dtype=float)
    value = np.asarray(value, dtype=float)
    ok = np.isfinite(value)
    step, value = step[ok], value[ok]
    if len(step) < 2:
        return float("nan")
    k = max(2, len(step) // 2)
    x = np.log(step[-k:])
    if np.ptp(x) == 0:
        return float("nan")
    return float(np.polyfit(x, value[-k:], 1)[0])


def loss_features(prefix, final_step: int, n_nonembed: float | None, offset: bool = True) -> dict:
    """Power-law forecast and loss features of one run's prefix.

    ``log_power_law`` = log of the power-law forecast at ``final_step``; ``log_last_loss`` = log of the
    last prefix loss; ``loss_log_slope`` = slope of log loss per unit log step over the last half of the
    prefix; ``log_n_nonembed`` = log of the non-embedding parameter count (known before training;
    NaN when absent). ``power_law`` (the forecast itself) and the fit parameters are included too.
    """
    step = prefix["step"].to_numpy(float)
    loss = prefix["val_loss"].to_numpy(float)
    fit = fit_loss_curve(step, loss, offset=offset)
    pred = float(predict_loss_curve(fit, final_step))
    return {
        "power_law": pred,
        "log_power_law": math.log(pred) if pred > 0 else float("nan"),
        "log_last_loss": math.log(loss[-1]),
        "loss_log_slope": _log_slope(step, np.log(loss)),
        "log_n_nonembed": math.log(n_nonembed) if n_nonembed and n_nonembed > 0 else float("nan"),
        "last_observed": float(loss[-1]),
        "fit_E": fit["E"], "fit_A": fit["A"], "fit_alpha": fit["alpha"], "fit_t0": fit["t0"],
    }


def topology_features(run_metrics, fraction: float, topology_metrics=DEFAULT_TOPOLOGY_METRICS,
                      variant: str = "raw") -> dict:
    """Prefix summaries of topological metrics for one run.

    For each source and metric column (the metric itself for ``variant='raw'``, its ``{metric}_null_z``
    column for ``variant='null_z'``), the column is averaged over the layers whose cloud is not
    degenerate at each prefix checkpoint (NaN values skipped); the features are that mean at the last
    prefix checkpoint (``{source}:{column}:last``) and its least-squares slope per unit log step over the
    last half of the prefix (``...:slope``).
    """
    if variant not in ("raw", "null_z"):
        raise ValueError(f"topology feature variant {variant!r} unknown; use 'raw' or 'null_z'")
    pre = non_degenerate(run_metrics[(run_metrics["step"] > 0) & (run_metrics["frac"] <= fraction + 1e-9)])
    out = {}
    for base in topology_metrics:
        metric = base + NULL_Z_SUFFIX if variant == "null_z" else base
        if metric not in pre.columns:
            raise ValueError(f"topology feature metric {metric!r} is not a column of the metrics table")
        for source, g in pre.groupby("source", sort=True):
            curve = g.groupby("step")[metric].mean().sort_index()
            out[f"{source}:{metric}:last"] = float(curve.iloc[-1]) if len(curve) else float("nan")
            out[f"{source}:{metric}:slope"] = _log_slope(curve.index.to_numpy(), curve.to_numpy())
    return out


# ----------------------------------------------------------------------------- ridge, leave one run out

def ridge_fit_predict(x_train, y_train, x_test, lambdas=RIDGE_LAMBDAS) -> tuple[np.ndarray, float]:
    """Ridge regression with intercept, penalty chosen by exact leave-one-out error on the training set.

    Features are standardised with the training mean and standard deviation (columns constant on the
    training set are dropped; NaN test values are replaced by the training mean, i.e. 0 after
    standardisation). The intercept is not penalised. With fewer than 3 training rows or no usable
    column the prediction is the training mean.

    Returns
    -------
    (numpy.ndarray, float)
        Predictions for ``x_test`` and the chosen penalty (NaN when no ridge was fitted).
    """
    x_train = np.asarray(x_train, dtype=float)
    y_train = np.asarray(y_train, dtype=float)
    x_test = np.atleast_2d(np.asarray(x_test, dtype=float))
    mean_y = float(y_train.mean())
    if len(y_train) < 3 or x_train.shape[1] == 0:
        return np.full(len(x_test), mean_y), float("nan")
    mu = x_train.mean(axis=0)
    sd = x_train.std(axis=0)
    use = sd > 1e-12 * np.maximum(1.0, np.abs(mu))
    if not use.any():
        return np.full(len(x_test), mean_y), float("nan")
    z_train = (x_train[:, use] - mu[use]) / sd[use]
    z_test = np.where(np.isfinite(x_test[:, use]), (x_test[:, use] - mu[use]) / sd[use], 0.0)
    yc = y_train - mean_y
    best = (np.inf, None, None)
    for lam in lambdas:
        # hat matrix of the centred ridge plus the intercept's 1/n
        gram = z_train.T @ z_train + lam * np.eye(z_train.shape[1])
        beta = np.linalg.solve(gram, z_train.T @ yc)
        hat = z_train @ np.linalg.solve(gram, z_train.T) + 1.0 / len(yc)
        resid = yc - z_train @ beta
        loo = np.mean((resid / np.maximum(1.0 - np.diag(hat), 1e-9)) ** 2)
        if loo < best[0]:
            best = (loo, lam, beta)
    _, lam, beta = best
    return mean_y + z_test @ beta, float(lam)


def _loro(table, features: list[str], held_out: str) -> float:
    """Leave-one-run-out ridge prediction of the log ratio for ``held_out`` (NaN if not computable)."""
    train = table[(table["run"] != held_out) & np.isfinite(table["target"])]
    test = table[table["run"] == held_out]
    cols = [c for c in features if np.isfinite(train[c].to_numpy(float)).all()]
    if len(train) == 0 or not np.isfinite(test["log_power_law"].to_numpy(float)).all():
        return float("nan")
    pred, _ = ridge_fit_predict(train[cols].to_numpy(float), train["target"].to_numpy(float),
                                test[cols].to_numpy(float))
    return float(pred[0])


def forecast(metrics, fractions=(0.1, 0.2, 0.3, 0.5), topology_metrics=DEFAULT_TOPOLOGY_METRICS,
             offset: bool = True, min_prefix_points: int = 4):
    """Forecasts of every run's final loss from prefixes of its training, by every method.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Rows of ``results/metrics/{run}.parquet`` for all runs (needs ``run, step, frac, val_loss,
        source, layer`` and the ``topology_metrics`` columns).
    fractions : sequence of float
        Observed fractions of training, each in (0, 1).
    topology_metrics : sequence of str
        Metrics summarised into ``ridge_topology`` features.
    offset : bool
        Fit the power-law offset ``t0``.
    min_prefix_points : int
        A (run, fraction) whose prefix has fewer checkpoints with ``step > 0`` gets no forecast.

    Returns
    -------
    pandas.DataFrame
        One row per (run, fraction, method) (``ridge_topology_null`` only when the metrics table has
        the ``{m}_null_z`` columns of every ``topology_metrics``): run descriptors, ``fraction``, ``method``,
        ``prefix_last_step``, ``n_prefix_points``, ``final_step``, ``final_loss``, ``predicted``,
        ``error`` (predicted - final), ``abs_error``, ``rel_error`` (abs_error / final_loss).
    """
    for f in fractions:
        if not 0 < f < 1:
            raise ValueError(f"forecast fraction {f} must lie in (0, 1)")
    nulls = [m + NULL_Z_SUFFIX for m in topology_metrics]
    has_null = all(c in metrics.columns for c in nulls)
    if not has_null:
        warnings.warn(f"metrics table lacks {[c for c in nulls if c not in metrics.columns]}; forecast method "
                      f"ridge_topology_null skipped (metrics written before the matched nulls: re-run the "
                      f"summarise step)", stacklevel=2)
    methods = [m for m in METHODS if has_null or m != "ridge_topology_null"]
    curves = loss_curves(metrics)
    runs = sorted(curves["run"].unique())
    if len(runs) < 2:
        raise ValueError(f"forecasting leaves one run out, so it needs at least 2 runs, got {runs}")
    rows = []
    for f in sorted(fractions):
        feats = []
        for run in runs:
            curve = curves[curves["run"] == run]
            final_step, final_loss = _final(curve)
            pre = _prefix(curve, f)
            info = run_info(curve)
            base = dict(info, fraction=f, final_step=final_step, final_loss=final_loss,
                        n_prefix_points=len(pre),
                        prefix_last_step=int(pre["step"].iloc[-1]) if len(pre) else 0)
            if len(pre) < min_prefix_points:
                feats.append(dict(base, power_law=np.nan, log_power_law=np.nan, last_observed=np.nan))
                continue
            lf = loss_features(pre, final_step, info.get("n_nonembed"), offset=offset)
            run_rows = metrics[metrics["run"] == run]
            tf = topology_features(run_rows, f, topology_metrics)
            if has_null:
                tf.update(topology_features(run_rows, f, topology_metrics, variant="null_z"))
            feats.append(dict(base, **lf, **tf))
        table = pd.DataFrame(feats)
        table["target"] = np.log(table["final_loss"]) - table["log_power_law"]
        topo = {v: sorted(c for c in table.columns if c.count(":") == 2
                          and c.split(":")[1].endswith(NULL_Z_SUFFIX) == (v == "null_z")) for v in ("raw", "null_z")}
        loss_cols = [c for c in LOSS_FEATURES if c in table.columns]
        for _, r in table.iterrows():
            preds = {"power_law": r["power_law"], "last_observed": r["last_observed"]}
            for method, variant in RIDGE_METHODS.items():
                if method not in methods:
                    continue
                cols = loss_cols + (topo[variant] if variant else [])
                ratio = _loro(table, cols, r["run"])
                preds[method] = r["power_law"] * math.exp(ratio) if np.isfinite(ratio) else np.nan
            base = {k: r[k] for k in list(RUN_COLUMNS) + ["fraction", "prefix_last_step", "n_prefix_points",
                                                         "final_step", "final_loss"] if k in r.index}
            for method in methods:
                p = float(preds[method])
                err = p - r["final_loss"]
                rows.append(dict(base, method=method, predicted=p, error=err, abs_error=abs(err),
                                 rel_error=abs(err) / r["final_loss"]))
    out = pd.DataFrame(rows)
    for c in ("prefix_last_step", "n_prefix_points", "final_step"):
        out[c] = out[c].astype(int)
    return out


# ----------------------------------------------------------------------------- summary

#: Paired comparisons reported by :func:`summarise_forecasts`: (method, reference).
COMPARISONS = (("ridge_topology", "power_law"), ("ridge_topology", "ridge_loss"),
               ("ridge_topology_null", "ridge_loss"), ("ridge_topology_null", "ridge_topology"),
               ("power_law", "last_observed"))


def summarise_forecasts(fc, n_bootstrap: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """Mean errors with bootstrap intervals, paired comparisons and a plain-language verdict.

    Returns
    -------
    dict
        ``methods``: DataFrame per (fraction, method) with ``n_runs``, ``mean_abs_error``,
        ``mean_abs_error_ci_low/high``, ``mean_rel_error``, ``mean_rel_error_ci_low/high``;
        ``comparisons``: DataFrame per (fraction, method, reference) with ``n_runs``,
        ``mean_diff_abs_error`` (method minus reference, over runs where both exist),
        ``ci_low``, ``ci_high`` and ``verdict`` ('better' when the interval lies below 0, 'worse' above,
        else 'inconclusive'); ``text``: per fraction, one sentence on whether ``ridge_topology`` beats
        ``power_law`` (the question asked) and one on whether it beats ``ridge_loss`` (what topology
        adds beyond a learned loss-only correction); the same two for ``ridge_topology_null`` against
        ``ridge_loss`` and ``ridge_topology`` when present (does null-adjusted topology help).
    """
    mrows, crows, lines = [], [], []
    for f, g in fc.groupby("fraction", sort=True):
        for method in [m for m in METHODS if m in set(g["method"])]:
            m = g[(g["method"] == method) & np.isfinite(g["abs_error"])]
            lo_a, hi_a = bootstrap_ci(m["abs_error"], n_resamples=n_bootstrap, level=level, seed=seed)
            lo_r, hi_r = bootstrap_ci(m["rel_error"], n_resamples=n_bootstrap, level=level, seed=seed)
            mrows.append({"fraction": f, "method": method, "n_runs": len(m),
                          "mean_abs_error": m["abs_error"].mean(), "mean_abs_error_ci_low": lo_a,
                          "mean_abs_error_ci_high": hi_a, "mean_rel_error": m["rel_error"].mean(),
                          "mean_rel_error_ci_low": lo_r, "mean_rel_error_ci_high": hi_r})
        wide = g.pivot_table(index="run", columns="method", values="abs_error", aggfunc="first")
        for method, ref in COMPARISONS:
            if method not in wide or ref not in wide:
                continue
            d = (wide[method] - wide[ref]).dropna().to_numpy()
            lo, hi = bootstrap_ci(d, n_resamples=n_bootstrap, level=level, seed=seed)
            verdict = ("better" if hi < 0 else "worse" if lo > 0 else "inconclusive") if np.isfinite(lo) \
                else "insufficient runs"
            crows.append({"fraction": f, "method": method, "reference": ref, "n_runs": len(d),
                          "mean_diff_abs_error": float(d.mean()) if len(d) else np.nan,
                          "ci_low": lo, "ci_high": hi, "verdict": verdict})
            if method.startswith("ridge_topology"):
                lines.append(_sentence(f, method, ref, len(d), d, lo, hi, verdict, level))
    return {"methods": pd.DataFrame(mrows), "comparisons": pd.DataFrame(crows), "text": "\n".join(lines)}


_REFERENCE_WORDS = {"power_law": "the power-law extrapolation",
                    "ridge_loss": "the same learned correction without topology (ridge_loss)",
                    "ridge_topology": "raw-topology features (ridge_topology)"}
_METHOD_WORDS = {"ridge_topology": "topology-augmented forecasts",
                 "ridge_topology_null": "null-adjusted topology forecasts (ridge_topology_null)"}


def _sentence(f, method, ref, n, d, lo, hi, verdict, level) -> str:
    pct = f"{100 * f:g}%"
    other = _REFERENCE_WORDS.get(ref, ref)
    if verdict == "insufficient runs":
        return f"At {pct} of training: too few runs ({n}) to compare {method} with {other}."
    who = _METHOD_WORDS.get(method, method)
    what = {"better": f"{who} beat {other}",
            "worse": f"{who} are worse than {other}",
            "inconclusive": f"no evidence that {who} beat {other}"}[verdict]
    return (f"At {pct} of training, {what}: mean difference in absolute error {d.mean():+.4g} nats "
            f"({100 * level:g}% CI {lo:+.4g} to {hi:+.4g}, {n} runs).")
