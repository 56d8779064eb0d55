"""The whole analysis of one ingested log (:func:`analyse_log`) and its output tables.

All analyses place rows on a ``log10(step)`` axis, so step-0 rows are left out of them (they stay in
the tables).

* Logistic fits of capability and loss against ``log10(step)`` per run, and of final capability
  against ``log10(parameters)`` across runs, each compared with power-law and linear nulls by AICc:
  see :mod:`toposcale.analysis.logistic`.
* Transitions in loss and capability: :func:`toposcale.analysis.changepoint.detect_change_points` on each
  run's series against ``log10(step)``, matched to the log's grokking windows within a tolerance in
  decades of step (:func:`toposcale.experiments.external.segmentation.match_transitions`: precision and
  recall, per run and pooled).
* Plateaus of ``beta_estimate`` per run (:func:`toposcale.experiments.external.segmentation.plateaus`), rows
  inside grokking windows excluded because the claims treat the spike separately.
* The three claims (:mod:`toposcale.experiments.external.claims`).

Outputs (:func:`write_analysis`): ``external_{name}.csv`` (``FITS_COLUMNS``: one row per run and
series, plus pooled ``run_id = ALL`` rows), ``external_{name}_claims.csv`` (``CLAIMS_COLUMNS``),
``external_{name}_series.csv`` (``SERIES_COLUMNS``: the usable rows with plateaus and change
points, for the figure) and ``external_{name}_issues.csv`` (``ISSUE_COLUMNS``); the column lists live in
:mod:`toposcale.experiments.external.schema`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from toposcale.analysis.changepoint import detect_change_points
from toposcale.analysis.logistic import analyse_logistic
from toposcale.experiments.external.claims import fixpoint_test, ladder_test, spike_test
from toposcale.experiments.external.segmentation import (flag_windows, flags_of, has_flags, log_time, match_transitions,
                                                     plateaus, pooled_flatness, run_frames, window_spans)
from toposcale.experiments.external.schema import (CLAIMS_COLUMNS, FITS_COLUMNS, SERIES_COLUMNS, TRANSITION_SERIES,
                                                   ExternalLog, format_value)
from toposcale.io import write_csv_atomic


@dataclass
class ExternalAnalysis:
    """Tables of one analysed log: ``fits`` (:data:`FITS_COLUMNS`), ``claims`` (:data:`CLAIMS_COLUMNS`),
    ``series`` (:data:`SERIES_COLUMNS`), ``issues`` (:data:`ISSUE_COLUMNS`)."""

    name: str
    fits: object
    claims: object
    series: object
    issues: object


def _fit_row(run, size, series, x_variable, x, y, n_bootstrap, seed):
    res = analyse_logistic(x, y, n_bootstrap=n_bootstrap, seed=seed)
    res["midpoint"] = 10 ** res["x0"] if np.isfinite(res["x0"]) else np.nan
    return {"run_id": run, "n_params_millions": size, "series": series, "x_variable": x_variable, **res}


def _transition_columns(frame, col, flagged, *, tolerance, n_permutations, significance, min_size, seed):
    """Change points of one series of one run on the :func:`log_time` axis, matched against its
    grokking windows; returns the table columns and the steps where a new segment starts."""
    keep = frame[col].notna().to_numpy() & (frame["training_step"].to_numpy(float) > 0)
    y, steps = frame[col].to_numpy(float)[keep], frame["training_step"].to_numpy(float)[keep]
    out = {"n_change_points": 0, "change_point_steps": "", "cp_p_value": np.nan, "cp_method": "",
           "tolerance_decades": tolerance}
    cps = []
    if y.size >= 2 * min_size:
        res = detect_change_points(y, log_time(steps), n_null=n_permutations, significance=significance, seed=seed)
        cps = sorted(int(c) for c in res["change_points"])
        out.update(n_change_points=len(cps), cp_p_value=res["p_value"], cp_method=res["method"],
                   change_point_steps=";".join(format_value(steps[c]) for c in cps))
    if flagged:
        f = flags_of(frame)[keep]
        out.update(match_transitions(log_time(steps[cps]), window_spans(steps, f), tolerance))
        out["window_steps"] = ";".join(f"{format_value(steps[a])}-{format_value(steps[b])}" for a, b in flag_windows(f))
    return out, set(steps[cps].tolist())


def _pooled_transition_row(rows, series):
    sub = [r for r in rows if r["series"] == series and "n_detected" in r]
    if not sub:
        return None
    tot = {k: int(sum(r[k] for r in sub)) for k in ("n_detected", "n_windows", "n_detected_matched", "n_windows_hit")}
    return {"run_id": "ALL", "series": series, "x_variable": "log10_step", **tot,
            "n_change_points": tot["n_detected"], "tolerance_decades": sub[0]["tolerance_decades"],
            "precision": tot["n_detected_matched"] / tot["n_detected"] if tot["n_detected"] else np.nan,
            "recall": tot["n_windows_hit"] / tot["n_windows"] if tot["n_windows"] else np.nan}


def _beta_rows(frame, flagged):
    """Rows of a run for beta plateaus: positive beta, step > 0, outside flagged windows when flags exist."""
    ok = frame["beta_estimate"].notna().to_numpy() & (frame["training_step"].to_numpy(float) > 0)
    if flagged:
        ok = ok & ~flags_of(frame)
    return frame[ok]


def analyse_log(log: ExternalLog, *, n_bootstrap: int = 200, n_permutations: int = 999,
                significance: float = 0.05, tolerance: float = 0.1, min_size: int = 3,
                margin: float = 0.05, seed: int = 0, cp_permutations: int | None = None) -> ExternalAnalysis:
    """Run every analysis of the module docstring on an ingested log.

    Parameters
    ----------
    n_bootstrap : int
        Residual-bootstrap resamples per logistic fit.
    n_permutations : int
        Permutations (rotations) of the ladder and spike tests.
    significance : float
        Level ``alpha`` of every test, and of the change-point detector.
    tolerance : float
        Slack in decades of step when matching change points to grokking windows
        (:func:`match_transitions`).
    min_size : int
        Fewest rows in a segment, for transitions (change-point detector) and beta plateaus.
    margin : float
        Relative equivalence margin of :func:`fixpoint_test`.
    cp_permutations : int, optional
        Permutations inside the change-point detector (default ``min(n_permutations, 199)``).
    """
    frames = run_frames(log.data)
    flagged = has_flags(log.data)
    cp_kw = dict(n_permutations=cp_permutations if cp_permutations is not None else min(n_permutations, 199),
                 significance=significance, min_size=min_size)
    fit_rows, series_parts, beta_runs = [], [], []
    for k, (run, fr) in enumerate(frames.items()):
        ser = fr.copy()
        ser["in_window"] = flags_of(fr) if flagged else False
        rows = _series_rows(run, fr, ser, flagged, tolerance=tolerance, n_bootstrap=n_bootstrap, seed=seed + k,
                            cp_kw=cp_kw)
        fit_rows.extend(rows)
        beta_runs.append(_beta_run(fr, ser, flagged, min_size))
        series_parts.append(ser)
    for col in TRANSITION_SERIES:
        pooled = _pooled_transition_row(fit_rows, col)
        if pooled:
            fit_rows.append(pooled)
    fit_rows.extend(_params_rows(frames, n_bootstrap, seed))
    claims = _claims([b for b in beta_runs if b is not None], flagged, n_permutations=n_permutations,
                     alpha=significance, margin=margin, seed=seed)
    fits = pd.DataFrame(fit_rows).reindex(columns=FITS_COLUMNS)
    series = pd.concat(series_parts, ignore_index=True) if series_parts else pd.DataFrame()
    return ExternalAnalysis(log.name, fits, pd.DataFrame(claims, columns=CLAIMS_COLUMNS),
                            series.reindex(columns=SERIES_COLUMNS), log.issues)


def _series_rows(run, fr, ser, flagged, *, tolerance, n_bootstrap, seed, cp_kw):
    """Logistic fit and transitions of loss and capability of one run; marks change points in ``ser``."""
    size = float(fr["n_params_millions"].iloc[0])
    rows = []
    for col in TRANSITION_SERIES:
        ser[f"cp_{col}"] = False
        if fr[col].notna().sum() == 0:
            continue
        row = _fit_row(run, size, col, "log10_step", log_time(fr["training_step"]), fr[col], n_bootstrap, seed)
        trans, cp_steps = _transition_columns(fr, col, flagged, tolerance=tolerance, seed=seed, **cp_kw)
        row.update(trans)
        rows.append(row)
        ser[f"cp_{col}"] = ser["training_step"].isin(cp_steps)
    return rows


def _beta_run(fr, ser, flagged, min_size):
    """Plateaus, final beta and spike inputs of one run; writes plateau columns into ``ser``.

    Returns None when the run has no positive beta at a step > 0.
    """
    ser["plateau_id"], ser["plateau_beta"] = np.nan, np.nan
    br = _beta_rows(fr, flagged)
    if not len(br):
        return None
    steps, beta = br["training_step"].to_numpy(float), br["beta_estimate"].to_numpy(float)
    segs = plateaus(steps, beta, min_size=min_size)
    for sg in segs:
        idx = br.index[sg["first_row"]:sg["last_row"] + 1]
        ser.loc[idx, "plateau_id"] = sg["plateau_id"]
        ser.loc[idx, "plateau_beta"] = sg["beta"]
    allb = fr[fr["beta_estimate"].notna() & (fr["training_step"] > 0)]
    last = segs[-1]
    if len(segs) >= 2:  # the last plateau: geometric mean of its rows, standard error from their spread
        lb = np.log(beta[last["first_row"]:last["last_row"] + 1])
        final, final_se = last["beta"], last["beta"] * float(lb.std(ddof=1) / math.sqrt(lb.size))
    else:  # one segment is a climb, not a plateau: take the last row and the log's own uncertainty
        final, final_se = float(beta[-1]), float(br["beta_uncertainty"].iloc[-1])
    return {"steps": steps, "beta": beta, "segments": segs, "final": final, "final_se": final_se,
            "spike": (allb["training_step"].to_numpy(float), allb["beta_estimate"].to_numpy(float),
                      flags_of(allb))}


def _params_rows(frames, n_bootstrap, seed):
    """Final capability (last usable value per run) against log10(parameters) across runs."""
    xs, ys = [], []
    for fr in frames.values():
        cap = fr[fr["capability_score"].notna()]
        size = fr["n_params_millions"].iloc[0]
        if len(cap) and np.isfinite(size) and size > 0:
            xs.append(math.log10(size * 1e6))
            ys.append(float(cap["capability_score"].iloc[-1]))
    if len(xs) < 4:
        return []
    row = _fit_row("ALL", np.nan, "final_capability_score", "log10_params", xs, ys, n_bootstrap, seed)
    return [row]


def _claims(beta_runs, flagged, *, n_permutations, alpha, margin, seed):
    """The three claims rows from the per-run beta summaries of :func:`_beta_run`."""
    flat_p = pooled_flatness([(b["steps"], b["beta"], b["segments"]) for b in beta_runs])
    ladder = ladder_test([[sg["beta"] for sg in b["segments"]] for b in beta_runs], n_permutations=n_permutations,
                         alpha=alpha, seed=seed, flat_p=flat_p)
    if beta_runs and ladder["verdict"] == "untestable":
        n_single = sum(len(b["segments"]) < 2 for b in beta_runs)
        ladder["detail"] += (f"; {n_single} of {len(beta_runs)} run(s) form a single segment (no plateau "
                             f"boundary found; ratios of successive rows of a climb only reflect the logging interval)")
    fix = fixpoint_test([b["final"] for b in beta_runs], se=[b["final_se"] for b in beta_runs], alpha=alpha,
                        margin=margin)
    if flagged:
        spike = spike_test(*zip(*[b["spike"] for b in beta_runs]) if beta_runs else ([], [], []),
                           n_permutations=n_permutations, alpha=alpha, seed=seed + 1)
    else:
        spike = spike_test([], [], [], n_permutations=1)
        spike["detail"] = "the log has no grokking_detected values"
    return [ladder, fix, spike]


def output_paths(out_dir, name: str) -> dict:
    """``{fits, claims, series, issues}`` paths: ``external_{name}.csv``, ``external_{name}_claims.csv``,
    ``external_{name}_series.csv``, ``external_{name}_issues.csv`` under ``out_dir``."""
    out_dir = Path(out_dir)
    return {"fits": out_dir / f"external_{name}.csv", "claims": out_dir / f"external_{name}_claims.csv",
            "series": out_dir / f"external_{name}_series.csv", "issues": out_dir / f"external_{name}_issues.csv"}


def write_analysis(analysis: ExternalAnalysis, paths: dict) -> None:
    """Write the four tables atomically to the paths of :func:`output_paths`."""
    for key in ("fits", "claims", "series", "issues"):
        write_csv_atomic(getattr(analysis, key), paths[key])


def claims_summary(claims) -> str:
    """One line per claim: verdict, p-value and estimate."""
    lines = []
    for _, c in claims.iterrows():
        lines.append(f"{c['claim']}: {c['verdict']} (p = {c['p_value']:.3g}, estimate {c['estimate']:.4g}, "
                     f"target {c['target']:.4g}) - {c['detail']}")
    return "\n".join(lines)
