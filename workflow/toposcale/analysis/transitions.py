"""Phase transitions in training: change points of metric and loss trajectories over log step.

For every run and series (each (source, layer, metric) of the metrics table; the mean over the
``blockNN`` layers as layer ``blocks``; and ``val_loss`` / ``train_loss`` as source ``loss``), the series
over the checkpoints with ``step > 0`` is segmented against ``x = log(step)`` by
:func:`toposcale.analysis.changepoint.detect_change_points` (piecewise-linear PELT, shuffled-increment permutation
null; see that module for the exact statistic). A change point at index ``c`` is reported as the step of
checkpoint ``c`` (the first checkpoint of the new segment) and its training fraction ``frac``. The
*transition* of a series is its most significant change point (smallest adjusted p-value, earliest on
ties). The diminishing-returns point is :func:`toposcale.analysis.changepoint.diminishing_returns_index`: the
first checkpoint after which the metric's rate of change per unit log step stays below ``dr_frac`` of
its peak.

Raw and null-adjusted (issue 15): every topological metric ``m`` with a ``{m}_null_z`` column (its
standardised excess over the covariance-matched Gaussian null) is segmented a second time on that
column, as rows with ``variant = 'null_z'``; the raw rows (``variant = 'raw'``) are exactly those of a
table without nulls. The null_z series leave out degenerate clouds (``degenerate == True``). A table
without null columns gives raw rows only, with a warning.

Multiplicity. Each series gets one test (its permutation ``p_value``; a valid p-value is below ``alpha``
with probability at most ``alpha`` under the null), and a study has thousands of series, so ``alpha``
times their number are expected to pass by chance. The p-values are Benjamini-Hochberg adjusted
(:func:`toposcale.stats.bh_adjust`) within each *family* = (source, variant): all runs, layers and
metrics of the loss, the weights or the activations, raw or null_z. A family is the set of tests behind
one count the report states ("n of m weight series have a transition"), so the false discovery rate is
controlled for each statement made; sources and variants are separate statements (and the null_z series
re-test the raw ones, so pooling them would count a series twice). ``significant`` means ``q_value <
alpha``, strictly as the detector's own rule (so a significant series always has its change point), and
a transition is reported only for such series. :func:`family_counts` gives, per family, the expected
null count ``alpha * m`` beside the observed count of raw ``p < alpha`` and the BH count. A permutation
p-value is at least ``1 / (n_permutations + 1)``, so BH can confirm a series only when at least
``min_bh_discoveries`` series of its family reach that floor.

:func:`size_trends` asks whether transitions move with model size: the Spearman correlation, across
runs, of the transition point (and of the diminishing-returns point) with ``n_nonembed``, on the
training-fraction clock and on the step clock (a trend must hold on both: total steps grow with size),
tested only where the exact permutation test's floor reaches ``alpha`` with the runs at hand
(:func:`min_spearman_p`; the p-value itself is exact up to 8 runs and the t approximation above).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toposcale.analysis.changepoint import detect_change_points, diminishing_returns_index
from toposcale.analysis.dynamics import (NULL_Z_SUFFIX, check_columns, non_degenerate, null_z_series,
                                         resolve_metrics, run_info, stable_seed)
from toposcale.plan.decidability import min_spearman_p, runs_for_rank_test
from toposcale.stats import bh_adjust, spearman

#: The keys of a multiple-testing family of series (see the module docstring).
FAMILY_KEYS = ("source", "variant")

LOSS_SERIES = ("val_loss", "train_loss")
#: The headline series of a run, (source, layer, metric): the loss and the scale-normalised H0/H1 total
#: persistence of the blocks (mean over blocks) of each source. The transitions figure draws them and
#: the report tabulates their transition fractions.
HEADLINE_SERIES = (
    ("loss", "-", "val_loss"),
    ("weights", "blocks", "h0_total_persistence_norm"),
    ("weights", "blocks", "h1_total_persistence_norm"),
    ("activations", "blocks", "h0_total_persistence_norm"),
    ("activations", "blocks", "h1_total_persistence_norm"),
)


def _series(g_run, metric_cols, aggregate_blocks: bool, include_loss: bool, variant: str = "raw"):
    """Yield (source, layer, metric, step, frac, values) for one run's rows; ``metric_cols`` are the
    columns read, ``metric`` is reported without the ``_null_z`` suffix."""
    if include_loss:
        curve = g_run.drop_duplicates("step").sort_values("step")
        for m in LOSS_SERIES:
            if m in curve.columns:
                yield "loss", "-", m, curve["step"].to_numpy(float), curve["frac"].to_numpy(float), \
                    curve[m].to_numpy(float)
    name = {c: c.removesuffix(NULL_Z_SUFFIX) if variant == "null_z" else c for c in metric_cols}
    for (source, layer), g in g_run.groupby(["source", "layer"], sort=True):
        g = g.sort_values("step")
        for m in metric_cols:
            yield source, layer, name[m], g["step"].to_numpy(float), g["frac"].to_numpy(float), \
                g[m].to_numpy(float)
    if aggregate_blocks:
        blocks = g_run[g_run["layer"].astype(str).str.fullmatch(r"block\d+")]
        for source, g in blocks.groupby("source", sort=True):
            mean = g.groupby("step")[list(metric_cols) + ["frac"]].mean().sort_index()
            for m in metric_cols:
                yield source, "blocks", name[m], mean.index.to_numpy(float), mean["frac"].to_numpy(float), \
                    mean[m].to_numpy(float)


def trajectory(metrics, source: str, layer: str, metric: str, variant: str = "raw"):
    """One series of every run, as analysed here: columns ``run``, ``step``, ``frac``, ``value``.

    ``source='loss'`` (layer ignored) gives the loss column ``metric``; ``layer='blocks'`` the mean over
    the ``blockNN`` layers at each step; otherwise the rows of that source and layer. Step 0 is dropped.
    ``variant='null_z'`` reads ``{metric}_null_z`` over the clouds that are not degenerate.
    """
    if variant == "null_z" and source != "loss":
        metrics, metric = non_degenerate(metrics), metric + NULL_Z_SUFFIX
    check_columns(metrics, ("run", "step", "frac", "source", "layer", metric))
    m = metrics[metrics["step"] > 0]
    if source == "loss":
        g = m.drop_duplicates(["run", "step"])
    elif layer == "blocks":
        g = m[(m["source"] == source) & m["layer"].astype(str).str.fullmatch(r"block\d+")]
        g = g.groupby(["run", "step"], as_index=False)[[metric, "frac"]].mean()
    else:
        g = m[(m["source"] == source) & (m["layer"] == layer)]
    out = g[["run", "step", "frac", metric]].rename(columns={metric: "value"})
    return pd.DataFrame(out).sort_values(["run", "step"]).reset_index(drop=True)


def _fmt(values) -> str:
    return ";".join(f"{v:g}" for v in values)


def detect_transitions(metrics, metric_cols=None, n_permutations: int = 199, significance: float = 0.05,
                       seed: int = 0, dr_frac: float = 0.1, min_points: int = 8,
                       aggregate_blocks: bool = True, include_loss: bool = True):
    """Change points and diminishing-returns points of every series of every run.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Rows of ``results/metrics/{run}.parquet`` (several runs concatenated).
    metric_cols : sequence of str, optional
        Metric columns; default :data:`toposcale.analysis.dynamics.DEFAULT_METRICS` (those present).
    n_permutations, significance : int, float
        Passed to :func:`toposcale.analysis.changepoint.detect_change_points`.
    seed : int
        Base seed; each series gets a reproducible derived seed.
    dr_frac : float
        Threshold of the diminishing-returns point, as a fraction of the peak rate.
    min_points : int
        Series with fewer finite checkpoints (``step > 0``) are skipped.
    aggregate_blocks, include_loss : bool
        Add the ``blocks`` layer mean and the loss series.

    Returns
    -------
    pandas.DataFrame
        One row per (run, source, layer, metric, variant): run descriptors, ``variant`` ('raw' |
        'null_z', see the module docstring), ``n_points``, ``p_value`` (the series' permutation
        p-value, NaN when it is too short to split), ``statistic``, ``alpha`` (= ``significance``),
        ``p_min`` (``1 / (n_permutations + 1)``, the smallest p-value the test can give),
        ``significant_raw`` (``p_value < alpha``, one test alone), ``family`` ('{source}/{variant}'),
        ``q_value`` (Benjamini-Hochberg within the family), ``significant`` (``q_value < alpha``),
        ``n_change_points``, ``transition_step``, ``transition_frac``, ``transition_p``,
        ``change_point_steps`` and ``change_point_fracs`` (';'-separated, in order; the change points
        with a within-series max-T p below ``alpha``; 0, NaN and '' unless ``significant``),
        ``diminishing_returns_step``, ``diminishing_returns_frac`` (NaN when the rate never settles).
    """
    check_columns(metrics, ("run", "step", "frac", "source", "layer", "val_loss"))
    cols = resolve_metrics(metrics, metric_cols)
    null_cols = [c for _, v, c in null_z_series(metrics, cols) if v == "null_z"]
    rows = []
    for run, g_run in metrics[metrics["step"] > 0].groupby("run", sort=True):
        info = run_info(g_run)
        series = [("raw", s) for s in _series(g_run, cols, aggregate_blocks, include_loss)]
        if null_cols:
            series += [("null_z", s) for s in _series(non_degenerate(g_run), null_cols, aggregate_blocks, False,
                                                      "null_z")]
        for variant, (source, layer, metric, step, frac, y) in series:
            ok = np.isfinite(y)
            if ok.sum() < min_points:
                continue
            step, frac, y = step[ok], frac[ok], y[ok]
            keys = (run, source, layer, metric) + (("null_z",) if variant == "null_z" else ())
            res = detect_change_points(y, np.log(step), n_permutations=n_permutations,
                                       significance=significance, seed=stable_seed(seed, *keys))
            cps = res["change_points"]
            row = dict(info, source=source, layer=layer, metric=metric, variant=variant, n_points=len(y),
                       p_value=res["p_value"], statistic=res["statistic"], alpha=significance,
                       p_min=1.0 / (n_permutations + 1.0), n_change_points=len(cps), transition_step=np.nan,
                       transition_frac=np.nan, transition_p=np.nan, change_point_steps=_fmt(step[cps]),
                       change_point_fracs=_fmt(frac[cps]))
            if cps:
                pmap = dict(zip(res["candidates"], res["candidate_p_values"]))
                best = min(cps, key=lambda c: (pmap[c], c))
                row.update(transition_step=step[best], transition_frac=frac[best], transition_p=pmap[best])
            dr = diminishing_returns_index(y, step, frac=dr_frac)
            row["diminishing_returns_step"] = step[dr] if dr is not None else np.nan
            row["diminishing_returns_frac"] = frac[dr] if dr is not None else np.nan
            rows.append(row)
    if not rows:
        raise ValueError(f"no series with >= {min_points} checkpoints at step > 0; nothing to segment")
    return _adjust(pd.DataFrame(rows), significance)


def _adjust(tr, alpha: float):
    """Add ``significant_raw``, ``family``, ``q_value`` and ``significant``; clear the transition columns of
    the series that are not significant after BH."""
    tr.insert(tr.columns.get_loc("p_min") + 1, "significant_raw", (tr["p_value"] < alpha).to_numpy())
    tr.insert(tr.columns.get_loc("significant_raw") + 1, "family", tr["source"] + "/" + tr["variant"])
    q = np.full(len(tr), np.nan)
    for _, idx in tr.groupby("family", sort=True).indices.items():
        q[idx] = bh_adjust(tr["p_value"].to_numpy(float)[idx])
    tr.insert(tr.columns.get_loc("family") + 1, "q_value", q)
    tr.insert(tr.columns.get_loc("q_value") + 1, "significant", np.where(np.isfinite(q), q < alpha, False))
    off = ~tr["significant"]
    tr.loc[off, ["transition_step", "transition_frac", "transition_p"]] = np.nan
    tr.loc[off, ["change_point_steps", "change_point_fracs"]] = ""
    tr.loc[off, "n_change_points"] = 0
    return tr


def family_counts(transitions):
    """Per multiple-testing family (source, variant): what chance alone gives beside what was found.

    Returns
    -------
    pandas.DataFrame
        Columns ``source``, ``variant``, ``n_tests`` (series with a p-value), ``alpha``, ``expected_null``
        (``alpha * n_tests``: the expected count of ``p < alpha`` if no series had a transition),
        ``n_raw`` (series with ``p_value < alpha``), ``n_bh`` (series with ``q_value < alpha``), ``p_min``
        and ``min_bh_discoveries`` (the fewest series BH can confirm at once: the smallest ``k`` with
        ``n_tests * p_min / k < alpha``).
    """
    check_columns(transitions, ("source", "variant", "p_value", "q_value", "alpha", "p_min"), "transitions table")
    rows = []
    for (source, variant), g in transitions.groupby(list(FAMILY_KEYS), sort=True):
        alpha, p_min = float(g["alpha"].iloc[0]), float(g["p_min"].max())
        m = int(np.isfinite(g["p_value"].to_numpy(float)).sum())
        rows.append({"source": source, "variant": variant, "n_tests": m, "alpha": alpha,
                     "expected_null": alpha * m, "n_raw": int((g["p_value"] < alpha).sum()),
                     "n_bh": int((g["q_value"] < alpha).sum()), "p_min": p_min,
                     "min_bh_discoveries": int(np.floor(m * p_min / alpha + 1e-12)) + 1})
    return pd.DataFrame(rows)


#: The two clocks of a timing quantity (:func:`size_trends`): its training fraction and its step.
CLOCKS = {"transition_frac": "transition_step", "diminishing_returns_frac": "diminishing_returns_step"}

#: Verdict of a timing trend that holds on one clock only (or with opposite signs on the two).
CLOCK_DEPENDENT = ("depends on the clock: significant in training fraction or in steps but not both with one "
                   "sign; total steps grow with size, so it may be training length, not size")


def size_trends(transitions, alpha: float | None = None):
    """Do transition and diminishing-returns points move with model size, on both clocks?

    For each (activation, source, layer, metric, variant) and quantity (``transition_frac`` over the runs
    with a significant transition; ``diminishing_returns_frac`` over the runs where it is defined), the
    Spearman correlation across runs with ``n_nonembed`` (:func:`toposcale.stats.spearman`: exact
    permutation p for up to 8 runs, the t approximation above, so approximate there), once on the
    training-fraction clock (``rho``, ``p``, ``q``) and once on the step clock (``rho_step``, ``p_step``,
    ``q_step``, from ``transition_step`` / ``diminishing_returns_step``).

    Why two clocks (issue 22 point 8): total steps grow with model size (tokens per parameter is fixed),
    so a curve identical in steps across sizes reaches its point at one step, hence at a fraction that
    falls with size (rho = -1 on the fraction clock), and a curve identical in fraction reaches it at a
    step that grows with size. Neither clock alone separates size from training length. (Measuring the
    rate against training fraction instead of log step would not help: the diminishing-returns rate is per
    e-fold, which a change of clock by a run's total steps leaves unchanged.) A trend is therefore claimed
    only where both clocks give ``q < alpha`` with the same sign; one clock alone, or opposite signs, gives
    :data:`CLOCK_DEPENDENT`.

    A trend is tested only where the exact permutation test could reach ``alpha`` with those runs,
    ``min_spearman_p(n_nonembed) <= alpha`` (its floor; the t approximation used above 8 runs reaches it
    too); otherwise it is not a test at all and its verdict is ``'cannot decide: need >= K runs of distinct
    sizes'``, ``K = runs_for_rank_test(alpha)``, with ``p`` and ``q`` NaN. ``q`` and ``q_step`` are the
    Benjamini-Hochberg adjustments over the tested rows of the same quantity and clock.

    Parameters
    ----------
    transitions : pandas.DataFrame
        The table of :func:`detect_transitions` (both clocks' columns).
    alpha : float, optional
        Significance level; default the table's ``alpha`` column (0.05 without one).

    Returns
    -------
    pandas.DataFrame
        Columns ``activation`` (when present), ``source``, ``layer``, ``metric``, ``variant`` (when
        present), ``quantity``, ``n_runs``, ``rho`` (NaN for fewer than 3 runs), ``min_p``
        (:func:`min_spearman_p` of the runs' sizes), ``p``, ``rho_step``, ``p_step``, ``q``, ``q_step``,
        ``verdict`` ('increases with size' / 'decreases with size' when both clocks agree, by the sign of
        ``rho``; :data:`CLOCK_DEPENDENT`; 'no evidence of a trend'; or the cannot-decide note).
    """
    check_columns(transitions, ("n_nonembed",) + tuple(CLOCKS) + tuple(CLOCKS.values()), "transitions table")
    if alpha is None:
        alpha = float(transitions["alpha"].iloc[0]) if "alpha" in transitions and len(transitions) else 0.05
    blocked = f"cannot decide: need >= {runs_for_rank_test(alpha)} runs of distinct sizes"
    keys = [c for c in ("activation",) if c in transitions.columns] + ["source", "layer", "metric"] + (
        ["variant"] if "variant" in transitions.columns else [])
    rows = []
    for key, g in transitions.groupby(keys, sort=True):
        for quantity, step_col in CLOCKS.items():
            sub = g[np.isfinite(g[quantity].to_numpy(float))]
            x, y = sub["n_nonembed"].to_numpy(float), sub[quantity].to_numpy(float)
            ys = sub[step_col].to_numpy(float)
            rho, p = spearman(x, y) if len(sub) >= 3 else (np.nan, np.nan)
            rs, ps = spearman(x, ys) if len(sub) >= 3 and np.isfinite(ys).all() else (np.nan, np.nan)
            floor = min_spearman_p(x)
            rows.append(dict(zip(keys, key), quantity=quantity, n_runs=len(sub), rho=rho, min_p=floor,
                             p=p if floor <= alpha else np.nan, rho_step=rs, p_step=ps if floor <= alpha else np.nan))
    out = pd.DataFrame(rows, columns=keys + ["quantity", "n_runs", "rho", "min_p", "p", "rho_step", "p_step"])
    out["q"] = np.nan
    out["q_step"] = np.nan
    for quantity, idx in out.groupby("quantity").groups.items():
        out.loc[idx, "q"] = bh_adjust(out.loc[idx, "p"].to_numpy(float))
        out.loc[idx, "q_step"] = bh_adjust(out.loc[idx, "p_step"].to_numpy(float))
    out["verdict"] = [_trend_verdict(mp, q, r, qs, rs, alpha, blocked)
                      for mp, q, r, qs, rs in zip(out["min_p"], out["q"], out["rho"], out["q_step"], out["rho_step"])]
    return out


def _trend_verdict(min_p, q, rho, q_step, rho_step, alpha, blocked) -> str:
    if min_p > alpha:
        return blocked
    sig, sig_step = bool(q < alpha), bool(q_step < alpha)
    if sig and sig_step and np.sign(rho) == np.sign(rho_step):
        return "increases with size" if rho > 0 else "decreases with size"
    if sig or sig_step:
        return CLOCK_DEPENDENT
    return "no evidence of a trend"
