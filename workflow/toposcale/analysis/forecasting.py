"""Forecast a run's final validation loss from the first fraction of its training.

For each observed fraction ``f`` of a run (the prefix: checkpoints with ``0 < step`` and
``frac <= f``, where ``frac = step / total_steps`` is fixed by the plan, so no future is used), five
forecasts of the final-checkpoint ``val_loss`` are compared:

``power_law`` (loss-only baseline)
    ``L(t) = E + A (t + t0)^(-alpha)`` fitted by least squares to the prefix ``(step, val_loss)`` with
    ``E >= 0``, ``A >= 0``, ``0.01 <= alpha <= 3`` and ``0 <= t0 <= last prefix step`` (``t0`` absorbs the
    initial plateau of the loss; it is fixed to 0 when the prefix has fewer than 6 points), then
    evaluated at the final step (:func:`toposcale.analysis.loss_curve.fit_loss_curve`).
``ridge_loss`` and ``ridge_topology`` (learned corrections)
    A ridge regression predicts ``log(final loss / power_law forecast)`` from prefix features and the
    forecast is ``power_law * exp(prediction)``. ``ridge_loss`` uses loss features only
    (:data:`LOSS_FEATURES`); ``ridge_topology`` adds topological features (:func:`topology_features`).
    In each fold of an evaluation (:func:`folds`) the model (feature standardisation, ridge penalty
    chosen by leave-one-out on the training runs, coefficients) is fitted on the fold's training runs
    only, from their prefixes and final losses; the held-out runs contribute nothing but their own
    prefix features. Comparing the two isolates what topology adds beyond a learned loss-only correction.
``ridge_topology_null`` (null-adjusted topology, issue 15)
    As ``ridge_topology`` with the topological features built from each metric's standardised excess
    over its covariance-matched Gaussian null, ``{m}_null_z``, instead of ``m``. Comparing it with
    ``ridge_loss`` and ``ridge_topology`` says whether topology beyond geometry helps the forecast. Left
    out (with a warning) when the metrics table has no ``_null_z`` columns.
``last_observed`` (naive floor)
    The last prefix ``val_loss``.

Evaluations of the ridge methods (:data:`EVALUATIONS`)
    ``leave_one_size_out`` (primary): each fold holds out every run of one model size (all
    activations, all seeds); runs of one size share ``log_n_nonembed`` and, up to activation and seed,
    their final loss, so a model trained on a same-size twin can look the answer up. It needs at least
    :data:`MIN_SIZES` distinct sizes; below that its ridge rows have ``predicted`` NaN and ``note``
    :data:`CANNOT_DECIDE_SIZES`. ``leave_one_run_out`` (secondary, leaky): each fold holds out one run,
    so same-size runs stay in training; it is reported only beside the primary evaluation.
    ``power_law`` and ``last_observed`` fit nothing across runs: their rows are identical in both.

Errors are ``predicted - final`` (``error``), its absolute value, and the absolute value relative to
the final loss. Degenerate clouds (``degenerate == True``) are left out of the topological features.
:func:`toposcale.analysis.forecast_summary.summarise_forecasts` gives, per evaluation, bootstrap intervals (over runs) of each method's mean
errors and of paired differences, with a plain verdict.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from toposcale.analysis.loss_curve import fit_loss_curve, predict_loss_curve
from toposcale.analysis.metrics_table import NULL_Z_SUFFIX, RUN_COLUMNS, check_columns, non_degenerate, run_info
from toposcale.plan.decidability import MIN_FORECAST_SIZES

#: Forecast methods, in report order.
METHODS = ("power_law", "ridge_loss", "ridge_topology", "ridge_topology_null", "last_observed")
#: The ridge methods and the metric-column variant of their topological features (None: loss only).
RIDGE_METHODS = {"ridge_loss": None, "ridge_topology": "raw", "ridge_topology_null": "null_z"}
#: Loss-only features of a prefix (see :func:`loss_features`).
LOSS_FEATURES = ("log_power_law", "log_last_loss", "loss_log_slope", "log_n_nonembed")
#: Topological metrics summarised by default for ``ridge_topology`` (mean over layers, per source).
DEFAULT_TOPOLOGY_METRICS = ("h0_total_persistence_norm", "h1_total_persistence_norm", "h0_entropy_norm")
#: Evaluations of the learned methods, primary first (see :func:`folds`).
EVALUATIONS = ("leave_one_size_out", "leave_one_run_out")
PRIMARY_EVALUATION = EVALUATIONS[0]
#: Fewest distinct model sizes for ``leave_one_size_out`` (the rule and its reason live in
#: :data:`toposcale.plan.decidability.MIN_FORECAST_SIZES`).
MIN_SIZES = MIN_FORECAST_SIZES
#: The ``note`` (and verdict) of leave-one-size-out results below :data:`MIN_SIZES`.
CANNOT_DECIDE_SIZES = f"cannot decide: need >= {MIN_SIZES} sizes"
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
    standardisation), and test features are clipped to the training range (no extrapolation beyond the
    training runs). The intercept is not penalised. With fewer than 3 training rows or no usable
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
    # no extrapolation in feature space: a held-out run whose feature lies far outside the training runs'
    # (e.g. a null_z from a tiny null sd) would otherwise move the log-loss prediction without bound
    z_test = np.clip(z_test, z_train.min(axis=0), z_train.max(axis=0))
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


def size_groups(runs) -> pd.Series:
    """The model size of each run (index ``run``): its ``size`` label, shared by the activations and seeds of
    one size. A table without ``size`` is refused: ``n_nonembed`` is no substitute, since the activations
    of one size have different parameter counts (SwiGLU's MLP has another shape), so grouping by it would
    keep a held-out run's same-size twin of the other activation in training (issue 22 point 9)."""
    check_columns(runs, ("run",), "runs table")
    if "size" not in runs.columns:
        raise ValueError("leave-one-size-out needs the runs' 'size' column (the config's size label, shared "
                         "by the activations of one size); this table has none: re-run the summarise step "
                         "(results/metrics/{run}.parquet), or evaluate leave_one_run_out only")
    return runs.drop_duplicates("run").set_index("run")["size"]


def folds(runs, evaluation: str) -> list[tuple[list[str], list[str]]]:
    """The (held-out runs, training runs) of every fold of an evaluation, training runs sorted.

    ``leave_one_size_out``: one fold per model size (:func:`size_groups`), holding out all its runs;
    no run of the held-out size is in training; needs a ``size`` column. ``leave_one_run_out``: one fold
    per run. ``runs`` has one or more rows per run with ``run`` (and ``size``).
    """
    if evaluation == "leave_one_run_out":
        names = sorted(runs["run"].unique())
        return [([r], [o for o in names if o != r]) for r in names]
    if evaluation != "leave_one_size_out":
        raise ValueError(f"evaluation {evaluation!r} unknown; use one of {EVALUATIONS}")
    size = size_groups(runs)
    names = sorted(size.index)
    out = []
    for s in sorted(size.unique(), key=str):
        held = [r for r in names if size[r] == s]
        out.append((held, [r for r in names if size[r] != s]))
    return out


def _fold_predict(table, features: list[str], train_runs, held_runs) -> np.ndarray:
    """Ridge predictions of the log ratio for the rows of ``held_runs``, fitted on ``train_runs`` (NaN
    where the held-out row has no power-law forecast or no training row has a target)."""
    train = table[table["run"].isin(train_runs) & np.isfinite(table["target"])]
    test = table[table["run"].isin(held_runs)]
    out = np.full(len(test), np.nan)
    ok = np.isfinite(test["log_power_law"].to_numpy(float))
    if len(train) == 0 or not ok.any():
        return out
    cols = [c for c in features if np.isfinite(train[c].to_numpy(float)).all()]
    pred, _ = ridge_fit_predict(train[cols].to_numpy(float), train["target"].to_numpy(float),
                                test.loc[ok, cols].to_numpy(float))
    out[ok] = pred
    return out


def forecast(metrics, fractions=(0.1, 0.2, 0.3, 0.5), topology_metrics=DEFAULT_TOPOLOGY_METRICS,
             offset: bool = True, min_prefix_points: int = 4, evaluations=EVALUATIONS):
    """Forecasts of every run's final loss from prefixes of its training, by every method and evaluation.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Rows of ``results/metrics/{run}.parquet`` for all runs (needs ``run, step, frac, val_loss,
        source, layer``, ``size`` (for leave-one-size-out) and the ``topology_metrics`` columns).
    fractions : sequence of float
        Observed fractions of training, each in (0, 1).
    topology_metrics : sequence of str
        Metrics summarised into ``ridge_topology`` features.
    offset : bool
        Fit the power-law offset ``t0``.
    min_prefix_points : int
        A (run, fraction) whose prefix has fewer checkpoints with ``step > 0`` gets no forecast.
    evaluations : sequence of str
        Members of :data:`EVALUATIONS` (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per (run, fraction, evaluation, method) (``ridge_topology_null`` only when the metrics
        table has the ``{m}_null_z`` columns of every ``topology_metrics``): run descriptors, ``fraction``,
        ``evaluation``, ``method``, ``prefix_last_step``, ``n_prefix_points``, ``final_step``,
        ``final_loss``, ``n_train_runs`` (runs in the fold's training set; 0 for ``power_law`` and
        ``last_observed``), ``predicted``, ``error`` (predicted - final), ``abs_error``, ``rel_error``
        (abs_error / final_loss), ``note`` ('' or :data:`CANNOT_DECIDE_SIZES`).
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
        raise ValueError(f"forecasting holds runs out, so it needs at least 2 runs, got {runs}")
    n_sizes = size_groups(curves).nunique() if "leave_one_size_out" in evaluations else 0
    rows = []
    for f in sorted(fractions):
        table = _feature_table(metrics, curves, runs, f, topology_metrics, has_null, offset, min_prefix_points)
        table["target"] = np.log(table["final_loss"]) - table["log_power_law"]
        topo = {v: sorted(c for c in table.columns if c.count(":") == 2
                          and c.split(":")[1].endswith(NULL_Z_SUFFIX) == (v == "null_z")) for v in ("raw", "null_z")}
        loss_cols = [c for c in LOSS_FEATURES if c in table.columns]
        keep = [k for k in list(RUN_COLUMNS) + ["fraction", "prefix_last_step", "n_prefix_points", "final_step",
                                                "final_loss"] if k in table.columns]
        for evaluation in evaluations:
            blocked = evaluation == "leave_one_size_out" and n_sizes < MIN_SIZES
            pred = {m: table[m].to_numpy(float) for m in ("power_law", "last_observed")}
            n_train = np.zeros(len(table), dtype=int)
            for method, variant in RIDGE_METHODS.items():
                pred[method] = np.full(len(table), np.nan)
                if method not in methods or blocked:
                    continue
                cols = loss_cols + (topo[variant] if variant else [])
                for held, train in folds(curves, evaluation):
                    at = table["run"].isin(held).to_numpy()
                    pred[method][at] = table.loc[at, "power_law"].to_numpy(float) * np.exp(
                        _fold_predict(table, cols, train, held))
                    n_train[at] = len(train)
            for i, r in enumerate(table[keep].to_dict("records")):
                for method in methods:
                    ridge = method in RIDGE_METHODS
                    p = float(pred[method][i])
                    err = p - r["final_loss"]
                    rows.append(dict(r, evaluation=evaluation, method=method,
                                     n_train_runs=int(n_train[i]) if ridge else 0, predicted=p, error=err,
                                     abs_error=abs(err), rel_error=abs(err) / r["final_loss"],
                                     note=CANNOT_DECIDE_SIZES if ridge and blocked else ""))
    out = pd.DataFrame(rows)
    for c in ("prefix_last_step", "n_prefix_points", "final_step"):
        out[c] = out[c].astype(int)
    return out


def _feature_table(metrics, curves, runs, f, topology_metrics, has_null, offset, min_prefix_points):
    """One row per run: descriptors, final step and loss, and the prefix features at fraction ``f``."""
    feats = []
    for run in runs:
        curve = curves[curves["run"] == run]
        final_step, final_loss = _final(curve)
        pre = _prefix(curve, f)
        info = run_info(curve)
        base = dict(info, fraction=f, final_step=final_step, final_loss=final_loss, n_prefix_points=len(pre),
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
    return pd.DataFrame(feats)
