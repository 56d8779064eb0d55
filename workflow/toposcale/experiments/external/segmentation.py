"""Per-run series of an ingested log, grokking windows, matching of change points to windows, and beta
plateaus with their flatness test.

Everything here places rows on a ``log10(step)`` axis (:func:`log_time`), so step-0 rows are left out.
Plateaus of ``beta_estimate`` per run (:func:`plateaus`): piecewise-linear PELT segmentation of
``ln(beta)`` (shared :func:`toposcale.analysis.pelt.pelt`); a plateau's beta is the geometric
mean of its rows.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from toposcale.analysis.pelt import pelt, robust_sigma
from toposcale.experiments.external.schema import FLAG_COLUMN

#: Penalty per beta-plateau boundary in units of ``ln(n) sigma**2`` (BIC: a line's 2 coefficients + location).
PLATEAU_PENALTY = 3.0


def run_frames(data):
    """Usable rows per run in step order: ``{run_id: DataFrame}`` (runs in order of appearance)."""
    d = data[data["usable"]]
    return {r: g.reset_index(drop=True) for r, g in d.groupby("run_id", sort=False)}


def flags_of(frame):
    """``grokking_detected`` as a plain bool array (missing or invalid counts as not flagged)."""
    return frame[FLAG_COLUMN].fillna(False).to_numpy(dtype=bool).copy()


def has_flags(data) -> bool:
    """True when the log has at least one known grokking flag value."""
    return bool(data[FLAG_COLUMN].notna().any())


def log_time(steps):
    """Training time on a log axis, ``log10(step)`` (NaN for step 0). Change points and plateaus are
    placed on this axis, so they use the rows with step > 0 only: a step-0 row sits decades before
    the next one and would dominate any line fitted through it."""
    steps = np.asarray(steps, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(steps > 0, np.log10(np.where(steps > 0, steps, 1.0)), np.nan)


def flag_windows(flags) -> list:
    """Maximal runs of consecutive True values as ``(first, last)`` index pairs (inclusive).

    Examples
    --------
    >>> flag_windows([0, 1, 1, 0, 1])
    [(1, 2), (4, 4)]
    """
    f = np.asarray(flags, dtype=bool)
    if f.size == 0:
        return []
    edges = np.diff(np.concatenate([[0], f.astype(int), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist()))


def window_spans(steps, flags) -> list:
    """Grokking windows on the :func:`log_time` axis: ``(t_first, t_after)`` per window, where
    ``t_first`` is the first flagged row and ``t_after`` the row after the last flagged one (the
    last flagged row itself when the window reaches the end of the run)."""
    t = log_time(steps)
    return [(float(t[a]), float(t[min(b + 1, t.size - 1)])) for a, b in flag_windows(flags)]


def match_transitions(change_times, spans, tolerance: float = 0.1) -> dict:
    """Precision and recall of detected change points against flagged windows.

    Parameters
    ----------
    change_times : array-like
        :func:`log_time` of the first row of each new segment.
    spans : list of (float, float)
        Windows from :func:`window_spans`.
    tolerance : float
        Slack in decades of training step (0.1 decade is a factor 1.26 in step).

    Returns
    -------
    dict
        A change point at ``t`` *matches* window ``(t_first, t_after)`` when
        ``t_first - tolerance <= t <= t_after + tolerance`` (it starts the window, falls inside it, or
        starts the segment right after it). ``n_detected``, ``n_windows``, ``n_detected_matched``
        (change points matching some window), ``n_windows_hit`` (windows matched by some change
        point), ``precision = n_detected_matched / n_detected`` and ``recall = n_windows_hit /
        n_windows`` (NaN when the denominator is 0).
    """
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0 decades, got {tolerance}")
    times = [float(t) for t in change_times]
    hit = [[a - tolerance <= t <= b + tolerance for (a, b) in spans] for t in times]
    n_match = sum(any(h) for h in hit)
    n_hit = sum(any(h[k] for h in hit) for k in range(len(spans)))
    return {"n_detected": len(times), "n_windows": len(spans), "n_detected_matched": n_match,
            "n_windows_hit": n_hit,
            "precision": n_match / len(times) if times else float("nan"),
            "recall": n_hit / len(spans) if spans else float("nan")}


def plateaus(steps, beta, *, min_size: int = 3) -> list:
    """Segment one run's beta trajectory (rows in step order) into plateaus.

    ``ln(beta)`` against :func:`log_time` is segmented by :func:`toposcale.analysis.pelt.pelt`
    (piecewise least-squares lines, every segment at least ``min_size`` rows) with the BIC penalty
    of a new line segment (intercept, slope and location: ``3 ln(n) sigma**2``),
    ``sigma`` = :func:`toposcale.analysis.pelt.robust_sigma` of
    ``ln(beta)`` (floored at ``1e-6`` so noise-free plateaus are not split). A jump between two rows
    is a change of level the line segments cannot follow, so each step of a staircase becomes one
    segment, while a smooth climb stays in few sloped segments (:func:`plateau_flatness` then finds
    their slope). A plateau's beta is the geometric mean ``exp(mean ln beta)`` of its rows.

    Returns
    -------
    list of dict
        In step order: ``plateau_id, first_row, last_row, start_step, end_step, n_rows, beta``.
    """
    steps = np.asarray(steps, float)
    logb = np.log(np.asarray(beta, float))
    if logb.size == 0:
        return []
    cps = []
    if logb.size >= 2 * min_size:
        sigma = max(robust_sigma(logb), 1e-6)
        cps = pelt(logb, log_time(steps), penalty=PLATEAU_PENALTY * math.log(logb.size) * sigma ** 2,
                   min_size=min_size)
    bounds = [0, *sorted(int(c) for c in cps), logb.size]
    return [{"plateau_id": k, "first_row": a, "last_row": b - 1, "start_step": steps[a], "end_step": steps[b - 1],
             "n_rows": b - a, "beta": float(np.exp(logb[a:b].mean()))}
            for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]


def plateau_flatness(steps, beta, segments) -> dict:
    """Sign test: do the plateaus rise (or fall) *internally*?

    A ladder has flat steps; a smooth climb cut into segments has segments that all rise. For every
    segment of 3 or more rows the least-squares slope of ``ln(beta)`` against :func:`log_time` is
    computed; under flat plateaus with symmetric noise each slope is positive or negative with
    probability 1/2. The two-sided sign test counts the rising segments among those with a non-zero
    slope. Being a count, it is robust to one segment that swallowed a few rows of its neighbour
    (which happens next to an excluded grokking window).

    Returns
    -------
    dict
        ``n_segments`` (tested), ``n_rising``, ``median_slope`` (ln beta per decade) and ``p_value``
        (NaN with no testable segment).
    """
    lx = log_time(steps)
    lb = np.log(np.asarray(beta, float))
    slopes = []
    for sg in segments:
        sl = slice(sg["first_row"], sg["last_row"] + 1)
        x, y = lx[sl], lb[sl]
        if x.size >= 3 and np.ptp(x) > 0:
            slopes.append(float(np.polyfit(x, y, 1)[0]))
    nonzero = [v for v in slopes if v != 0]
    if not nonzero:
        return {"n_segments": 0, "n_rising": 0, "median_slope": float("nan"), "p_value": float("nan")}
    k = sum(v > 0 for v in nonzero)
    p = float(stats.binomtest(k, len(nonzero), 0.5).pvalue)
    return {"n_segments": len(nonzero), "n_rising": k, "median_slope": float(np.median(nonzero)), "p_value": p}


def pooled_flatness(flat_parts):
    """Sign-test p-value of :func:`plateau_flatness` over the segments of every run.

    Parameters
    ----------
    flat_parts : list of (steps, beta, segments)
        One entry per run, ``segments`` from :func:`plateaus`.

    Returns
    -------
    float or None
        Two-sided sign-test p-value of rising vs falling segments, pooled; None with no testable segment.
    """
    slopes_parts = []
    for st, b, sg in flat_parts:
        res = plateau_flatness(st, b, sg)
        slopes_parts.append((res["n_segments"], res["n_rising"]))
    n = sum(p[0] for p in slopes_parts)
    if n == 0:
        return None
    return float(stats.binomtest(sum(p[1] for p in slopes_parts), n, 0.5).pvalue)
