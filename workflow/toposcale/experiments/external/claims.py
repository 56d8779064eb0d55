"""Falsification tests of the three "beta" claims, each with a stated null, a p-value and a verdict.

Verdicts: ``survives``, ``falsified`` (the data contradict the claimed number), ``not supported`` (no
evidence for the claimed effect) or ``untestable`` (not enough data).

- :func:`ladder_test`: successive plateau ratios in step order vs ``Phi**(1/3)``, against random
  reorderings of each run's plateaus, plus a sign test that the plateaus are flat
  (:func:`toposcale.experiments.external.segmentation.plateau_flatness`);
- :func:`fixpoint_test`: final beta per run vs ``Phi**3`` (t-test over runs, equivalence margin);
- :func:`spike_test`: rate of change of ``ln(beta)`` inside vs outside grokking windows, against
  random rotations of the windows.

Each returns one row of the claims table (:data:`toposcale.experiments.external.schema.CLAIMS_COLUMNS`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from toposcale.experiments.external.segmentation import log_time
from toposcale.experiments.external.schema import FIXPOINT, LADDER_RATIO


def _claim(claim, statement, null, statistic, value, p, est, lo, hi, target, n, verdict, detail):
    return {"claim": claim, "statement": statement, "null_hypothesis": null, "statistic": statistic,
            "statistic_value": value, "p_value": p, "estimate": est, "ci_low": lo, "ci_high": hi,
            "target": target, "n": n, "verdict": verdict, "survives": verdict == "survives",
            "detail": detail}


def _t_interval(values, ci: float):
    v = np.asarray(values, float)
    m = float(v.mean())
    se = float(v.std(ddof=1) / math.sqrt(v.size))
    h = float(stats.t.ppf(0.5 + ci / 2, v.size - 1)) * se
    return m, se, m - h, m + h


def _ladder_statistic(ratios_log, target_log):
    return float(np.mean(np.abs(ratios_log - target_log)))


def ladder_test(plateau_betas, *, ratio: float = LADDER_RATIO, n_permutations: int = 999,
                alpha: float = 0.05, ci: float = 0.95, seed: int = 0, flat_p: float | None = None) -> dict:
    """Test the "beta ladder": successive plateau betas differ by the factor ``ratio``.

    Parameters
    ----------
    plateau_betas : list of array-like
        One sequence per run, **in step order** (never sorted: sorting any set of values produces
        increasing, evenly spaced "steps", see the tests). Runs with fewer than 2 plateaus add nothing.
    ratio : float
        Claimed ratio (default ``Phi**(1/3)``).
    n_permutations : int
        Random within-run reorderings of the plateau betas for the null distribution.
    flat_p : float, optional
        p-value of :func:`plateau_flatness`; a value below ``alpha`` means the "plateaus" rise (or
        fall) internally (a continuous climb, not a ladder) and the claim is not supported.

    Returns
    -------
    dict
        A claims row. Statistic ``T = mean_i |ln r_i - ln ratio|`` over successive ratios
        ``r_i = b_{i+1} / b_i`` within runs (small = ladder-like). Null: the plateau betas of each run
        are exchangeable (their step order carries no ladder); ``p = (1 + #{T* <= T}) / (1 + B)``.
        Estimate: geometric mean of the ratios with a t-interval on ``ln r``. Verdict: ``survives``
        when p < alpha, the interval contains ``ratio`` and the plateaus are flat; ``falsified``
        when the interval excludes ``ratio``; ``not supported`` otherwise; ``untestable`` with fewer
        than 2 ratios.
    """
    seqs = [np.log(np.asarray(b, float)) for b in plateau_betas if len(b) >= 2]
    logr = np.concatenate([np.diff(s) for s in seqs]) if seqs else np.array([])
    statement = f"successive plateau betas (in step order) differ by the ratio {ratio:.4f}"
    null = "plateau betas within a run are exchangeable (step order carries no ladder)"
    if logr.size < 2:
        return _claim("ladder", statement, null, "mean |ln r - ln ratio|", np.nan, np.nan, np.nan, np.nan,
                      np.nan, ratio, int(logr.size), "untestable",
                      f"{logr.size} successive plateau ratio(s); at least 2 are needed")
    target = math.log(ratio)
    t_obs = _ladder_statistic(logr, target)
    rng = np.random.default_rng(seed)
    # every row of `perm` is one random within-run reordering of all runs at once
    perm = np.concatenate([np.diff(s[np.argsort(rng.random((n_permutations, s.size)), axis=1)], axis=1)
                           for s in seqs], axis=1)
    t_null = np.mean(np.abs(perm - target), axis=1)
    p = (1 + int(np.sum(t_null <= t_obs + 1e-12))) / (1 + n_permutations)
    m, _, lo, hi = _t_interval(logr, ci)
    est, ci_lo, ci_hi = math.exp(m), math.exp(lo), math.exp(hi)
    inside = ci_lo <= ratio <= ci_hi
    flat = flat_p is None or not (flat_p < alpha)
    if not inside:
        verdict = "falsified"
    elif p < alpha and flat:
        verdict = "survives"
    else:
        verdict = "not supported"
    detail = (f"{logr.size} ratios from {len(seqs)} run(s); geometric mean {est:.4f} "
              f"[{ci_lo:.4f}, {ci_hi:.4f}]; ratios range {math.exp(logr.min()):.3f}-{math.exp(logr.max()):.3f}")
    if flat_p is not None:
        detail += f"; within-plateau trend sign test p = {flat_p:.3g}" + ("" if flat else " (plateaus not flat)")
    return _claim("ladder", statement, null, "mean |ln r - ln ratio|", t_obs, p, est, ci_lo, ci_hi, ratio,
                  int(logr.size), verdict, detail)


def fixpoint_test(final_betas, *, se=None, target: float = FIXPOINT, alpha: float = 0.05, ci: float = 0.95,
                  margin: float = 0.05) -> dict:
    """Test "beta converges to ``target``" on final betas, one per run.

    Parameters
    ----------
    final_betas : array-like
        Each run's final beta. In :func:`toposcale.experiments.external.analyse.analyse_log`: the last
        plateau's beta when the run has two or more plateaus, otherwise (a single segment is a climb,
        not a plateau) ``beta_estimate`` of the run's last row outside grokking windows.
    se : array-like, optional
        Standard errors of ``final_betas`` (from the spread of the last plateau's rows, or the log's
        ``beta_uncertainty``); used only when there is a single run.

    Returns
    -------
    dict
        A claims row. Null: the mean final beta equals ``target`` (the claim *is* the null here, so
        rejecting it falsifies the claim). With 2 or more runs: one-sample two-sided t-test over
        runs and its t-interval; with one run and a positive ``se``: z-test and normal interval.
        Verdict: ``falsified`` when p < alpha; ``survives`` when not rejected *and* the interval lies
        within ``target * (1 -/+ margin)`` (precise enough to back the claim); otherwise ``not
        supported`` (consistent but imprecise); ``untestable`` without two runs or one run with a
        standard error.
    """
    v = np.asarray(final_betas, float)
    keep = np.isfinite(v)
    v = v[keep]
    e = None if se is None else np.asarray(se, float)[keep]
    statement = f"beta converges to Phi^3 = {target:.4f}"
    if v.size >= 2:
        null = f"mean final beta over runs = {target:.4f} (two-sided one-sample t-test, {v.size - 1} df)"
        m, s_e, lo, hi = _t_interval(v, ci)
        dist = stats.t(v.size - 1)
    elif v.size == 1 and e is not None and np.isfinite(e[0]) and e[0] > 0:
        null = f"final beta = {target:.4f} (two-sided z-test with the log's beta_uncertainty as standard error)"
        m, s_e = float(v[0]), float(e[0])
        dist = stats.norm()
        h = float(dist.ppf(0.5 + ci / 2)) * s_e
        lo, hi = m - h, m + h
    else:
        return _claim("fixpoint", statement, f"mean final beta = {target:.4f}", "t", np.nan, np.nan,
                      float(v.mean()) if v.size else np.nan, np.nan, np.nan, target, int(v.size), "untestable",
                      f"{v.size} final beta value(s); needs 2 runs, or 1 run with a beta_uncertainty")
    if s_e == 0:
        t, p = (0.0, 1.0) if m == target else (math.copysign(math.inf, m - target), 0.0)
    else:
        t = (m - target) / s_e
        p = float(2 * dist.sf(abs(t)))
    if p < alpha:
        verdict = "falsified"
    elif target * (1 - margin) <= lo and hi <= target * (1 + margin):
        verdict = "survives"
    else:
        verdict = "not supported"
    detail = (f"mean final beta of {v.size} run(s) {m:.4f}, {100 * ci:g}% CI [{lo:.4f}, {hi:.4f}]; "
              f"equivalence margin +/-{100 * margin:g}% = [{target * (1 - margin):.4f}, {target * (1 + margin):.4f}]")
    return _claim("fixpoint", statement, null, "t" if v.size >= 2 else "z", t, p, m, lo, hi, target, int(v.size),
                  verdict, detail)


def _spike_parts(steps, betas, flags):
    """Per run: rate of change ``|diff ln beta| / diff log10 step`` and whether each change touches a flagged row."""
    d, inside = [], []
    for st, b, f in zip(steps, betas, flags):
        lb = np.log(np.asarray(b, float))
        f = np.asarray(f, bool)
        d.append(np.abs(np.diff(lb)) / np.diff(log_time(st)))
        inside.append(f[1:] | f[:-1])
    return d, inside


def _spike_statistic(d, inside):
    d, inside = np.concatenate(d), np.concatenate(inside)
    if inside.all() or not inside.any():
        return float("nan")
    return float(d[inside].mean() - d[~inside].mean())


def spike_test(steps, betas, flags, *, n_permutations: int = 999, alpha: float = 0.05, seed: int = 0) -> dict:
    """Test "beta spikes at grokking": beta changes faster inside flagged windows than outside.

    Parameters
    ----------
    steps, betas, flags : list of array-like
        Per run, in step order and with step > 0: steps, positive betas and the grokking flags of the
        same rows.

    Returns
    -------
    dict
        A claims row. The rate of change between successive rows is
        ``d_i = |ln b_i - ln b_{i-1}| / (log10 s_i - log10 s_{i-1})`` (per decade of steps, so that
        densely logged stretches are not penalised or favoured; with log-spaced steps it is the
        plain change up to a constant). ``d_i`` is *inside* when row ``i`` or ``i - 1`` is flagged
        (so the jump into a window and the drop out of it both count). Statistic
        ``T = mean(d inside) - mean(d outside)`` pooled over runs. Null: window positions are unrelated
        to beta, simulated by rotating each run's flag sequence by a random offset (window lengths and
        counts kept); one-sided ``p = (1 + #{T* >= T}) / (1 + B')`` over the ``B'`` rotations in which
        both groups are non-empty. Estimate: mean(d inside) / mean(d outside). Verdict: ``survives``
        when p < alpha, ``not supported`` otherwise, ``untestable`` without changes both inside
        and outside windows.
    """
    statement = "beta changes faster inside grokking-flagged windows than outside (a spike)"
    null = "flagged windows sit at positions unrelated to beta (random rotation of each run's flags)"
    runs = [(np.asarray(st, float), np.asarray(b, float), np.asarray(f, bool))
            for st, b, f in zip(steps, betas, flags) if len(b) >= 2]
    d, inside = _spike_parts(*zip(*runs)) if runs else ([], [])
    t_obs = _spike_statistic(d, inside) if runs else float("nan")
    stat_name = "mean rate in - out (|d ln beta| per decade)"
    if not np.isfinite(t_obs):
        return _claim("grokking_spike", statement, null, stat_name, np.nan, np.nan, np.nan, np.nan, np.nan,
                      np.nan, int(sum(len(x) for x in d)), "untestable",
                      "needs changes both inside and outside grokking-flagged windows")
    rng = np.random.default_rng(seed)
    ins = []
    for _, _, f in runs:  # row b of `rolled` is the flag sequence rotated by a random offset
        offsets = rng.integers(f.size, size=n_permutations)
        rolled = f[(np.arange(f.size)[None, :] - offsets[:, None]) % f.size]
        ins.append(rolled[:, 1:] | rolled[:, :-1])
    ins = np.concatenate(ins, axis=1)
    dd = np.concatenate(d)
    n_in, n_out = ins.sum(axis=1), (~ins).sum(axis=1)
    ok = (n_in > 0) & (n_out > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_null = (ins @ dd) / n_in - ((~ins) @ dd) / n_out
    valid = int(ok.sum())
    p = (1 + int(np.sum(t_null[ok] >= t_obs - 1e-12))) / (1 + valid)
    dd, ii = np.concatenate(d), np.concatenate(inside)
    m_in, m_out = float(dd[ii].mean()), float(dd[~ii].mean())
    ratio = m_in / m_out if m_out > 0 else float("inf")
    verdict = "survives" if p < alpha and t_obs > 0 else "not supported"
    detail = (f"mean |d ln beta| per decade inside windows {m_in:.3g} ({int(ii.sum())} changes) vs outside "
              f"{m_out:.3g} ({int((~ii).sum())} changes) over {len(runs)} run(s); {valid} valid rotations")
    return _claim("grokking_spike", statement, null, stat_name, t_obs, p, ratio, np.nan, np.nan, 1.0, int(dd.size),
                  verdict, detail)
