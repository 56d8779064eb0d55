"""Operating characteristics of the transitions verdict ("a change point in a series").

The verdict is :func:`toposcale.analysis.change_test.change_points` with the configured ``method`` (the test
:func:`toposcale.analysis.transitions.detect_transitions` runs on every series) at the design's own
checkpoints: ``x = log(frac)`` of ``design.checkpoint_fracs`` (log step up to a constant, to which the test is
invariant), with the default ``transitions`` settings. Noise: AR(1) with phi = 0.9 (checkpoint series of a
training run are strongly autocorrelated) and marginal sd 0.03 nats, the upper end of the validation-loss
noise of the default study (0.01-0.03 nats between neighbouring checkpoints on a plateau; issue 21).

- Positive control: the unigram-to-bigram stage crossing: a plateau at 3.05 nats dropping to 2.30 (the
  study's observed plateaus, issue 21; the corpus's unigram and bigram entropies are 3.02 and 2.26), its
  10%-90% part spanning 3 checkpoints, centred uniformly in the middle 30%-80% of the checkpoints; power =
  share of series with a change point within one checkpoint of the drop's midpoint.
- Negative controls: a smooth decay ``1.6 + 4 t^-0.35`` and the loss shape of a warmup + cosine learning-rate
  schedule (its late speed-up must not count), with the same noise; FPR = share with any change point.

Rates are at the test's own level (``p < significance``). In the study a primary series must also pass
Benjamini-Hochberg over the primary family; with a crossing in every run the family holds many true
signals, and the primary null draws put the p floor below ``alpha / family size``.
"""

from __future__ import annotations

import numpy as np

from toposcale.analysis.change_test import change_points
from toposcale.analysis.rebound import anneal_covariate
from toposcale.analysis.transitions import DEFAULT_SETTINGS
from toposcale.operating.characteristics import Characteristic, Design, proportion, register
from toposcale.operating.curves import ar1, cosine_schedule_loss, power_decay, simulate

VERDICT = "transition (change point) in a series"
PHI, SIGMA = 0.9, 0.03
LEVELS = (3.05, 2.30)       # observed plateaus of the default study's val loss (nats/byte), issue 21
N_NULL = 199


def _settings(design: Design) -> dict:
    st = dict(DEFAULT_SETTINGS, **design.extra.get("transitions", {}))
    return dict(significance=float(st["significance"]), smooth_df=int(st["smooth_df"]), null_df=int(st["null_df"]),
                widths=tuple(int(w) for w in st["ramp_widths"]), min_plateau=int(st["min_plateau"]),
                max_change_points=1, method=str(st["method"]), window=int(st["rebound_window"]),
                allowance=float(st["rebound_allowance"]), noise=str(st["rebound_noise"]),
                sigma_quantile=float(st["rebound_sigma_quantile"]) or None,
                anneal=bool(st["rebound_anneal"]) and "rebound" in str(st["method"]))


@register("transitions")
def transitions_check(design: Design, n_sim: int, seed: int) -> list[Characteristic]:
    fracs = np.asarray(design.checkpoint_fracs, dtype=float)
    x = np.log(fracs)
    kw = _settings(design)
    total = 10_000
    step = np.maximum(np.round(fracs * total), 1)
    # the schedule covariate of a run of ``total`` steps with the schema's train defaults (warmup 5%, floor 10%)
    kw["anneal"] = anneal_covariate(step, total) if kw["anneal"] else None
    rng = np.random.default_rng([seed, 21])
    drop_sd = (LEVELS[0] - LEVELS[1]) / SIGMA
    Y, centres = simulate("plateau_drop", np.arange(1, len(x) + 1), PHI, n_sim, rng, sigma=SIGMA,
                          drop_sd=drop_sd, span=3.0)          # plateau_drop starts at 3.05 = LEVELS[0]
    res = change_points(Y, x, n_null=N_NULL, seed=seed, **kw)
    hit = sum(any(abs(c - m) <= 1 for c in r["change_points"]) for r, m in zip(res, centres))
    power, pse = proportion(int(hit), n_sim)
    planted = (f"plateau {LEVELS[0]} -> {LEVELS[1]} nats over 3 checkpoints (the study's unigram/bigram plateaus), "
               f"AR(1) phi {PHI}, noise sd {SIGMA} nats; found within 1 checkpoint")
    rows = []
    for control, curve in (("smooth decay 1.6 + 4 t^-0.35, AR(1) phi 0.9", power_decay(step)),
                           ("warmup + cosine schedule loss shape, AR(1) phi 0.9", cosine_schedule_loss(step, total))):
        Yn = curve[None, :] + ar1(n_sim, len(x), PHI, SIGMA, rng)
        fp = sum(bool(r["change_points"]) for r in change_points(Yn, x, n_null=N_NULL, seed=seed, **kw))
        fpr, fse = proportion(int(fp), n_sim)
        rows.append(Characteristic(VERDICT, "transitions", design.describe(), planted, power, pse, control, fpr,
                                   fse, n_sim, note=f"per-series level {kw['significance']}, {N_NULL} null draws"))
    return rows

