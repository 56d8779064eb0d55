"""The time-matched separation test of the grokking detection summary (issue 22, point 2).

Checkpoints are log-spaced, so every post-grok checkpoint is late: pooled over a run's checkpoints, a
clock (``log(step)``) "separates" pre- from post-grok checkpoints (AUC about 0.95), and a seed-cluster
interval over 3 seeds passes white noise in about a quarter of studies. This test removes the clock by
comparing the two arms of one seed *at the same step* and gets its p-value from a null that keeps each
series' autocorrelation.

Definition, for a measure ``m`` and a seed that has both arms (same initialisation and split, same
checkpoint schedule; step 0 is left out because both arms are still the same model there):

* ``d(s) = m(grok arm, s) - m(control arm, s)`` at every shared step ``s > 0`` where both values are
  finite (the arm difference; anything that depends on the step alone, e.g. ``log(step)``, cancels);
* step ``s`` is *post* when the grok arm's test accuracy is ``> post_grok`` while the control arm's is
  ``< pre_grok`` (a grokked checkpoint beside a memorised one), *pre* when both arms' test accuracies
  are ``< pre_grok`` (neither has generalised), and left out otherwise;
* the statistic is the seed-stratified AUC ``sum_k U_k / sum_k n_post,k n_pre,k`` with ``U_k`` the
  Mann-Whitney count of (post, pre) step pairs of seed ``k`` where ``d`` is larger at the post step (ties
  count 1/2): the probability that, within one seed, the arm difference after grokking exceeds the arm
  difference before it (a difference in differences; 0.5 = none);
* the null keeps each seed's autocorrelation but no alignment with grokking: the seed's labelled
  points of ``d`` in step order are replaced by phase-randomised surrogates of their symmetric extension
  (:func:`toposcale.serial.phase_surrogates`: same spectrum, hence the same autocorrelation), keeping
  the labels; ``p`` is the two-sided Monte Carlo p-value of ``|AUC - 0.5|``
  (:func:`toposcale.serial.monte_carlo_pvalue`, smallest ``1 / (1 + B)``). The surrogates keep the
  spectrum of the observed ``d``, a real jump included, so the test is conservative under a jump (with
  one seed a 12-sd jump over the last 5 of 25 steps gets p about 0.3: the seeds together carry the
  power). Surrogates of ``d`` minus its class means were tried and rejected: removing the block means
  removes the low-frequency noise the contrast is made of, and AR(1) noise with autocorrelation 0.7
  then "separates" in 18% of 3-seed studies at nominal 5%.

What it does not separate: a difference between the arms that grows smoothly with training because of
weight decay alone also makes post-grok (late) arm differences exceed pre-grok (early) ones when it is
the same in every seed; the weight norm (a reference measure, shrunk by weight decay) shows how large
that is.
"""

from __future__ import annotations

import numpy as np

from toposcale.serial import monte_carlo_pvalue, phase_surrogates

#: Columns of :func:`matched_test`'s result, in order.
MATCHED_COLUMNS = ("auc_matched", "p_matched", "n_matched_pre", "n_matched_post", "n_matched_seeds")


def matched_differences(df, metric: str, thresholds: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per seed with both arms: ``(d, labels)`` over the shared steps ``> 0`` in step order.

    ``d`` is the grok-arm value of ``metric`` minus the control arm's at the same step; ``labels`` is 1
    (post), 0 (pre) or -1 (left out) as in the module docstring, with ``thresholds`` holding
    ``pre_grok`` and ``post_grok``. Steps where either value is not finite are dropped. Seeds with one
    arm only are skipped.
    """
    out = []
    cols = ["step", "test_acc", metric]
    for _, g in df[df["step"] > 0].groupby("seed", sort=True):
        grok = g.loc[g["arm"] == "grok", cols].drop_duplicates("step")
        ctrl = g.loc[g["arm"] == "control", cols].drop_duplicates("step")
        if grok.empty or ctrl.empty:
            continue
        both = grok.merge(ctrl, on="step", suffixes=("_g", "_c")).sort_values("step")
        d = both[f"{metric}_g"].to_numpy(float) - both[f"{metric}_c"].to_numpy(float)
        acc_g, acc_c = both["test_acc_g"].to_numpy(float), both["test_acc_c"].to_numpy(float)
        lab = np.where((acc_g > thresholds["post_grok"]) & (acc_c < thresholds["pre_grok"]), 1,
                       np.where((acc_g < thresholds["pre_grok"]) & (acc_c < thresholds["pre_grok"]), 0, -1))
        ok = np.isfinite(d)
        out.append((d[ok], lab[ok]))
    return out


def stratified_auc(series, labels) -> np.ndarray:
    """Seed-stratified AUC of post (label 1) against pre (label 0) points, row by row.

    ``series``: a list (one entry per seed) of arrays of shape ``(..., n_k)`` with the same leading
    shape; ``labels``: the matching list of ``(n_k,)`` label arrays. Returns
    ``sum_k U_k / sum_k n_post,k n_pre,k`` (module docstring) of shape ``(...)``; NaN when no seed has
    both classes.
    """
    num, den = 0.0, 0
    for x, lab in zip(series, labels):
        pos, neg = lab == 1, lab == 0
        n1, n0 = int(pos.sum()), int(neg.sum())
        if n1 == 0 or n0 == 0:
            continue
        x = np.asarray(x, dtype=float)
        a, b = x[..., pos][..., :, None], x[..., neg][..., None, :]
        num = num + ((a > b).sum(axis=(-2, -1)) + 0.5 * (a == b).sum(axis=(-2, -1)))
        den += n1 * n0
    if den == 0:
        return np.asarray(np.nan)
    return np.asarray(num / den, dtype=float)


def matched_test(df, metric: str, thresholds: dict, n_surrogates: int = 999, seed: int = 0) -> dict:
    """The time-matched separation test of ``metric`` (module docstring).

    Parameters
    ----------
    df : pandas.DataFrame
        Per-checkpoint rows of both arms (``seed``, ``arm``, ``step``, ``test_acc`` and ``metric``).
    thresholds : dict
        ``pre_grok`` and ``post_grok`` (:func:`toposcale.experiments.grokking.analysis.accuracy_thresholds`).
    n_surrogates : int
        Phase-randomised surrogates ``B`` of each seed's arm-difference series (``grokking.detection.n_surrogates``).
    seed : int
        Seed of the surrogates (seed ``k`` of the study uses ``seed + k``).

    Returns
    -------
    dict
        :data:`MATCHED_COLUMNS`: ``auc_matched`` (seed-stratified AUC), ``p_matched`` (two-sided Monte
        Carlo p), ``n_matched_pre`` / ``n_matched_post`` (pre and post steps summed over seeds) and
        ``n_matched_seeds`` (seeds with both classes); AUC and p are NaN when no seed has both classes.
    """
    if int(n_surrogates) < 19:
        raise ValueError(f"n_surrogates={n_surrogates} must be >= 19 (grokking.detection.n_surrogates; "
                         f"smallest p = 1 / (1 + B))")
    pairs = [(d, lab) for d, lab in matched_differences(df, metric, thresholds) if d.size >= 3]
    usable = [(d, lab) for d, lab in pairs if (lab == 1).any() and (lab == 0).any()]
    out = dict(auc_matched=float("nan"), p_matched=float("nan"),
               n_matched_pre=int(sum((lab == 0).sum() for _, lab in usable)),
               n_matched_post=int(sum((lab == 1).sum() for _, lab in usable)), n_matched_seeds=len(usable))
    if not usable:
        return out
    ds = [d[lab >= 0] for d, lab in usable]
    labs = [lab[lab >= 0] for _, lab in usable]
    out.update(matched_pvalue(ds, labs, n_surrogates, seed))
    return out


def matched_pvalue(ds, labs, n_surrogates: int, seed: int) -> dict:
    """``auc_matched`` and ``p_matched`` of arm-difference series ``ds`` (one per seed, labelled points
    only, step order) with labels ``labs`` (1 post, 0 pre): the statistic and null of the module
    docstring (the array core of :func:`matched_test`)."""
    auc = float(stratified_auc(ds, labs))
    null = stratified_auc([phase_surrogates(d, int(n_surrogates), int(seed) + k) for k, d in enumerate(ds)], labs)
    return dict(auc_matched=auc, p_matched=float(monte_carlo_pvalue(auc - 0.5, null - 0.5)))
