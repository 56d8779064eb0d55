"""Summaries of the final-loss forecasts of :func:`toposcale.analysis.forecasting.forecast`.

Every number is given per evaluation (``evaluation`` column, :data:`toposcale.analysis.forecasting.EVALUATIONS`):
``leave_one_size_out`` is the primary one; ``leave_one_run_out`` keeps same-size runs in training and is
reported only as a secondary, leaky line. Where leave-one-size-out cannot be run (fewer than
:data:`toposcale.analysis.forecasting.MIN_SIZES` sizes) its ridge rows carry no number but the note
:data:`toposcale.analysis.forecasting.CANNOT_DECIDE_SIZES`, and so do the comparisons and sentences built on them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toposcale.analysis.forecasting import EVALUATIONS, METHODS, PRIMARY_EVALUATION
from toposcale.stats import CLUSTER_INTERVAL, bootstrap_ci

#: Paired comparisons reported by :func:`summarise_forecasts`: (method, reference).
COMPARISONS = (("ridge_topology", "power_law"), ("ridge_topology", "ridge_loss"),
               ("ridge_topology_null", "ridge_loss"), ("ridge_topology_null", "ridge_topology"),
               ("power_law", "last_observed"))
#: How the report and the sentences name each evaluation.
EVALUATION_WORDS = {"leave_one_size_out": "leave-one-size-out, primary",
                    "leave_one_run_out": "leave-one-run-out, secondary: same-size runs stay in training"}


def evaluations_of(df) -> pd.Series:
    """The ``evaluation`` of each row; tables written before issue 16 have none and were all
    leave-one-run-out."""
    if "evaluation" in df.columns:
        return df["evaluation"]
    return pd.Series("leave_one_run_out", index=df.index)


def note_of(rows) -> str:
    """The first non-empty ``note`` of some forecast rows ('' when none, or no ``note`` column; a column
    read back from CSV holds NaN for '')."""
    if "note" not in rows:
        return ""
    notes = [n for n in rows["note"].dropna().astype(str) if n]
    return notes[0] if notes else ""


def summarise_forecasts(fc, n_bootstrap: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """Mean errors with bootstrap intervals, paired comparisons and a plain-language verdict, per evaluation.

    Returns
    -------
    dict
        ``methods``: DataFrame per (evaluation, fraction, method) with ``n_runs`` (runs with a finite
        error), ``mean_abs_error``, ``mean_abs_error_ci_low/high``, ``mean_rel_error``,
        ``mean_rel_error_ci_low/high`` (jackknife-t interval over sizes, :data:`toposcale.stats.CLUSTER_INTERVAL`:
        the mean recomputed with each size's runs left out in turn, t on sizes - 1 dof; the runs of a size
        move together, since a held-out size's runs share one fold's model and its extrapolation; over runs
        when the table has no ``size`` column. The percentile cluster bootstrap of before covered ~0.89 at
        7 sizes for a nominal 0.95; ``n_bootstrap`` and ``seed`` are no longer used) and ``note`` ('' or
        :data:`~toposcale.analysis.forecasting.CANNOT_DECIDE_SIZES`, then the errors are NaN);
        ``comparisons``: DataFrame per (evaluation, fraction, method, reference) with ``n_runs``,
        ``mean_diff_abs_error`` (method minus reference, over runs where both exist), ``ci_low``,
        ``ci_high`` (the same jackknife-t interval over sizes of the paired differences) and ``verdict`` ('better' when
        the interval lies below 0, 'worse' above, 'inconclusive' when it straddles 0, 'insufficient runs'
        with fewer than 2 paired runs or 2 sizes, or the
        cannot-decide note of either side); ``text``: per fraction and evaluation (primary first), one
        sentence on whether ``ridge_topology`` beats ``power_law`` and one on whether it beats
        ``ridge_loss``; the same two for ``ridge_topology_null`` against ``ridge_loss`` and
        ``ridge_topology`` when present. Each sentence names its evaluation.
    """
    mrows, crows, lines = [], [], []
    fc = fc.assign(evaluation=evaluations_of(fc))
    order = [e for e in EVALUATIONS if e in set(fc["evaluation"])]
    for f, gf in fc.groupby("fraction", sort=True):
        for evaluation in order:
            g = gf[gf["evaluation"] == evaluation]
            notes = {}
            for method in [m for m in METHODS if m in set(g["method"])]:
                rows = g[g["method"] == method]
                notes[method] = note_of(rows)
                m = rows[np.isfinite(rows["abs_error"])]
                sizes = m["size"] if "size" in m else None
                lo_a, hi_a = bootstrap_ci(m["abs_error"], n_resamples=n_bootstrap, level=level, seed=seed,
                                          clusters=sizes, method=CLUSTER_INTERVAL)
                lo_r, hi_r = bootstrap_ci(m["rel_error"], n_resamples=n_bootstrap, level=level, seed=seed,
                                          clusters=sizes, method=CLUSTER_INTERVAL)
                mrows.append({"evaluation": evaluation, "fraction": f, "method": method, "n_runs": len(m),
                              "mean_abs_error": m["abs_error"].mean(), "mean_abs_error_ci_low": lo_a,
                              "mean_abs_error_ci_high": hi_a, "mean_rel_error": m["rel_error"].mean(),
                              "mean_rel_error_ci_low": lo_r, "mean_rel_error_ci_high": hi_r,
                              "note": notes[method]})
            wide = g.pivot_table(index="run", columns="method", values="abs_error", aggfunc="first")
            size_of = g.drop_duplicates("run").set_index("run")["size"] if "size" in g else None
            for method, ref in COMPARISONS:
                if method not in notes or ref not in notes:
                    continue
                diff = (wide[method] - wide[ref]).dropna() if method in wide and ref in wide else pd.Series(dtype=float)
                d = diff.to_numpy()
                clusters = size_of.reindex(diff.index).to_numpy() if size_of is not None else None
                lo, hi = bootstrap_ci(d, n_resamples=n_bootstrap, level=level, seed=seed, clusters=clusters,
                                      method=CLUSTER_INTERVAL)
                blocked = notes[method] or notes[ref]
                verdict = blocked or (("better" if hi < 0 else "worse" if lo > 0 else "inconclusive")
                                      if np.isfinite(lo) else "insufficient runs")
                crows.append({"evaluation": evaluation, "fraction": f, "method": method, "reference": ref,
                              "n_runs": len(d), "mean_diff_abs_error": float(d.mean()) if len(d) else np.nan,
                              "ci_low": lo, "ci_high": hi, "verdict": verdict})
                if method.startswith("ridge_topology"):
                    lines.append(_sentence(f, evaluation, method, ref, d, lo, hi, verdict, level))
    return {"methods": pd.DataFrame(mrows), "comparisons": pd.DataFrame(crows), "text": "\n".join(lines)}


_REFERENCE_WORDS = {"power_law": "the power-law extrapolation",
                    "ridge_loss": "the same learned correction without topology (ridge_loss)",
                    "ridge_topology": "raw-topology features (ridge_topology)"}
_METHOD_WORDS = {"ridge_topology": "topology-augmented forecasts",
                 "ridge_topology_null": "null-adjusted topology forecasts (ridge_topology_null)"}


def _sentence(f, evaluation, method, ref, d, lo, hi, verdict, level) -> str:
    at = f"At {100 * f:g}% of training ({EVALUATION_WORDS.get(evaluation, evaluation)})"
    other = _REFERENCE_WORDS.get(ref, ref)
    if verdict.startswith("cannot decide"):
        return f"{at}: {verdict} to compare {method} with {other}."
    if verdict == "insufficient runs":
        return f"{at}: too few runs or sizes ({len(d)} runs) to compare {method} with {other}."
    who = _METHOD_WORDS.get(method, method)
    what = {"better": f"{who} beat {other}",
            "worse": f"{who} are worse than {other}",
            "inconclusive": f"no evidence that {who} beat {other}"}[verdict]
    return (f"{at}, {what}: mean difference in absolute error {d.mean():+.4g} nats "
            f"({100 * level:g}% CI {lo:+.4g} to {hi:+.4g}, {len(d)} runs).")


def primary_rows(df):
    """The rows of a forecast table (raw, summary or comparisons) of its primary evaluation: leave-one-size-out
    when present, else the only evaluation it has."""
    ev = evaluations_of(df)
    pick = PRIMARY_EVALUATION if (ev == PRIMARY_EVALUATION).any() else (ev.iloc[0] if len(ev) else PRIMARY_EVALUATION)
    return df[ev == pick]

