"""Phase transitions in training: change points of metric and loss trajectories over log step.

For every run and series (each (source, layer, metric) of the metrics table; the mean over the
``blockNN`` layers as layer ``blocks``; and ``val_loss`` / ``train_loss`` as source ``loss``), the series
over the checkpoints with ``step > 0`` is tested against ``x = log(step)`` by
the test ``transitions.method`` names (:func:`toposcale.analysis.change_test.change_points`: ``'ramp'``,
a ramp scan on a regression spline against a smooth curve plus AR(1) noise; ``'rebound'``, the
rate-rebound test, one-sided for the loss and two-sided for topology series; ``'ramp+rebound'`` (default),
both at half the level with Bonferroni; see that module), every
series with the same settings (the config's ``transitions`` section). A change point at checkpoint ``c`` (the ramp's midpoint) is reported as that
checkpoint's step and training fraction ``frac``. The *transition* of a series is its most significant
change point (the ramp scan's first, the largest ramp; with ``ramp+rebound`` the smaller p, ties: the ramp
scan's). The diminishing-returns point is
:func:`toposcale.analysis.diminishing_returns.diminishing_returns_index`.

Transitions in the warmup. While the learning rate warms up (the first ``warmup_frac`` of a run's steps) a
series that is smooth in the cumulative learning rate starts flat and then moves: in log step a plateau
and a descent, which the ramp scan takes for a change (``E + A (S + 1)^-alpha`` in the cumulative rate ``S``
gets one in 0.47-0.99 of series at the default study's run schedules above 62 steps). So by default
(``transitions.ramp_after_warmup``) a trained run's series are scanned only for ramps that rise after the
warmup's checkpoints (:func:`toposcale.analysis.lr_schedule.warmup_points`; 0.005-0.04 on that control,
``benchmarks/changepoint_run_schedules.py --flat-start 1 --max-change-points 3``): a move inside the warmup
is not tested by the ramp scan (:mod:`toposcale.analysis.changepoint`, "Warmup"). The rebound test can
still place a change point there (after a slowdown), so each row still says whether its transition lies in
the warmup (``transition_in_warmup``) and summary.md marks those: they say the series moved while the
rate rose, not that a stage began.

Raw and null-adjusted: every topological metric ``m`` with a ``{m}_null_z`` column is tested a second time
on that column (``variant = 'null_z'``). Degenerate clouds (``degenerate == True``) are left out of both
variants (a collapsed cloud's metric is not a point of the trajectory); the loss keeps every checkpoint.

Primary and exploratory (pre-registered). The config key ``transitions.primary`` lists the primary series
(source, layer, metric, variant); default: the validation loss and the block-mean scale-normalised H0/H1
total persistence of weights and activations, raw and null_z (:data:`HEADLINE_SERIES`). Over all runs
they form ONE family, Benjamini-Hochberg adjusted together; ``significant`` means a primary series with
``q_value < alpha``. Each primary series gets ``B = max(n_null, floor(m / alpha) + 1)`` null draws
(:func:`primary_null_draws`, ``m`` the family size), so the p-value floor lies below ``alpha / m`` and BH
can confirm any member. Every other series is exploratory: tested with ``n_null`` draws, counted per
(source, variant) beside its expected null count ``alpha * m`` (:func:`family_counts`), never called
significant.

:func:`size_trends` asks whether transitions move with model size: the Spearman correlation, across
runs, of the transition point (and of the diminishing-returns point) with ``n_nonembed``, on the
training-fraction clock and on the step clock (a trend must hold on both: total steps grow with size),
tested only where the exact permutation test's floor reaches ``alpha`` with the runs at hand
(:func:`min_spearman_p`; the p-value itself is exact up to 8 runs and the t approximation above).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toposcale.analysis.change_test import change_points
from toposcale.analysis.diminishing_returns import diminishing_returns_index
from toposcale.analysis.lr_schedule import (ANNEAL_MAX_SHARE, anneal_covariate, source_shares, warmup_points,
                                             warmup_steps)
from toposcale.analysis.metrics_table import (NULL_Z_SUFFIX, check_columns, non_degenerate, null_z_series,
                                              resolve_metrics, run_info, stable_seed)
from toposcale.plan.decidability import min_spearman_p, primary_null_draws, runs_for_rank_test
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
    the ``blockNN`` layers at each step; otherwise the rows of that source and layer. Step 0 is dropped, and
    so are degenerate clouds (both variants). ``variant='null_z'`` reads ``{metric}_null_z``.
    """
    if source != "loss":
        metrics = non_degenerate(metrics)
    if variant == "null_z" and source != "loss":
        metric = metric + NULL_Z_SUFFIX
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


#: Defaults of the ``transitions`` config section (the schema holds the study's values; these serve callers
#: without a config, e.g. tests).
DEFAULT_SETTINGS = {"n_null": 199, "significance": 0.05, "smooth_df": 4, "null_df": 6, "ramp_widths": [1, 2, 3],
                    "min_plateau": 3, "max_change_points": 3, "primary_n_null": 0, "method": "ramp+rebound",
                    "rebound_window": 2, "rebound_allowance": 0.0, "rebound_noise": "sup",
                    "anneal": True, "rebound_sigma_quantile": 0.95, "ramp_after_warmup": True,
                    "anneal_max_share": {"loss": ANNEAL_MAX_SHARE, "weights": None, "activations": None},
                    "primary": [dict(source=s, layer=l, metric=m, variant=v) for s, l, m in HEADLINE_SERIES
                                for v in (("raw",) if s == "loss" else ("raw", "null_z"))]}


def primary_keys(settings: dict) -> set[tuple[str, str, str, str]]:
    """The pre-registered primary series as (source, layer, metric, variant); the loss's layer is '-'."""
    out = set()
    for i, p in enumerate(settings.get("primary", DEFAULT_SETTINGS["primary"])):
        missing = {"source", "metric"} - set(p)
        if missing:
            raise ValueError(f"transitions.primary[{i}] lacks {sorted(missing)}; give source, layer, metric, variant")
        out.add((p["source"], "-" if p["source"] == "loss" else p.get("layer", "blocks"), p["metric"],
                 p.get("variant", "raw")))
    return out


def _collect(metrics, cols, null_cols, aggregate_blocks, include_loss, min_points):
    """Every series of every run: list of (keys dict, step, frac, y) over finite points at step > 0."""
    out = []
    for run, g_run in metrics[metrics["step"] > 0].groupby("run", sort=True):
        info = run_info(g_run)
        clean = non_degenerate(g_run)
        loss_rows = g_run if include_loss else g_run.iloc[:0]
        series = [("raw", t) for t in _series(loss_rows, [], False, include_loss)]
        series += [("raw", t) for t in _series(clean, cols, aggregate_blocks, False)]
        if null_cols:
            series += [("null_z", t) for t in _series(clean, null_cols, aggregate_blocks, False, "null_z")]
        for variant, (source, layer, metric, step, frac, y) in series:
            ok = np.isfinite(y)
            if ok.sum() < min_points:
                continue
            out.append((dict(info, run=run, source=source, layer=layer, metric=metric, variant=variant),
                        step[ok], frac[ok], y[ok]))
    return out


def detect_transitions(metrics, metric_cols=None, settings: dict | None = None, seed: int = 0,
                       dr_frac: float = 0.1, min_points: int = 8, aggregate_blocks: bool = True,
                       include_loss: bool = True, schedule: dict | None = None):
    """Change points and diminishing-returns points of every series of every run.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Rows of ``results/metrics/{run}.parquet`` (several runs concatenated).
    metric_cols : sequence of str, optional
        Metric columns; default :data:`toposcale.analysis.metrics_table.DEFAULT_METRICS` (those present).
    settings : dict, optional
        The config's ``transitions`` section (keys of :data:`DEFAULT_SETTINGS`; missing keys take those).
    seed : int
        Seed of the null draws.
    dr_frac : float
        Threshold of the diminishing-returns point, as a fraction of the peak rate.
    min_points : int
        Series with fewer finite checkpoints (``step > 0``) are skipped.
    aggregate_blocks, include_loss : bool
        Add the ``blocks`` layer mean and the loss series.
    schedule : dict, optional
        ``warmup_frac`` and ``min_lr_frac`` of the trained runs' learning-rate schedule (the config's
        ``training`` section); with ``transitions.anneal`` each trained run's series get its lr decay
        :func:`toposcale.analysis.lr_schedule.anneal_covariate` (total steps
        ``step / frac``) in the null; checkpoint series of other models (runs named ``series-*``) never do.
        None: the trainer's default schedule (the defaults of ``anneal_covariate``, the schema's).

    Returns
    -------
    (transitions, change_points) : pandas.DataFrame, pandas.DataFrame
        ``transitions``: one row per (run, source, layer, metric, variant): run descriptors, ``variant``,
        ``n_points``, ``primary`` (a pre-registered series), ``n_null`` (null draws of its test),
        ``p_value`` (the first scan's p; NaN below the test's minimum length), ``statistic``, ``phi``,
        ``method`` (the test, as it names itself), ``alpha``, ``p_min`` (``1 / (n_null + 1)``), ``significant_raw`` (``p_value < alpha``, one test
        alone), ``family`` ('primary', or '{source}/{variant}' for exploratory series), ``q_value``
        (Benjamini-Hochberg within the family), ``significant`` (primary and ``q_value < alpha``; an
        exploratory series is never significant), ``n_change_points``, ``transition_step``,
        ``transition_frac``, ``transition_p`` (the most significant change point, see above),
        ``change_point_steps``, ``change_point_fracs`` (';'-separated, in order found; filled only for
        significant series), ``n_detected`` (change points the sequential scan found at level ``alpha``,
        any series), ``diminishing_returns_step``, ``diminishing_returns_frac``, ``warmup_steps`` (the
        run's learning-rate warmup, :func:`toposcale.analysis.lr_schedule.warmup_steps` of its total steps
        and ``schedule``'s ``warmup_frac``; NaN for a checkpoint series of another model, whose schedule is
        unknown) and ``transition_in_warmup`` (``transition_step <= warmup_steps``: the transition's
        checkpoint was trained entirely while the rate rose; NaN without a transition or a schedule).
        ``change_points``: one row per change point the sequential scan found (``p < alpha`` at its step):
        run, source, layer, metric, variant, index (checkpoint index among the series' points), step,
        frac, p_value (that step's p), q_value (the series' q), significant (the series is significant:
        primary, its q below alpha), primary, in_warmup (as ``transition_in_warmup``).
    """
    check_columns(metrics, ("run", "step", "frac", "source", "layer", "val_loss"))
    st = dict(DEFAULT_SETTINGS, **(settings or {}))
    alpha = float(st["significance"])
    cols = resolve_metrics(metrics, metric_cols)
    null_cols = [c for _, v, c in null_z_series(metrics, cols) if v == "null_z"]
    series = _collect(metrics, cols, null_cols, aggregate_blocks, include_loss, min_points)
    if not series:
        raise ValueError(f"no series with >= {min_points} checkpoints at step > 0; nothing to test")
    prim = primary_keys(st)
    is_primary = [(k["source"], k["layer"], k["metric"], k["variant"]) in prim for k, *_ in series]
    b_primary = primary_null_draws(int(sum(is_primary)), alpha, int(st["primary_n_null"]))
    kw = dict(significance=alpha, smooth_df=int(st["smooth_df"]), null_df=int(st["null_df"]),
              widths=tuple(int(w) for w in st["ramp_widths"]), min_plateau=int(st["min_plateau"]),
              max_change_points=int(st["max_change_points"]))
    # batch the series sharing positions and null size: one call per (run's steps, primary or not)
    method = str(st["method"])
    kw.update(window=int(st["rebound_window"]), allowance=float(st["rebound_allowance"]),
              noise=str(st["rebound_noise"]), sigma_quantile=float(st["rebound_sigma_quantile"]) or None)
    anneal_on = bool(st["anneal"])
    after_warmup = bool(st["ramp_after_warmup"])
    sched = {} if schedule is None else {k: float(schedule[k]) for k in ("warmup_frac", "min_lr_frac")}
    groups: dict[tuple, list[int]] = {}
    totals = [int(round(step[-1] / frac[-1])) if not str(k["run"]).startswith("series-") and frac[-1] > 0 else 0
              for k, step, frac, _ in series]      # a trained run's length; 0: its schedule is unknown
    for i, (k, step, frac, _) in enumerate(series):     # the loss descends: one-sided; topology: two-sided
        total = totals[i] if anneal_on or after_warmup else 0
        groups.setdefault((step.tobytes(), is_primary[i], k["source"] != "loss", total), []).append(i)
    results: list = [None] * len(series)
    n_null = [0] * len(series)
    for (_, prim_flag, two_sided, total), idx in groups.items():
        b = max(b_primary, int(st["n_null"])) if prim_flag else int(st["n_null"])
        step = series[idx[0]][1]
        anneal = anneal_covariate(step, total, **sched) if total and anneal_on else None
        wp = warmup_points(step, total, sched.get("warmup_frac", 0.05)) if total and after_warmup else 0
        res = change_points(np.stack([series[i][3] for i in idx]), np.log(step), method, n_null=b,
                            two_sided=two_sided, seed=stable_seed(seed, len(step), prim_flag), anneal=anneal,
                            warmup_points=wp, anneal_max_share=source_shares(st["anneal_max_share"],
                                                                             [series[i][0]["source"] for i in idx]),
                            **kw)
        for i, r in zip(idx, res):
            results[i], n_null[i] = r, b
    rows, cps = [], []
    for i, (k, step, frac, y) in enumerate(series):
        r = results[i]
        loc = r["change_points"]
        wu = warmup_steps(totals[i], sched.get("warmup_frac", 0.05)) if totals[i] else np.nan
        row = dict(k, n_points=len(y), primary=is_primary[i], n_null=n_null[i], p_value=r["p_value"],
                   statistic=r["statistic"], phi=r["phi"], method=r["method"], alpha=alpha, p_min=1.0 / (n_null[i] + 1.0),
                   n_change_points=len(loc), n_detected=len(loc), transition_step=np.nan,
                   transition_frac=np.nan, transition_p=np.nan, change_point_steps=_fmt(step[loc]),
                   change_point_fracs=_fmt(frac[loc]))
        row.update(warmup_steps=wu, transition_in_warmup=np.nan)
        if loc:
            row.update(transition_step=step[loc[0]], transition_frac=frac[loc[0]],
                       transition_p=r["change_point_p_values"][0],
                       transition_in_warmup=bool(step[loc[0]] <= wu) if np.isfinite(wu) else np.nan)
        dr = diminishing_returns_index(y, step, frac=dr_frac)
        row["diminishing_returns_step"] = step[dr] if dr is not None else np.nan
        row["diminishing_returns_frac"] = frac[dr] if dr is not None else np.nan
        rows.append(row)
        for c, p in zip(loc, r["change_point_p_values"]):
            cps.append(dict(run=k["run"], source=k["source"], layer=k["layer"], metric=k["metric"],
                            variant=k["variant"], index=int(c), step=step[c], frac=frac[c], p_value=p,
                            primary=is_primary[i], in_warmup=bool(step[c] <= wu) if np.isfinite(wu) else np.nan,
                            _row=i))
    tr = _adjust(pd.DataFrame(rows), alpha)
    cp = pd.DataFrame(cps, columns=CHANGE_POINT_COLUMNS + ("_row",))
    cp["q_value"] = tr["q_value"].to_numpy()[cp["_row"].to_numpy(int)] if len(cp) else []
    cp["significant"] = tr["significant"].to_numpy()[cp["_row"].to_numpy(int)] if len(cp) else []
    return tr, cp[list(CHANGE_POINT_COLUMNS)].reset_index(drop=True)


#: Columns of ``analysis/change_points.csv``.
CHANGE_POINT_COLUMNS = ("run", "source", "layer", "metric", "variant", "index", "step", "frac", "p_value",
                        "q_value", "significant", "primary", "in_warmup")


def _adjust(tr, alpha: float):
    """Add ``significant_raw``, ``family``, ``q_value`` and ``significant``; clear the transition columns of
    the series that are not significant (exploratory series never are)."""
    tr.insert(tr.columns.get_loc("p_min") + 1, "significant_raw", (tr["p_value"] < alpha).to_numpy())
    fam = np.where(tr["primary"].to_numpy(bool), "primary", (tr["source"] + "/" + tr["variant"]).to_numpy())
    tr.insert(tr.columns.get_loc("significant_raw") + 1, "family", fam)
    q = np.full(len(tr), np.nan)
    for _, idx in tr.groupby("family", sort=True).indices.items():
        q[idx] = bh_adjust(tr["p_value"].to_numpy(float)[idx])
    tr.insert(tr.columns.get_loc("family") + 1, "q_value", q)
    sig = np.where(np.isfinite(q), q < alpha, False) & tr["primary"].to_numpy(bool)
    tr.insert(tr.columns.get_loc("q_value") + 1, "significant", sig)
    off = ~tr["significant"]
    tr.loc[off, ["transition_step", "transition_frac", "transition_p", "transition_in_warmup"]] = np.nan
    tr.loc[off, ["change_point_steps", "change_point_fracs"]] = ""
    tr.loc[off, "n_change_points"] = 0
    return tr


def family_counts(transitions):
    """Per multiple-testing family: what chance alone gives beside what was found.

    The primary family (pre-registered series, all runs) is one BH family whose members can be called
    significant; every exploratory family (source, variant) only counts, beside its expected null count.

    Returns
    -------
    pandas.DataFrame
        Columns ``family``, ``source`` and ``variant`` ('all' for the primary family), ``primary``,
        ``n_tests`` (series with a p-value), ``alpha``, ``expected_null`` (``alpha * n_tests``: the expected
        count of ``p < alpha`` if no series had a transition), ``n_raw`` (series with ``p_value < alpha``),
        ``n_bh`` (series with ``q_value < alpha``; NaN for exploratory families, which are never called
        significant), ``p_min`` and ``min_bh_discoveries`` (the fewest series BH can confirm at once: the
        smallest ``k`` with ``n_tests * p_min / k < alpha``).
    """
    check_columns(transitions, ("source", "variant", "p_value", "q_value", "alpha", "p_min"), "transitions table")
    tr = transitions
    if "family" not in tr.columns or "primary" not in tr.columns:   # a table written before the primary family
        tr = tr.assign(primary=False, family=tr["source"] + "/" + tr["variant"])
    rows = []
    for family, g in tr.groupby("family", sort=True):
        alpha, p_min = float(g["alpha"].iloc[0]), float(g["p_min"].max())
        primary = bool(g["primary"].astype(bool).all())
        m = int(np.isfinite(g["p_value"].to_numpy(float)).sum())
        rows.append({"family": family, "source": "all" if primary else g["source"].iloc[0],
                     "variant": "all" if primary else g["variant"].iloc[0], "primary": primary, "n_tests": m,
                     "alpha": alpha, "expected_null": alpha * m, "n_raw": int((g["p_value"] < alpha).sum()),
                     "n_bh": int((g["q_value"] < alpha).sum()) if primary else np.nan, "p_min": p_min,
                     "min_bh_discoveries": int(np.floor(m * p_min / alpha + 1e-12)) + 1})
    out = pd.DataFrame(rows)
    return out.sort_values("primary", ascending=False, kind="stable").reset_index(drop=True)


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
