"""Does topology track loss during training? Per-run correlations of each metric with validation loss.

For every run and every (source, layer, metric) series over the checkpoints with ``step > 0``
(initialisation excluded) this module reports

* ``rho``: Spearman correlation of the metric with ``val_loss`` across checkpoints;
* ``rho_partial``: the same correlation controlling for ``log(step)`` (rank-based partial
  correlation, :func:`toposcale.stats.partial_spearman`). Loss and most metrics move monotonically
  with training time, so ``rho`` is largely their shared trend; the partial correlation asks whether
  the metric tracks the loss *beyond* where both are in training;
* ``rho_detrended``: Spearman correlation of the residuals of metric and loss after each is fitted by
  a polynomial of degree ``min(3, n - 5)`` in ``log(step)`` (least squares,
  :func:`toposcale.serial.detrend_rows`); it needs degree >= 1, i.e. ``n >= 6`` checkpoints
  (:data:`MIN_DETREND_POINTS`): with 5 the degree is 0, the "detrended" correlation would be the raw
  one, so it is NaN and ``detrended_needs`` says ``cannot decide: need >= 6 checkpoints ...``. It asks whether the metric co-fluctuates with the loss
  around their smooth trends in training time. It exists where the rank partial correlation does
  not: when ``val_loss`` is strictly monotone in step (common, flagged by ``loss_monotone``), the
  ranks of loss are an exact linear function of the ranks of step, nothing of the loss is left
  beyond time, and ``rho_partial`` is undefined (NaN);
* only the detrended correlation is tested (:data:`TESTED_SUFFIXES`); ``rho`` and ``rho_partial`` are
  description, not tested (no p-value, no verdict). Their surrogate p-values were invalid for series
  that share a trend: a surrogate of the loss is stationary, the loss is not, so two independent series
  that both fall with training were "significant" in 27-98% of cases (issue 22), and no null tried
  (a polynomial trend plus surrogates of the residual) was calibrated for the partial variant;
* ``p_detrended``: two-sided Monte Carlo p-value of ``rho_detrended`` against a null that keeps the
  checkpoints' autocorrelation (:func:`loss_surrogate_null`): the loss's polynomial residual is
  replaced by ``n_surrogates`` phase-randomised surrogates of its symmetric extension
  (:func:`toposcale.serial.phase_surrogates`: same spectrum, independent of the metric), the statistic
  is recomputed on each exactly as on the data, and ``p = (1 + #{|rho*| >= |rho|}) / (1 + B)``
  (:func:`toposcale.serial.monte_carlo_pvalue`). On independent AR(1) pairs of 25 checkpoints it
  rejects 3-7% at nominal 5% for autocorrelations 0 to 0.95 (``tests/test_serial.py``), and on
  independent series sharing a trend that a cubic in log step describes (power law, log-linear) at
  about the nominal rate (``tests/test_dynamics.py``). A shared trend the cubic cannot follow (a sharp
  drop, e.g. a sigmoid in log step narrower than about a fifth of the log-step range) is left in both
  residuals and is flagged: that is a co-movement beyond the smooth trend, not a test of anything finer;
* ``p_t_approx_detrended``: the t approximation of the same correlation (``n - 2 - degree`` degrees
  of freedom), for comparison only: it treats checkpoints as independent and rejects up to 18% of
  independent AR(1) pairs at nominal 5%;
* ``q_detrended``: Benjamini-Hochberg adjusted ``p_detrended`` over the family of all (source, layer,
  metric, variant) tests of the run, and ``significant_detrended`` = ``q_detrended <= fdr_alpha``;
* ``rho_ci_low/high``, ``rho_partial_ci_low/high`` and ``rho_detrended_ci_low/high``: 95% percentile
  intervals from a moving-block bootstrap over checkpoints (block length ``max(2, round(n^(1/3)))``),
  which keeps neighbouring checkpoints together because the series are autocorrelated.

:func:`seed_summary` condenses runs that differ only in seed into the across-seed spread.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toposcale.analysis.metrics_table import (RUN_COLUMNS, check_columns, metric_family, non_degenerate,
                                               null_z_series, resolve_metrics, run_info, stable_seed)
from toposcale.serial import detrend_degree, detrend_rows, monte_carlo_pvalue, phase_surrogates, unit_rows
from toposcale.stats import (bh_adjust, default_block_length, moving_block_bootstrap_indices, partial_spearman,
                             percentile_ci, ranks, rowwise_spearman, spearman, t_pvalue)
from toposcale.topology.nulls import BEYOND, EXPLAINED, null_label

#: Correlation variants of a metric: its raw values and its standardised excess over each null kind
#: (``{m}_null_z``: covariance-matched Gaussian, ``{m}_perm_z``: entry permutation, ``{m}_copula_z``:
#: Gaussian copula; :mod:`toposcale.topology.summarise`).
VARIANTS = ("raw", "null_z", "perm_z", "copula_z")
#: Null kind of each null-adjusted variant.
VARIANT_NULL = {"null_z": "gaussian", "perm_z": "permutation", "copula_z": "copula"}
#: Verdict of a raw/null-adjusted comparison (:func:`null_comparison`), in report order; a series that beats
#: some but not all of its source's nulls reads ``'beyond the <kinds> null only'``
#: (:func:`toposcale.topology.nulls.null_label`).
VERDICTS = (BEYOND, EXPLAINED, "not significant")
#: Column suffixes of the three correlation variants: Spearman, partial given log step, detrended.
SUFFIXES = ("", "_partial", "_detrended")
#: The variants with a p-value and a verdict: only the detrended one is valid under a shared trend.
TESTED_SUFFIXES = ("_detrended",)
#: The variants kept as description (``rho`` and its interval; no p-value, never "significant").
DESCRIBED_SUFFIXES = ("", "_partial")
#: Fewest checkpoints for a detrended correlation: the trend's degree ``min(3, n - 5)`` must be >= 1.
MIN_DETREND_POINTS = 6
_REQUIRED = ("run", "step", "source", "layer", "val_loss")


# ----------------------------------------------------------------------------- correlations

def detrended_needs(n: int) -> str:
    """``''`` when ``n`` checkpoints can be detrended (degree >= 1), else the cannot-decide note."""
    if n >= MIN_DETREND_POINTS:
        return ""
    return (f"cannot decide: need >= {MIN_DETREND_POINTS} checkpoints to detrend (n = {n}: the trend's degree "
            f"min(3, n - 5) would be {detrend_degree(n)}, i.e. the raw correlation)")


def _detrended_spearman(v, loss, lx) -> tuple[float, float]:
    if detrended_needs(len(v)):
        return float("nan"), float("nan")
    deg = detrend_degree(len(v))
    rv = detrend_rows(v, lx, deg)
    rl = detrend_rows(loss, lx, deg)
    scale_v, scale_l = np.abs(v).max() or 1.0, np.abs(loss).max() or 1.0
    # the fit's tiny ridge leaves ~1e-9 relative residuals on an exact polynomial (a constant metric)
    if np.ptp(rv) <= 1e-6 * scale_v or np.ptp(rl) <= 1e-6 * scale_l:
        return float("nan"), float("nan")
    rho = float(np.corrcoef(ranks(rv), ranks(rl))[0, 1])
    return rho, t_pvalue(rho, len(v) - 2 - deg)


def statistic_units(x, log_step, suffix: str) -> np.ndarray:
    """Series ``x`` (shape (..., n), time order) as correlation variant ``suffix`` sees it, as unit rows.

    ``''``: ranks of ``x``; ``'_partial'``: ranks of ``x`` minus their OLS fit on (1, ranks of
    ``log_step``); ``'_detrended'``: ranks of the residual of ``x`` after the polynomial of degree
    :func:`toposcale.serial.detrend_degree` in ``log_step``; each then centred and scaled to unit norm
    (:func:`toposcale.serial.unit_rows`). The variant's correlation of two series (``rho``,
    ``rho_partial``, ``rho_detrended``) is the dot product of their units.
    """
    x = np.asarray(x, dtype=float)
    if suffix == "":
        return unit_rows(ranks(x))
    if suffix == "_partial":
        return unit_rows(detrend_rows(ranks(x), ranks(log_step), 1))
    return unit_rows(ranks(detrend_rows(x, log_step, detrend_degree(x.shape[-1]))))


def loss_surrogate_null(loss, log_step, n_surrogates: int, seed: int, suffixes=TESTED_SUFFIXES) -> dict:
    """Surrogate losses as each correlation variant sees them (the null of the module docstring).

    ``suffixes``: the variants to build (default :data:`TESTED_SUFFIXES`, the only ones ``correlate``
    tests; the raw and partial surrogates are kept for calibration studies: they are valid for
    stationary series only).

    For each variant ``suffix`` the loss (shape (..., n)) is reduced to the part the statistic uses,
    ``base``: the loss itself (``''``); the residual of its ranks after OLS on (1, ranks of
    ``log_step``) (``'_partial'``); its residual after the polynomial trend of degree
    :func:`toposcale.serial.detrend_degree` in ``log_step`` (``'_detrended'``). ``base`` is replaced by
    ``n_surrogates`` surrogates (:func:`toposcale.serial.phase_surrogates`, symmetric extension,
    seed ``seed + i`` for the i-th variant), each put through :func:`statistic_units`.

    Returns
    -------
    dict of str -> numpy.ndarray of shape (..., n_surrogates, n)
        With ``u = statistic_units(v, log_step, suffix)`` of a metric ``v``, ``null[suffix] @ u`` is
        the variant's correlation of ``v`` with every surrogate loss.
    """
    loss = np.asarray(loss, dtype=float)
    bases = {"": loss, "_partial": detrend_rows(ranks(loss), ranks(log_step), 1),
             "_detrended": detrend_rows(loss, log_step, detrend_degree(loss.shape[-1]))}
    return {suffix: statistic_units(phase_surrogates(base, n_surrogates, seed + i), log_step, suffix)
            for i, (suffix, base) in enumerate(bases.items()) if suffix in suffixes}


def _series_row(v, loss, log_step, n_bootstrap: int, seed: int, null: dict) -> dict:
    rho, _ = spearman(v, loss)
    prho, _ = partial_spearman(v, loss, log_step)
    drho, dp = _detrended_spearman(v, loss, log_step)
    n = len(v)
    out = {"n": n, "loss_monotone": bool(np.all(np.diff(loss) < 0) or np.all(np.diff(loss) > 0)),
           "rho": rho, "rho_partial": prho, "rho_detrended": drho, "detrended_needs": detrended_needs(n),
           "p_t_approx_detrended": dp}
    for suffix in TESTED_SUFFIXES:
        out["p" + suffix] = (monte_carlo_pvalue(out["rho" + suffix], null[suffix] @ statistic_units(v, log_step, suffix))
                             if np.isfinite(out["rho" + suffix]) else float("nan"))
    for name in ("rho", "rho_partial", "rho_detrended"):
        out[f"{name}_ci_low"] = out[f"{name}_ci_high"] = np.nan
    if n_bootstrap > 0 and np.isfinite(rho):
        idx = moving_block_bootstrap_indices(n, default_block_length(n), n_bootstrap, seed)
        vb, lb, xb = v[idx], loss[idx], log_step[idx]
        out["rho_ci_low"], out["rho_ci_high"] = percentile_ci(rowwise_spearman(vb, lb))
        if np.isfinite(prho):
            out["rho_partial_ci_low"], out["rho_partial_ci_high"] = percentile_ci(
                rowwise_spearman(vb, lb, xb))
        if np.isfinite(drho):
            deg = detrend_degree(n)
            out["rho_detrended_ci_low"], out["rho_detrended_ci_high"] = percentile_ci(
                rowwise_spearman(detrend_rows(vb, xb, deg), detrend_rows(lb, xb, deg)))
    return out


def correlate(metrics, metric_cols=None, n_bootstrap: int = 500, fdr_alpha: float = 0.05,
              seed: int = 0, min_points: int = 5, n_surrogates: int = 999):
    """Correlation of every metric with validation loss across checkpoints, per run and layer.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Rows of ``results/metrics/{run}.parquet`` (several runs may be concatenated).
    metric_cols : sequence of str, optional
        Metric columns; default :data:`toposcale.analysis.metrics_table.DEFAULT_METRICS` (those present).
    n_bootstrap : int
        Moving-block bootstrap resamples for the confidence intervals (0 to skip them).
    fdr_alpha : float
        False discovery rate for the ``significant`` columns (Benjamini-Hochberg per run).
    seed : int
        Base seed; each (run, source, layer) gets a derived, reproducible seed.
    min_points : int
        Series with fewer finite checkpoints than this are left out.
    n_surrogates : int
        Phase-randomised loss surrogates ``B`` behind every p-value (smallest p ``1 / (1 + B)``).

    Returns
    -------
    pandas.DataFrame
        One row per (run, source, layer, metric, variant) with the run descriptors and the columns
        ``variant`` ('raw' | 'null_z', see the module docstring), ``kind`` ('topological' | 'baseline' |
        'other'), ``n``, ``n_degenerate_dropped`` (checkpoints of the series left out because their
        cloud is degenerate), ``loss_monotone``, then ``rho``, ``rho_ci_low``, ``rho_ci_high`` and
        ``rho_partial``, ``rho_partial_ci_low``, ``rho_partial_ci_high`` (description, not tested),
        ``rho_detrended``, ``p_detrended``, ``q_detrended``, ``significant_detrended``,
        ``rho_detrended_ci_low``, ``rho_detrended_ci_high``, ``detrended_needs`` ('' or the
        cannot-decide note of a series with fewer than :data:`MIN_DETREND_POINTS` checkpoints) and last
        ``p_t_approx_detrended`` (comparison only, not used for ``q_detrended``).
    """
    check_columns(metrics, _REQUIRED)
    if not 0 < fdr_alpha < 1:
        raise ValueError(f"fdr_alpha={fdr_alpha} must lie in (0, 1)")
    if n_surrogates < 19:
        raise ValueError(f"n_surrogates={n_surrogates} must be >= 19 (smallest p = 1 / (1 + B))")
    series = null_z_series(metrics, resolve_metrics(metrics, metric_cols))
    rows = []
    for run, g_run in metrics[metrics["step"] > 0].groupby("run", sort=True):
        info = run_info(g_run)
        run_rows = []
        for (source, layer), g_all in g_run.groupby(["source", "layer"], sort=True):
            g = non_degenerate(g_all).sort_values("step")
            n_dropped = len(g_all) - len(g)
            step = g["step"].to_numpy(float)
            loss = g["val_loss"].to_numpy(float)
            nulls = {}   # one surrogate null per set of usable checkpoints, shared by the group's metrics
            for metric, variant, col in series:
                v = g[col].to_numpy(float)
                ok = np.isfinite(v) & np.isfinite(loss)
                row = dict(info, source=source, layer=layer, metric=metric, variant=variant,
                           kind=metric_family(metric), n_degenerate_dropped=n_dropped)
                if ok.sum() >= min_points:
                    lx = np.log(step[ok])
                    key = ok.tobytes()
                    if key not in nulls:
                        nulls[key] = loss_surrogate_null(loss[ok], lx, n_surrogates,
                                                         stable_seed(seed, run, source, layer, "surrogates"))
                    row.update(_series_row(v[ok], loss[ok], lx, n_bootstrap,
                                           stable_seed(seed, run, source, layer), nulls[key]))
                elif n_dropped and np.isfinite(g_all[col].to_numpy(float)).sum() >= min_points:
                    row.update(n=int(ok.sum()))  # kept as a row (no statistics) so the drop is counted
                else:
                    continue
                run_rows.append(row)
        if run_rows:
            frame = pd.DataFrame(run_rows)
            for suffix in TESTED_SUFFIXES:
                if "p" + suffix not in frame:      # every series of the run too short to test
                    frame["p" + suffix] = np.nan
                frame["q" + suffix] = bh_adjust(frame["p" + suffix].to_numpy(float))
                frame["significant" + suffix] = frame["q" + suffix] <= fdr_alpha
            rows.append(frame)
    if not rows:
        raise ValueError(f"no (run, source, layer, metric) series with >= {min_points} checkpoints "
                         f"at step > 0; the metrics table is too short to correlate")
    out = pd.concat(rows, ignore_index=True)
    order = [c for c in RUN_COLUMNS if c in out.columns] + [
        "source", "layer", "metric", "variant", "kind", "n", "n_degenerate_dropped", "loss_monotone", "rho",
        "rho_ci_low", "rho_ci_high", "rho_partial", "rho_partial_ci_low", "rho_partial_ci_high", "rho_detrended",
        "p_detrended", "q_detrended", "significant_detrended", "rho_detrended_ci_low", "rho_detrended_ci_high",
        "detrended_needs", "p_t_approx_detrended"]
    for c in order:
        if c not in out:        # e.g. no series long enough for any statistic
            out[c] = np.nan
    return out[order]



def null_comparison(corr, suffix: str = "_detrended"):
    """Raw and null-adjusted correlations of each topological series side by side, with a verdict that
    names the nulls it beats.

    Pairs the ``variant == 'raw'`` row of :func:`correlate` with its ``null_z`` (Gaussian), ``perm_z``
    (entry permutation) and ``copula_z`` (Gaussian copula) rows on (run, source, layer, metric), for the
    tested correlation variant ``suffix`` (:data:`TESTED_SUFFIXES`: only '_detrended'; the raw and partial
    correlations are description, and raise ValueError). The series *beats* a null
    when its correlation against that null is significant (BH ``q <= fdr_alpha`` in the run's family) and
    its moving-block bootstrap interval excludes 0 (significance alone when no interval was computed,
    ``n_bootstrap = 0``). The verdict (:func:`toposcale.topology.nulls.null_label`) is

    * 'topology beyond geometry': it beats every null of its source (weights: Gaussian and permutation;
      activations: Gaussian and copula; :data:`toposcale.topology.nulls.REQUIRED_NULLS`);
    * 'beyond the <kinds> null only': it beats some, not all (a null absent from the table is not beaten:
      heavy tails alone beat the Gaussian null, issue 22);
    * 'explained by its null': it beats none and the raw correlation is significant;
    * 'not significant': neither.

    Returns
    -------
    pandas.DataFrame
        Run descriptors, ``source``, ``layer``, ``metric``, ``rho_raw``, ``significant_raw``, then per
        null variant ``v`` in (``null_z``, ``perm_z``, ``copula_z``): ``rho_v``, ``significant_v``,
        ``ci_low_v``, ``ci_high_v``, ``beats_v`` (NaN / None where the table has no such series), and
        ``nulls_beaten`` ('gaussian+permutation', ...) and ``verdict``; empty (same columns) when
        ``corr`` has no null_z rows.
    """
    keys = [c for c in RUN_COLUMNS if c in corr.columns] + ["source", "layer", "metric"]
    nulls = VARIANTS[1:]
    cols = keys + ["rho_raw", "significant_raw"] + [f"{c}_{v}" for v in nulls
                                                   for c in ("rho", "significant", "ci_low", "ci_high", "beats")] \
        + ["nulls_beaten", "verdict"]
    if suffix not in TESTED_SUFFIXES:
        raise ValueError(f"correlation variant {suffix or 'raw'!r} is description, not tested (its p-value is "
                         f"invalid for series that share a trend); use one of {TESTED_SUFFIXES}")
    check_columns(corr, ["variant", f"rho{suffix}", f"significant{suffix}"], "dynamics table")
    pick = {f"rho{suffix}": "rho", f"significant{suffix}": "significant", f"rho{suffix}_ci_low": "ci_low",
            f"rho{suffix}_ci_high": "ci_high"}
    have = [c for c in pick if c in corr.columns]

    def rows(v):
        frame = corr.loc[corr["variant"] == v, keys + have].rename(columns=pick)
        for c in ("ci_low", "ci_high"):
            if c not in frame:
                frame[c] = np.nan
        return frame

    if not (corr["variant"] == "null_z").any():
        return pd.DataFrame(columns=cols)
    both = rows("raw")[keys + ["rho", "significant"]].rename(
        columns={"rho": "rho_raw", "significant": "significant_raw"})
    both = both.merge(rows("null_z")[keys].drop_duplicates(), on=keys)
    for v in nulls:
        r = rows(v)
        sig = r["significant"].fillna(False).astype(bool).to_numpy()
        lo, hi = r["ci_low"].to_numpy(float), r["ci_high"].to_numpy(float)
        excludes = np.where(np.isfinite(lo) & np.isfinite(hi), (lo > 0) | (hi < 0), True)
        r = r.assign(beats=sig & excludes & np.isfinite(r["rho"].to_numpy(float)))
        both = both.merge(r.rename(columns={c: f"{c}_{v}" for c in ("rho", "significant", "ci_low", "ci_high",
                                                                   "beats")}), on=keys, how="left")
    sig_raw = both["significant_raw"].fillna(False).astype(bool).to_numpy()
    labels = [null_label(src, {VARIANT_NULL[v]: (None if b != b or b is None else bool(b))
                               for v, b in zip(nulls, bs)}, sr)
              for src, sr, *bs in zip(both["source"], sig_raw, *(both[f"beats_{v}"] for v in nulls))]
    both["verdict"] = [lab for lab, _ in labels]
    both["nulls_beaten"] = [beaten for _, beaten in labels]
    return both[cols]


def seed_summary(corr):
    """Across-seed spread of the correlations of runs that differ only in seed.

    Groups :func:`correlate` rows by (activation, size, source, layer, metric, variant) and reports
    ``n_seeds``, the mean, standard deviation (ddof 1; NaN for one seed), min and max of ``rho`` and of
    ``rho_partial``, the mean and sd of ``rho_detrended`` (description), ``frac_significant_detrended``
    (share of seeds with ``q_detrended <= fdr_alpha``: the only tested variant) and ``sign_agreement_partial`` (share of seeds whose ``rho_partial`` has the
    sign of the across-seed mean; NaN below :data:`toposcale.plan.decidability.MIN_SEEDS` seeds, where one
    seed would agree with itself), ``decidable`` (``n_seeds >= MIN_SEEDS``) and ``needs`` ('' or
    ``'cannot decide: need >= 2 seeds, have 1'``).
    """
    from toposcale.plan.decidability import MIN_SEEDS, count_gate

    keys = [c for c in ("activation", "size") if c in corr.columns] + ["source", "layer", "metric"] + (
        ["variant"] if "variant" in corr.columns else [])
    if "seed" not in corr.columns:
        raise ValueError("correlation table lacks a 'seed' column; seed_summary needs run descriptors")

    def agg(g):
        pr = g["rho_partial"].to_numpy(float)
        gate = count_gate(g["seed"].nunique(), MIN_SEEDS, "seeds")
        mean_pr = np.nanmean(pr) if np.isfinite(pr).any() else np.nan
        return {
            "n_seeds": g["seed"].nunique(),
            "rho_mean": g["rho"].mean(), "rho_sd": g["rho"].std(ddof=1),
            "rho_min": g["rho"].min(), "rho_max": g["rho"].max(),
            "rho_partial_mean": mean_pr, "rho_partial_sd": g["rho_partial"].std(ddof=1),
            "rho_partial_min": g["rho_partial"].min(), "rho_partial_max": g["rho_partial"].max(),
            "rho_detrended_mean": g["rho_detrended"].mean(),
            "rho_detrended_sd": g["rho_detrended"].std(ddof=1),
            "frac_significant_detrended": g["significant_detrended"].mean(),
            "sign_agreement_partial": (float(np.mean(np.sign(pr[np.isfinite(pr)]) == np.sign(mean_pr)))
                                       if np.isfinite(mean_pr) and gate["decidable"] else np.nan),
            "decidable": gate["decidable"], "needs": "" if gate["decidable"] else gate["message"],
        }

    rows = [dict(zip(keys, k), **agg(g)) for k, g in corr.groupby(keys, sort=True)]
    return pd.DataFrame(rows)
