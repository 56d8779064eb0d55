"""Analysis of the grokking measures: the detection test, phases and timing, and the threshold defaults.

The positive control (final checkpoint's Fourier-plane circle) is in
:mod:`toposcale.experiments.grokking.control`.

Detection test (:func:`detection_summary`)
------------------------------------------
Checkpoints of both arms are labelled pre-grok (test accuracy < ``pre_grok``, default 0.2) or post-grok
(> ``post_grok``, default 0.99; the ``grokking.accuracy`` config keys). A measure *separates* grokked
from memorised checkpoints when its time-matched test
(:func:`toposcale.experiments.grokking.matched.matched_test`: the grok arm minus the control arm of the
same seed at the same step, post-grok steps against pre-grok ones, p-value from phase-randomised
surrogates of each seed's arm-difference series) is significant after Benjamini-Hochberg over every
test of the table (``grokking.detection``: ``n_surrogates``, ``fdr_alpha``). Checkpoints are
log-spaced, so every post-grok checkpoint is late: the pooled AUC over both arms (with its
seed-cluster bootstrap interval) is kept as a description, not a test (a clock, ``log_step``, reaches
about 0.95 on it; its time-matched AUC is 0.5 by construction). Timing compares, per grok-arm run, when
the measure settles past the midpoint of its pre/post medians with when test accuracy settles above
``grok`` (default 0.5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toposcale.config import validate_config
from toposcale.experiments.grokking.loops import CLOUD_MEASURES, CLOUDS
from toposcale.experiments.grokking.matched import MATCHED_COLUMNS, matched_test
from toposcale.stats import bh_adjust, percentile_ci, roc_auc
from toposcale.topology.nulls import EXPLAINED, null_label

# The thresholds are config keys (their one home is workflow/schemas/config.schema.yaml); the dicts below
# hold the schema defaults, used when a caller passes none.
_DEFAULTS = validate_config({})["grokking"]
#: ``grokking.accuracy`` defaults: test accuracy below ``pre_grok`` is pre-grok, above ``post_grok``
#: post-grok (detection test); ``grok`` is where grokking "happens" (timing comparison).
ACCURACY = dict(_DEFAULTS["accuracy"])
#: ``grokking.detection`` defaults: surrogates behind each time-matched p-value and the BH level of ``separates``.
DETECTION = dict(_DEFAULTS["detection"])


def accuracy_thresholds(accuracy=None) -> dict:
    """``{pre_grok, post_grok, grok}``: :data:`ACCURACY` updated with ``accuracy`` (the ``grokking.accuracy``
    config section, or part of it); ``None`` gives the defaults."""
    out = {**ACCURACY, **(accuracy or {})}
    unknown = set(out) - set(ACCURACY)
    if unknown:
        raise ValueError(f"unknown accuracy threshold(s) {sorted(unknown)}; use {sorted(ACCURACY)}")
    return out


def phase_steps(run, accuracy=None) -> dict:
    """Checkpoints before, during and after grokking in one grok-arm run (for figures).

    With the thresholds of :func:`accuracy_thresholds` (``accuracy``): ``before``: the last step with
    test accuracy < ``pre_grok`` (the memorised state); ``during``: the step whose test accuracy is
    closest to ``grok`` among the later ones with ``pre_grok <= accuracy <= post_grok``; ``after``: the
    final step. Missing phases (a run that never grokked) are left out.
    """
    acc_t = accuracy_thresholds(accuracy)
    run = run.sort_values("step")
    steps, acc = run["step"].to_numpy(), run["test_acc"].to_numpy()
    out = {}
    pre = np.flatnonzero(acc < acc_t["pre_grok"])
    if pre.size:
        out["before"] = int(steps[pre[-1]])
    later = np.arange(pre[-1] + 1 if pre.size else 0, steps.size)
    mid = later[(acc[later] >= acc_t["pre_grok"]) & (acc[later] <= acc_t["post_grok"])]
    if mid.size:
        out["during"] = int(steps[mid[np.argmin(np.abs(acc[mid] - acc_t["grok"]))]])
    out["after"] = int(steps[-1])
    return out


# --------------------------------------------------------------------------------------------
# Detection test
# --------------------------------------------------------------------------------------------

#: Measures tested for detecting grokking: name -> kind. ``topological``: H1 measures of a cloud (and
#: the plane's loop size); ``geometric``: the clouds' scale (largest finite H0 death: a size, not
#: topology, so never called "topology beyond geometry"); ``reference``: Fourier share and weight norm;
#: ``clock``: ``log_step`` = log(step), a negative control that every time-matched test must not pass.
DETECTION_METRICS = {
    **{f"{c}_{m}": "topological" for c in CLOUDS for m in CLOUD_MEASURES if m != "scale"},
    **{f"{c}_scale": "geometric" for c in ("embed", "resid")},
    "plane_loop_size": "topological",
    "fourier_share": "reference",
    "weight_norm": "reference",
    "log_step": "clock",
}
SUMMARY_COLUMNS = ["metric", "kind", "direction", "auc", "auc_lo", "auc_hi", "auc_seed_min", "auc_seed_max",
                   *MATCHED_COLUMNS, "q_matched", "separates", "n_pre", "n_post", "n_seeds", "lead_steps",
                   "lead_min", "lead_max", "acc_cross_step", "metric_cross_step", "train_cross_step",
                   "resolution_steps", "verdict", "seed_verdicts"]
#: Null-adjusted columns of the detection summary: the raw statistics of ``{metric}_null_z``.
NULL_SUMMARY_COLUMNS = ["null_auc", "null_auc_lo", "null_auc_hi", "null_auc_matched", "null_p_matched",
                        "null_q_matched", "null_separates", "null_direction", "null_lead_steps", "null_verdict"]
SUMMARY_COLUMNS += [*NULL_SUMMARY_COLUMNS, "finding"]


def grok_labels(test_acc, accuracy=None) -> np.ndarray:
    """1 for post-grok (test accuracy > ``post_grok``), 0 for pre-grok (< ``pre_grok``), -1 for
    checkpoints in between (left out of the detection test); thresholds from :func:`accuracy_thresholds`
    of ``accuracy`` (the ``grokking.accuracy`` config section; defaults 0.99 and 0.2)."""
    t = accuracy_thresholds(accuracy)
    acc = np.asarray(test_acc, dtype=np.float64)
    return np.where(acc > t["post_grok"], 1, np.where(acc < t["pre_grok"], 0, -1))


def seed_bootstrap_auc(df, metric: str, n_boot: int = 2000, seed: int = 0, level: float = 0.95, accuracy=None):
    """AUC of ``metric`` for post- vs pre-grok checkpoints, with a seed-cluster bootstrap interval.

    The AUC is :func:`toposcale.stats.roc_auc` (post-grok checkpoints positive). Every checkpoint of
    ``df`` (both arms) with a label from :func:`grok_labels` (thresholds ``accuracy``) enters; the interval resamples whole seeds
    with replacement (checkpoints of one seed are not independent) and takes the percentile interval
    (:func:`toposcale.stats.percentile_ci`) of the AUC over resamples that contain both classes.
    Checkpoints where ``metric`` is NaN are left out (and not counted in ``n_pre``/``n_post``).

    Returns
    -------
    (auc, lo, hi, n_pre, n_post)
    """
    lab = grok_labels(df["test_acc"], accuracy)
    keep = (lab >= 0) & df[metric].notna().to_numpy()   # e.g. a null z is NaN where its null sd is 0
    d, lab = df.loc[keep], lab[keep]
    n_pre, n_post = int((lab == 0).sum()), int((lab == 1).sum())
    if n_pre == 0 or n_post == 0:
        return float("nan"), float("nan"), float("nan"), n_pre, n_post
    point = roc_auc(d[metric].to_numpy(), lab)
    seeds = np.array(sorted(d["seed"].unique()))
    groups = {s: (d[metric].to_numpy()[d["seed"].to_numpy() == s], lab[d["seed"].to_numpy() == s]) for s in seeds}
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(int(n_boot)):
        pick = rng.choice(seeds, size=seeds.size, replace=True)
        s = np.concatenate([groups[k][0] for k in pick])
        y = np.concatenate([groups[k][1] for k in pick])
        if 0 < y.sum() < y.size and not np.isnan(s[y == 1]).all() and not np.isnan(s[y == 0]).all():
            boots.append(roc_auc(s, y))
    lo, hi = percentile_ci(boots, level)
    return point, lo, hi, n_pre, n_post


def per_seed_auc(df, metric: str, accuracy=None) -> np.ndarray:
    """AUC of ``metric`` (post- vs pre-grok by :func:`grok_labels` with ``accuracy``, both arms) within each
    seed that has both classes."""
    out = []
    for _, d in df.groupby("seed"):
        lab = grok_labels(d["test_acc"], accuracy)
        keep = (lab >= 0) & d[metric].notna().to_numpy()
        if (lab[keep] == 0).any() and (lab[keep] == 1).any():
            out.append(roc_auc(d[metric].to_numpy()[keep], lab[keep]))
    return np.array(out, dtype=np.float64)


def settle_step(steps, values, threshold: float, rising: bool = True) -> float:
    """Step from which ``values`` stay on the far side of ``threshold`` until the end.

    The far side is ``> threshold`` when ``rising`` (``< threshold`` otherwise). The crossing is
    located by linear interpolation between the last checkpoint on the near side and the next one;
    a series that starts on the far side settles at its first step; one that ends on the near side
    never settles (``nan``).
    """
    t = np.asarray(steps, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    far = v > threshold if rising else v < threshold
    if v.size == 0 or not far[-1]:
        return float("nan")
    near = np.flatnonzero(~far)
    if near.size == 0:
        return float(t[0])
    i = near[-1]
    v0, v1 = v[i], v[i + 1]
    frac = (threshold - v0) / (v1 - v0) if v1 != v0 else 0.0
    return float(t[i] + frac * (t[i + 1] - t[i]))


def seed_timing(run, metric: str, accuracy=None) -> dict:
    """When one grok-arm run's ``metric`` moves, compared with its test accuracy.

    Thresholds from :func:`accuracy_thresholds` of ``accuracy``. ``pre`` and ``post`` are the metric's
    medians over the run's pre- and post-grok checkpoints (:func:`grok_labels`); the metric's crossing
    is :func:`settle_step` at ``(pre + post) / 2`` in the direction of ``post - pre``; accuracy's is
    :func:`settle_step` of test accuracy at ``grok`` (default 0.5). ``lead = acc_cross - metric_cross``
    in steps (positive: the metric moves first). ``train_cross`` is the same for training accuracy at ``grok`` (memorisation), for context.
    ``resolution`` is the gap between the two checkpoints around the accuracy crossing;
    the verdict is ``before`` if ``lead > resolution``, ``after`` if ``lead < -resolution``,
    ``with`` otherwise, and ``never`` if the run has no pre- or post-grok checkpoint, the medians
    are equal, or the metric does not settle. A measure that moves long before (after) grokking,
    so that its pre-grok (post-grok) median already sits at the other level, also reads ``never``.
    """
    grok_acc = accuracy_thresholds(accuracy)["grok"]
    run = run.sort_values("step")
    steps, lab = run["step"].to_numpy(), grok_labels(run["test_acc"], accuracy)
    v = run[metric].to_numpy(dtype=np.float64)
    acc_cross = settle_step(steps, run["test_acc"], grok_acc, rising=True)
    train_cross = settle_step(steps, run["train_acc"], grok_acc) if "train_acc" in run else float("nan")
    out = dict(acc_cross=acc_cross, train_cross=train_cross, metric_cross=float("nan"), lead=float("nan"),
               resolution=float("nan"), direction="none", verdict="never")
    if np.isnan(acc_cross) or not (lab == 0).any() or not (lab == 1).any():
        return out
    k = int(np.searchsorted(steps, acc_cross))
    out["resolution"] = float(steps[min(k, steps.size - 1)] - steps[max(k - 1, 0)])
    pre, post = np.nanmedian(v[lab == 0]), np.nanmedian(v[lab == 1])
    if not np.isfinite(pre) or not np.isfinite(post) or pre == post:
        return out
    out["direction"] = "up" if post > pre else "down"
    cross = settle_step(steps, v, (pre + post) / 2, rising=post > pre)
    if np.isnan(cross):
        return out
    lead = acc_cross - cross
    verdict = "before" if lead > out["resolution"] else "after" if lead < -out["resolution"] else "with"
    out.update(metric_cross=cross, lead=lead, verdict=verdict)
    return out


def _overall_verdict(verdicts: list[str]) -> str:
    """The verdict shared by a strict majority of seeds, else ``mixed``."""
    values, counts = np.unique(verdicts, return_counts=True)
    best = int(np.argmax(counts))
    return str(values[best]) if counts[best] * 2 > len(verdicts) else "mixed"


def _metric_row(df, grok, name: str, n_boot: int, seed: int, accuracy, n_surrogates: int) -> dict:
    """The AUC, time-matched test and timing columns of :data:`SUMMARY_COLUMNS` for one column of ``df``
    (``separates`` and ``q_matched`` are set by :func:`detection_summary`, after BH over the table)."""
    a, lo, hi, n_pre, n_post = seed_bootstrap_auc(df, name, n_boot=n_boot, seed=seed, accuracy=accuracy)
    per_seed = per_seed_auc(df, name, accuracy)
    matched = matched_test(df, name, accuracy_thresholds(accuracy), n_surrogates=n_surrogates, seed=seed)
    timings = [seed_timing(run, name, accuracy) for _, run in grok.groupby("seed")]
    leads = np.array([t["lead"] for t in timings], dtype=np.float64)
    verdicts = [t["verdict"] for t in timings]
    finite = leads[np.isfinite(leads)]

    def med(key):
        vals = np.array([t[key] for t in timings], dtype=np.float64)
        return float(np.nanmedian(vals)) if np.isfinite(vals).any() else float("nan")

    return dict(
        direction=_overall_verdict([t["direction"] for t in timings]) if timings else "none",
        auc=a, auc_lo=lo, auc_hi=hi,
        auc_seed_min=float(per_seed.min()) if per_seed.size else float("nan"),
        auc_seed_max=float(per_seed.max()) if per_seed.size else float("nan"), **matched,
        n_pre=n_pre, n_post=n_post, n_seeds=int(df["seed"].nunique()),
        lead_steps=float(np.median(finite)) if finite.size else float("nan"),
        lead_min=float(finite.min()) if finite.size else float("nan"),
        lead_max=float(finite.max()) if finite.size else float("nan"),
        acc_cross_step=med("acc_cross"), metric_cross_step=med("metric_cross"),
        train_cross_step=med("train_cross"),
        resolution_steps=med("resolution"),
        verdict=_overall_verdict(verdicts) if verdicts else "never", seed_verdicts=";".join(verdicts))


#: Finding of a geometric measure (the clouds' scale): whatever its null does, it is not topology.
GEOMETRIC_FINDING = "geometric (cloud scale): not a topology claim"
#: Finding where the time-matched test has nothing to compare (e.g. every control partly generalised).
UNMATCHED_FINDING = ("cannot decide: need a seed with a post-grok step beside a memorised control and a "
                     "pre-grok step in both arms")


def null_finding(raw_separates: bool, null_separates, kind: str = "topological", n_seeds: int = 2,
                 testable: bool = True, copula_separates=None) -> str:
    """The contract wording for one detection metric, from its raw and null-adjusted separation.

    A measure *beats* a null where its null-adjusted measure (``{metric}_null_z`` for the
    covariance-matched Gaussian, ``copula_separates`` for the Gaussian-copula null) separates (its
    time-matched test is significant after BH). The wording is
    :func:`toposcale.topology.nulls.null_label`'s for an activation cloud: ``topology beyond geometry``
    only where it beats both the Gaussian and the copula null (issue 22: heavy tails alone beat the
    Gaussian null), ``beyond the gaussian null only`` where it beats the Gaussian null and the copula null
    is not computed (``copula_separates`` None) or not beaten; ``explained by its null (covariance-matched
    Gaussian)`` where only the raw measure separates; ``does not separate`` where neither does;
    ``geometric (cloud scale): not a topology claim`` for the clouds' scale, ``no null (reference
    measure)`` for reference measures and the clock, ``no null computed`` for a topological
    measure without a null column (``null_separates`` is None), ``cannot decide: need >= 2 seeds``
    with a single seed, and :data:`UNMATCHED_FINDING` when the time-matched test had no seed with both
    classes (``testable`` False; e.g. every control partly generalised).

    Examples
    --------
    >>> null_finding(True, False)
    'explained by its null (covariance-matched Gaussian)'
    >>> null_finding(True, True), null_finding(True, True, copula_separates=True)
    ('beyond the gaussian null only', 'topology beyond geometry')
    """
    if kind == "geometric":
        return GEOMETRIC_FINDING
    if kind != "topological":
        return "no null (reference measure)"
    if null_separates is None:
        return "no null computed"
    if n_seeds < 2:
        return "cannot decide: need >= 2 seeds"
    if not testable:
        return UNMATCHED_FINDING
    label, _ = null_label("activations", {"gaussian": bool(null_separates), "copula": copula_separates}, raw_separates)
    if label == EXPLAINED:
        return "explained by its null (covariance-matched Gaussian)"
    return "does not separate" if label == "not significant" else label


def detection_summary(df, metrics=None, n_boot: int = 2000, seed: int = 0, accuracy=None, detection=None):
    """One row per metric: how well it separates pre- from post-grok checkpoints, and when it moves,
    raw and null-adjusted side by side.

    Parameters
    ----------
    df : pandas.DataFrame
        The per-checkpoint table (:func:`toposcale.experiments.grokking.measures.measure_run` rows of every seed and arm).
    metrics : dict, optional
        name -> kind; defaults to :data:`DETECTION_METRICS` (those present in ``df``).
    accuracy : dict, optional
        The ``grokking.accuracy`` config section (``pre_grok``, ``post_grok``, ``grok``; see
        :func:`accuracy_thresholds`): the labels and the timing below use these thresholds.
    detection : dict, optional
        The ``grokking.detection`` config section (``n_surrogates``, ``fdr_alpha``; defaults
        :data:`DETECTION`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`: ``auc`` (post- vs pre-grok checkpoints of both arms pooled,
        :func:`seed_bootstrap_auc`; 1 = larger after grokking, 0 = smaller, 0.5 = no separation)
        with its 95 % seed-bootstrap interval ``auc_lo``/``auc_hi`` and ``auc_seed_min``/``max`` over
        per-seed AUCs (:func:`per_seed_auc`): description, not tested (not time-matched: a clock
        reaches about 0.95); the time-matched test
        (:func:`toposcale.experiments.grokking.matched.matched_test`): ``auc_matched``, ``p_matched``,
        ``n_matched_pre``, ``n_matched_post``, ``n_matched_seeds``, ``q_matched`` (Benjamini-Hochberg
        over every raw and null-adjusted test of the table) and ``separates`` = ``q_matched <=
        fdr_alpha``; ``n_pre``/``n_post`` checkpoints (pooled); ``direction`` = majority of per-seed
        directions (``up``: larger after grokking); timing over grok-arm runs
        (:func:`seed_timing`): ``lead_steps`` median lead (steps, positive = metric first),
        ``lead_min``/``lead_max`` over seeds, medians of ``acc_cross_step``, ``metric_cross_step``,
        ``train_cross_step`` (training accuracy settles above ``grok``: memorisation) and
        ``resolution_steps``, ``verdict`` (majority of ``seed_verdicts``, or ``mixed``).
        Null-adjusted, for a topological metric whose ``{metric}_null_z`` column (standardised excess
        over the covariance-matched Gaussian null, :func:`toposcale.experiments.grokking.measures.checkpoint_measures`)
        is in ``df``: the same statistics of that column, ``null_auc``, ``null_auc_lo``, ``null_auc_hi``,
        ``null_auc_matched``, ``null_p_matched``, ``null_q_matched``, ``null_separates``,
        ``null_direction``, ``null_lead_steps``, ``null_verdict`` (NaN / None without it), and
        ``finding`` (:func:`null_finding`). ``df`` gains no column: ``log_step`` (kind ``clock``) is
        computed here as log(step) (NaN at step 0) when it is asked for and absent.
    """
    det = {**DETECTION, **(detection or {})}
    if "log_step" not in df.columns and "log_step" in (metrics or DETECTION_METRICS):
        df = df.assign(log_step=np.log(df["step"].where(df["step"] > 0).astype(float)))
    metrics = {k: v for k, v in (metrics or DETECTION_METRICS).items() if k in df.columns}
    grok = df[df["arm"] == "grok"]
    rows = []
    for name, kind in metrics.items():
        row = dict(metric=name, kind=kind,
                   **_metric_row(df, grok, name, n_boot, seed, accuracy, det["n_surrogates"]))
        null = dict.fromkeys(NULL_SUMMARY_COLUMNS)
        if kind == "topological" and f"{name}_null_z" in df.columns:
            adj = _metric_row(df, grok, f"{name}_null_z", n_boot, seed, accuracy, det["n_surrogates"])
            null = {f"null_{k}": adj[k] for k in ("auc", "auc_lo", "auc_hi", "auc_matched", "p_matched",
                                                   "direction", "lead_steps", "verdict")}
        rows.append({**row, **null})
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    # one BH family: every raw and null-adjusted time-matched test of the table
    p = np.concatenate([out["p_matched"].to_numpy(float), out["null_p_matched"].to_numpy(float)])
    q = bh_adjust(p)
    out["q_matched"], out["null_q_matched"] = q[: len(out)], q[len(out):]
    alpha = float(det["fdr_alpha"])
    out["separates"] = np.isfinite(out["q_matched"]) & (out["q_matched"] <= alpha)
    has_null = out["null_direction"].notna()          # a null_z column was tested (its p may be NaN)
    out["null_separates"] = np.where(has_null, np.isfinite(out["null_q_matched"]) & (out["null_q_matched"] <= alpha),
                                     None)
    out["finding"] = [null_finding(bool(r.separates), r.null_separates, r.kind, r.n_seeds, r.n_matched_seeds > 0)
                      for r in out.itertuples()]
    return out[SUMMARY_COLUMNS].reset_index(drop=True)
