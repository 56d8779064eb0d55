"""Does topology change at the loss's stage crossings? Rate of change at each crossing against two nulls.

Inputs: the metrics tables (``results/metrics/{run}.parquet``) and the stage-crossings table
(``results/analysis/stage_crossings.csv``: run, crossing, step_start, step_cross, step_end, complete, ...).
For each headline topology series of :data:`toposcale.analysis.transitions.HEADLINE_SERIES` (the
block-mean H0/H1 total persistence / scale of weights and activations), raw and null-adjusted
(``{m}_null_z``), read with :func:`toposcale.analysis.transitions.trajectory` over the clouds that are not
degenerate (both variants), and each crossing type (e.g. ``unigram->bigram``; complete crossings only):

**Standardised increments.** A run's series ``y_0..y_{n-1}`` at its checkpoints ``step_0 < ... <
step_{n-1}`` (step > 0, finite values) has ``n - 1`` checkpoint intervals; interval ``k`` (between
checkpoints ``k`` and ``k+1``) has absolute increment ``|y_{k+1} - y_k|``. The run's *typical rate* ``s``
is the median absolute increment over all its intervals, and ``u_k = |y_{k+1} - y_k| / s`` is the
standardised increment (1 = a typical checkpoint-to-checkpoint move of that series in that run). The
rate is per checkpoint interval, not per unit log step: with log plus linearly spaced checkpoints the
log-step spacing varies many-fold along a run and noise divided by a small spacing would dominate a
per-log-step rate; per interval, noise has one scale along the run.

**Window of a crossing.** The intervals that overlap the crossing's drop ``[step_start, step_end]``
(``step_{k+1} > step_start`` and ``step_k < step_end``), widened by ``widen`` intervals on each side
(default 1) and clipped to the run. Its *rate* ``z`` is the mean of ``u_k`` over the window: the mean
absolute change per checkpoint interval around the crossing, in units of the run's typical change.

**Pooled statistic** of a (series, variant, crossing type): ``T = mean over runs of z`` (one crossing of
the type per run, its complete crossings; a run whose series has ``s = 0`` or fewer than 3 checkpoints
drops out).

**Nulls** (``n_null`` draws each, ``p = (1 + #{T* >= T}) / (1 + n_null)``; a swap draw in which no
window falls inside its run is undefined and left out of both counts):

* *random position* (``p_random``): every run's window moves to a uniformly random position in the
  same run, same width in intervals; a series that moves a lot everywhere, or more at any stage of
  training than at the crossing, does not pass;
* *swap* (``p_swap``): the crossings are permuted between runs (a uniformly random permutation), each
  carried over in training-fraction units (``step / total_steps`` of its own run, mapped to the
  receiving run's steps) and its window recomputed there. Crossings cluster at a training fraction, so
  a series that moves at a fixed training fraction near that cluster moves inside the swapped windows
  too and does not pass; only a series that moves at *its own run's* crossing beats this null.

Both p-values must be below ``alpha`` (an intersection-union test: its level is ``alpha`` without
correction). ``p_value = max(p_random, p_swap)``; ``q_value`` is its Benjamini-Hochberg adjustment
(:func:`toposcale.stats.bh_adjust`) over the decidable rows of one variant (the series and crossing
types tested), and a row *passes* when ``q_value < alpha``.

**Lead/lag.** Per crossing, ``c`` is the interval containing ``step_cross`` (the last checkpoint at or
before it starts the interval); the profile ``u_{c+l}`` for ``l = -max_lag .. max_lag`` (inside the run);
the crossing's lag is the ``l`` that maximises it (ties: smallest ``|l|``, then the earlier). Negative =
the topology's largest move comes before the interval in which the loss crosses (an early warning);
units are checkpoint intervals. The pooled ``lag`` is the mean over runs.

**Intervals.** ``ci_low/high`` and ``lag_ci_low/high``: percentile intervals of the pooled statistic and
lag from a bootstrap over runs clustered by size (``n_nonembed``; :func:`toposcale.stats.bootstrap_ci`).

**Verdicts** (column ``verdict``): below ``crossings_for_alignment(alpha)`` complete crossings (the fewest
at which the swap null's smallest p, ``1 / n!``, reaches ``alpha``; see
:mod:`toposcale.plan.decidability`) ``"cannot decide: need >= N complete {crossing} crossings, have n"``;
a passing row ``"topology marks the {crossing} transition"``, except a raw row whose null_z row does not
pass: ``"explained by its null"``; otherwise ``"no alignment"``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from toposcale.analysis.metrics_table import check_columns, non_degenerate, stable_seed
from toposcale.analysis.transitions import HEADLINE_SERIES, trajectory
from toposcale.plan.decidability import CANNOT_DECIDE, crossings_for_alignment
from toposcale.stats import bh_adjust, bootstrap_ci

#: Headline topology series (source, layer, metric): the non-loss entries of ``HEADLINE_SERIES``.
TOPOLOGY_SERIES = tuple(s for s in HEADLINE_SERIES if s[0] != "loss")
#: Columns the stage-crossings table must have.
CROSSING_COLUMNS = ("run", "crossing", "step_start", "step_cross", "step_end", "complete")
#: Output columns, in order.
COLUMNS = ("source", "layer", "metric", "variant", "crossing", "n_runs", "n_crossings", "statistic", "ci_low",
           "ci_high", "p_random", "p_swap", "p_value", "q_value", "alpha", "lag", "lag_ci_low", "lag_ci_high",
           "min_crossings", "verdict")
#: The key of the alignment verdict in the operating-characteristics table (and summary.md's power note).
VERDICT_KEY = "topology marks the stage crossing"
NO_ALIGNMENT = "no alignment"
EXPLAINED = "explained by its null"


def marks(crossing: str) -> str:
    """The passing verdict of a crossing type."""
    return f"topology marks the {crossing} transition"


# ----------------------------------------------------------------------------- numpy core

def standardised_increments(values) -> np.ndarray:
    """``|y_{k+1} - y_k| / median_k |y_{k+1} - y_k|`` (all NaN when the median is 0 or undefined)."""
    inc = np.abs(np.diff(np.asarray(values, dtype=float)))
    s = np.median(inc) if len(inc) else np.nan
    if not np.isfinite(s) or s <= 0:
        return np.full(len(inc), np.nan)
    return inc / s


def windows(steps, step_start, step_end, widen: int = 1):
    """Interval indices ``(k0, k1, ok)`` (arrays, inclusive) of the intervals that overlap each
    ``[step_start, step_end]`` (``steps[k+1] > step_start`` and ``steps[k] < step_end``), widened by
    ``widen`` on each side and clipped to ``0 .. n - 2``; ``ok`` is False where no interval overlaps."""
    s = np.asarray(steps, dtype=float)
    a, b = np.atleast_1d(np.asarray(step_start, float)), np.atleast_1d(np.asarray(step_end, float))
    first = np.searchsorted(s[1:], a, side="right")          # first k with s[k+1] > a
    last = np.searchsorted(s[:-1], b, side="left") - 1        # last k with s[k] < b
    ok = (first <= last) & (len(s) >= 2)
    return np.maximum(0, first - widen), np.minimum(len(s) - 2, last + widen), ok


def window(steps, step_start: float, step_end: float, widen: int = 1):
    """:func:`windows` of one drop: ``(k0, k1)``, or None when no interval overlaps it.

    >>> window([1, 2, 4, 8, 16, 32], 5, 7)          # inside interval 2 (4..8), widened by one each side
    (1, 3)
    """
    k0, k1, ok = windows(steps, step_start, step_end, widen)
    return (int(k0[0]), int(k1[0])) if ok[0] else None


def _window_means(u, k0, k1, ok):
    """Mean of ``u[k0:k1+1]`` per window (NaN where not ``ok``), by cumulative sums."""
    csum = np.concatenate([[0.0], np.cumsum(u)])
    k0c, k1c = np.where(ok, k0, 0), np.where(ok, k1, 0)
    return np.where(ok, (csum[k1c + 1] - csum[k0c]) / (k1c - k0c + 1), np.nan)


def crossing_lag(u, steps, step_cross: float, max_lag: int) -> float:
    """The lag ``l`` in ``-max_lag .. max_lag`` maximising ``u[c + l]``, ``c`` the interval containing
    ``step_cross`` (ties: smallest ``|l|``, then the earlier); NaN when ``step_cross`` is outside the run."""
    s = np.asarray(steps, dtype=float)
    if not (s[0] <= step_cross < s[-1]) or not np.isfinite(u).any():
        return np.nan
    c = int(np.searchsorted(s, step_cross, side="right")) - 1
    lags = np.array([lg for lg in range(-max_lag, max_lag + 1) if 0 <= c + lg < len(u)])
    vals = u[c + lags]
    best = np.nanmax(vals)
    cand = lags[vals >= best]
    return float(cand[np.lexsort((cand, np.abs(cand)))][0])


def align_series(runs: list[dict], n_null: int = 999, widen: int = 1, max_lag: int = 3, seed: int = 0) -> dict:
    """Statistic, both nulls and lag of one series at one crossing type (definitions: module docstring).

    Parameters
    ----------
    runs : list of dict
        One per run with a crossing of the type: ``steps`` (checkpoint steps > 0, ascending), ``values``
        (the series there, finite), ``total_steps``, ``step_start``, ``step_cross``, ``step_end``.
    n_null : int
        Draws of each null.
    widen, max_lag : int
        Window widening and lag range, in checkpoint intervals.

    Returns
    -------
    dict
        ``z`` (per run, NaN where unusable), ``lags`` (per run), ``used`` (bool per run), ``statistic``,
        ``p_random``, ``p_swap``, ``null_random``, ``null_swap`` (the null draws of the pooled statistic),
        ``lag`` (mean over used runs). NaN statistic and p-values when no run is usable.
    """
    n = len(runs)
    u = [standardised_increments(r["values"]) if len(r["steps"]) >= 3 else np.full(0, np.nan) for r in runs]
    wins = [window(r["steps"], r["step_start"], r["step_end"], widen) if len(ui) else None
            for r, ui in zip(runs, u)]
    used = np.array([w is not None and np.isfinite(ui).all() for w, ui in zip(wins, u)], dtype=bool)
    z = np.full(n, np.nan)
    lags = np.full(n, np.nan)
    for i in np.flatnonzero(used):
        k0, k1 = wins[i]
        z[i] = u[i][k0:k1 + 1].mean()
        lags[i] = crossing_lag(u[i], runs[i]["steps"], runs[i]["step_cross"], max_lag)
    out = {"z": z, "lags": lags, "used": used, "statistic": np.nan, "p_random": np.nan, "p_swap": np.nan,
           "null_random": np.full(0, np.nan), "null_swap": np.full(0, np.nan), "lag": np.nan}
    idx = np.flatnonzero(used)
    if not len(idx):
        return out
    rng = np.random.default_rng(seed)
    stat = float(z[idx].mean())
    # random position: per run, the mean of u over every window of the same width (sliding means)
    rand = np.zeros(n_null)
    for i in idx:
        k0, k1 = wins[i]
        width = k1 - k0 + 1
        csum = np.concatenate([[0.0], np.cumsum(u[i])])
        slide = (csum[width:] - csum[:-width]) / width
        rand += slide[rng.integers(0, len(slide), size=n_null)]
    rand /= len(idx)
    # swap: M[i, j] = rate of run i's series in run j's crossing window, carried in training fractions
    f0 = np.array([runs[j]["step_start"] / runs[j]["total_steps"] for j in idx])
    f1 = np.array([runs[j]["step_end"] / runs[j]["total_steps"] for j in idx])
    m = np.vstack([_window_means(u[i], *windows(runs[i]["steps"], f0 * runs[i]["total_steps"],
                                                 f1 * runs[i]["total_steps"], widen)) for i in idx])
    perms = rng.permuted(np.tile(np.arange(len(idx)), (n_null, 1)), axis=1)
    with warnings.catch_warnings():              # a permutation whose every window misses its run: NaN draw
        warnings.simplefilter("ignore", RuntimeWarning)
        swap = np.nanmean(m[np.arange(len(idx))[None, :], perms], axis=1)
    tol = 1e-12 * max(1.0, abs(stat))
    out.update(statistic=stat, null_random=rand, null_swap=swap, lag=float(np.nanmean(lags[idx])),
               p_random=_mc_p(rand, stat - tol), p_swap=_mc_p(swap, stat - tol))
    return out


def _mc_p(draws, stat: float) -> float:
    """``(1 + #{draws >= stat}) / (1 + #draws)`` over the finite draws (NaN when there are none)."""
    d = draws[np.isfinite(draws)]
    return float((1 + np.sum(d >= stat)) / (1 + len(d))) if len(d) else float("nan")


def verdicts(rows: pd.DataFrame) -> list[str]:
    """The verdict of each row of an alignment table (rules: module docstring); ``rows`` needs
    ``source, layer, metric, variant, crossing, n_runs, min_crossings, q_value, alpha``."""
    passes = {}      # None where the row cannot decide: an undecidable null_z row explains nothing
    for r in rows.itertuples():
        passes[(r.source, r.layer, r.metric, r.crossing, r.variant)] = \
            bool(r.q_value < r.alpha) if r.n_runs >= r.min_crossings else None
    out = []
    for r in rows.itertuples():
        if r.n_runs < r.min_crossings:
            out.append(f"{CANNOT_DECIDE}: need >= {r.min_crossings} complete {r.crossing} crossings, "
                       f"have {r.n_runs}")
        elif not passes[(r.source, r.layer, r.metric, r.crossing, r.variant)]:
            out.append(NO_ALIGNMENT)
        elif r.variant == "raw" and passes.get((r.source, r.layer, r.metric, r.crossing, "null_z")) is False:
            out.append(EXPLAINED)
        else:
            out.append(marks(r.crossing))
    return out


# ----------------------------------------------------------------------------- tables

def _total_steps(metrics) -> pd.Series:
    """Total steps of each run: ``step / frac`` at its last checkpoint."""
    last = metrics[metrics["frac"] > 0].sort_values("step").groupby("run").tail(1)
    return pd.Series((last["step"] / last["frac"]).to_numpy(float), index=last["run"].to_numpy())


def complete_crossings(crossings) -> pd.DataFrame:
    """The complete crossings, one per (run, crossing type): the earliest ``step_cross`` if a run lists
    a type twice. Raises ValueError naming missing columns."""
    check_columns(crossings, CROSSING_COLUMNS, "stage-crossings table (results/analysis/stage_crossings.csv)")
    ok = crossings[crossings["complete"].map(lambda v: str(v).strip().lower() in ("true", "1", "1.0"))]
    return ok.sort_values("step_cross").drop_duplicates(["run", "crossing"]).reset_index(drop=True)


def align(metrics, crossings, series=TOPOLOGY_SERIES, variants=("raw", "null_z"), n_null: int = 999,
          n_bootstrap: int = 2000, widen: int = 1, max_lag: int = 3, alpha: float = 0.05, seed: int = 0,
          details: bool = False):
    """One row per (series, variant, crossing type): does the series change at the crossings?

    Parameters
    ----------
    metrics : pandas.DataFrame
        Rows of the metrics tables (several runs; columns ``run, step, frac, source, layer`` and the
        metrics; ``n_nonembed`` clusters the bootstrap when present, else each run is its own cluster).
    crossings : pandas.DataFrame
        The stage-crossings table (:data:`CROSSING_COLUMNS` at least).
    series, variants :
        (source, layer, metric) triples and 'raw' / 'null_z'; a null_z variant whose column is absent is
        skipped.
    n_null, n_bootstrap, widen, max_lag, alpha, seed :
        See the module docstring; ``n_bootstrap = 0`` skips the intervals (NaN).
    details : bool
        Also return the per-crossing rows (run, z, lag, used) and the null draws, as a second value
        ``{"crossings": DataFrame, "nulls": {(source, layer, metric, variant, crossing): (random, swap)}}``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`; the definitions are in the module docstring. One row per crossing type
        of the table, complete or not (a type no run completed has ``n_runs = 0`` and says "cannot
        decide"); ``n_crossings``: complete crossings of the type whose run has the series;
        ``n_runs``: those entering the statistic (usable window and typical rate); ``min_crossings``:
        the decidability floor.
    """
    check_columns(metrics, ("run", "step", "frac", "source", "layer"))
    cr = complete_crossings(crossings)
    types = sorted(crossings["crossing"].dropna().unique())     # a type without complete crossings: cannot decide
    clean = non_degenerate(metrics)
    total = _total_steps(clean)
    sizes = clean.drop_duplicates("run").set_index("run")["n_nonembed"] if "n_nonembed" in clean else None
    floor = crossings_for_alignment(alpha)
    rows, per, nulls = [], [], {}
    for source, layer, metric in series:
        for variant in variants:
            col = metric + ("_null_z" if variant == "null_z" else "")
            if col not in clean.columns:
                continue
            traj = trajectory(clean, source, layer, metric, variant)
            traj = traj[np.isfinite(traj["value"].to_numpy(float))]
            if traj.empty:                          # the study has no such source (or only NaN): no row
                continue
            by_run = {r: g for r, g in traj.groupby("run", sort=False)}
            for crossing in types:
                g = cr[(cr["crossing"] == crossing) & cr["run"].isin(by_run)].sort_values("run")
                data = [{"steps": by_run[r.run]["step"].to_numpy(float),
                         "values": by_run[r.run]["value"].to_numpy(float), "total_steps": float(total[r.run]),
                         "step_start": float(r.step_start), "step_cross": float(r.step_cross),
                         "step_end": float(r.step_end)} for r in g.itertuples()]
                res = align_series(data, n_null=n_null, widen=widen, max_lag=max_lag,
                                   seed=stable_seed(seed, source, layer, metric, variant, crossing))
                used = res["used"]
                clusters = (sizes.reindex(g["run"]).to_numpy() if sizes is not None else g["run"].to_numpy())[used]
                ci = lag_ci = (np.nan, np.nan)
                if n_bootstrap > 0 and used.sum() >= 2:
                    ci = bootstrap_ci(res["z"][used], n_resamples=n_bootstrap, seed=seed, clusters=clusters)
                    lag_ci = bootstrap_ci(res["lags"][used], n_resamples=n_bootstrap, seed=seed, clusters=clusters)
                rows.append({"source": source, "layer": layer, "metric": metric, "variant": variant,
                             "crossing": crossing, "n_runs": int(used.sum()), "n_crossings": len(g),
                             "statistic": res["statistic"], "ci_low": ci[0], "ci_high": ci[1],
                             "p_random": res["p_random"], "p_swap": res["p_swap"],
                             "p_value": max(res["p_random"], res["p_swap"]), "alpha": alpha, "lag": res["lag"],
                             "lag_ci_low": lag_ci[0], "lag_ci_high": lag_ci[1], "min_crossings": floor})
                if details:
                    per.append(pd.DataFrame({"run": g["run"].to_numpy(), "source": source, "layer": layer,
                                             "metric": metric, "variant": variant, "crossing": crossing,
                                             "z": res["z"], "lag": res["lags"], "used": used}))
                    nulls[(source, layer, metric, variant, crossing)] = (res["null_random"], res["null_swap"])
    out = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("q_value", "verdict")])
    out["q_value"] = np.nan
    tested = out[out["n_runs"] >= floor]
    for _, idx in tested.groupby("variant").groups.items():
        out.loc[idx, "q_value"] = bh_adjust(out.loc[idx, "p_value"].to_numpy(float))
    out["verdict"] = verdicts(out) if len(out) else []
    out = out[list(COLUMNS)]
    if details:
        return out, {"crossings": pd.concat(per, ignore_index=True) if per else pd.DataFrame(), "nulls": nulls}
    return out


def null_table(nulls: dict) -> pd.DataFrame:
    """The null draws of :func:`align` (``details=True``) as a long table: ``source, layer, metric,
    variant, crossing, null`` ('random' | 'swap'), ``draw``, ``statistic`` (the pooled statistic of
    that draw) (``results/analysis/alignment_nulls.csv``)."""
    parts = []
    for (source, layer, metric, variant, crossing), pair in nulls.items():
        for name, draws in zip(("random", "swap"), pair):
            parts.append(pd.DataFrame({"source": source, "layer": layer, "metric": metric, "variant": variant,
                                       "crossing": crossing, "null": name, "draw": np.arange(len(draws)),
                                       "statistic": draws}))
    cols = ["source", "layer", "metric", "variant", "crossing", "null", "draw", "statistic"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
