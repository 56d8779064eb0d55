"""The holdout verdict of a scaling law: does the law predict its held-out size better than doing nothing?

Issue 23's bar: the fitted law predicts each held-out run within :data:`MAX_REL_ERROR_PCT` (5%), the
observed loss lies inside its 95% prediction interval, and the law's error is clearly smaller than the
*naive* prediction's, the naive prediction being the mean final loss of the largest fitted size's runs
(of the same activation: "the next size is no better than the largest one trained"). "Clearly" is made
exact here: the naive prediction lies **outside** the law's 95% prediction interval (the law tells the
holdout apart from no improvement) **and** its absolute error is larger than the law's. So a grid whose
losses sit on one plateau, where the law and the naive prediction agree within noise, does not pass.

:func:`naive_prediction` gives the naive value; :func:`holdout_verdict` the verdict of one holdout entry
of :func:`toposcale.analysis.scaling.analyse_grid` (its ``holdout`` list).
"""

from __future__ import annotations

import math

import pandas as pd

from toposcale.plan.decidability import CANNOT_DECIDE

#: Largest relative holdout error (|predicted - observed| / observed, %) a law that predicts may have.
MAX_REL_ERROR_PCT = 5.0
#: Verdict of a holdout the law predicts (all criteria of the module doc met).
PREDICTED = "predicts its holdout"
#: Prefix of a holdout verdict that failed some criterion (the failed criteria follow).
MISSED = "misses its holdout"
#: Every verdict prefix :func:`holdout_verdict` returns.
VERDICTS = (PREDICTED, MISSED, CANNOT_DECIDE)


def naive_prediction(fit_rows: pd.DataFrame) -> float:
    """Mean ``loss`` of the rows at the largest ``target`` of ``fit_rows`` (one activation's fitted runs).

    >>> naive_prediction(pd.DataFrame({"target": [1, 2, 2], "loss": [3.0, 2.0, 2.2]}))
    2.1
    """
    if fit_rows.empty:
        return math.nan
    top = fit_rows[fit_rows["target"] == fit_rows["target"].max()]
    return round(float(top["loss"].mean()), 12)


def holdout_verdict(h: dict) -> str:
    """Verdict of one holdout entry ``h`` (keys ``decidable``, ``observed``, ``rel_error_pct``, ``pi_lo``,
    ``pi_hi``, ``inside_interval``, ``naive_predicted``).

    ``'cannot decide'`` when the fit's gate is undecidable (too few sizes, runs on different n-gram
    stages); :data:`PREDICTED` when every criterion of the module doc holds; else
    ``'misses its holdout: <the failed criteria>'``.

    >>> h = {"decidable": True, "observed": 1.90, "rel_error_pct": 1.0, "pi_lo": 1.85, "pi_hi": 1.97,
    ...      "inside_interval": True, "naive_predicted": 2.0}
    >>> holdout_verdict(h)
    'predicts its holdout'
    >>> holdout_verdict({**h, "naive_predicted": 1.95})
    'misses its holdout: the naive prediction (largest fitted size, 1.950) lies inside the 95% PI'
    """
    if not h.get("decidable", True):
        return CANNOT_DECIDE
    rel, obs, naive = float(h["rel_error_pct"]), float(h["observed"]), float(h["naive_predicted"])
    fails = []
    if not abs(rel) <= MAX_REL_ERROR_PCT:
        fails.append(f"error {rel:+.1f}% beyond ±{MAX_REL_ERROR_PCT:g}%")
    if not h.get("inside_interval"):
        fails.append("observed outside the 95% PI")
    if not math.isfinite(naive):
        fails.append("no naive prediction")
    else:
        if h["pi_lo"] <= naive <= h["pi_hi"]:
            fails.append(f"the naive prediction (largest fitted size, {naive:.3f}) lies inside the 95% PI")
        if not abs(naive - obs) / obs * 100.0 > abs(rel):
            fails.append(f"no better than the naive prediction ({100.0 * (naive - obs) / obs:+.1f}%)")
    return PREDICTED if not fails else f"{MISSED}: " + "; ".join(fails)
