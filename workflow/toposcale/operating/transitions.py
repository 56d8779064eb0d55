"""Operating characteristics of the transitions verdict ("a change point in a series").

The verdict is :func:`toposcale.analysis.change_test.change_points` with the configured ``method`` (the test
:func:`toposcale.analysis.transitions.detect_transitions` runs on every series) at the study's own
checkpoints: the ``n_sim`` series of each kind are spread evenly over the checkpoint schedules of the runs
of every size (:func:`run_schedules`; ``x`` = log step, the schedule covariate from each run's total
steps), so the rates are the study's average over its runs, with the default ``transitions`` settings.
(Until issue 21's session 10 every series used the shortest run's fractions stretched to 10,000 steps,
a nearly linear schedule no run of the study has; per-run rates: ``benchmarks/changepoint_run_schedules.py``.)
Noise: AR(1) with phi = 0.9 (checkpoint series of a training run are strongly autocorrelated) and marginal
sd 0.03 nats, the upper end of the validation-loss noise of the default study (0.01-0.03 nats between
neighbouring checkpoints on a plateau; issue 21).

- Positive control: the unigram-to-bigram stage crossing: a plateau at 3.05 nats dropping to 2.30 (the
  study's observed plateaus, issue 21; the corpus's unigram and bigram entropies are 3.02 and 2.26), its
  10%-90% part spanning 3 checkpoints, centred uniformly in the middle 30%-80% of the checkpoints after the
  run's warmup (with ``transitions.ramp_after_warmup``, the default: the ramp scan does not test the warmup,
  :mod:`toposcale.analysis.changepoint` "Warmup"; of all checkpoints without it); power = share of series
  with a change point within one checkpoint of the drop's midpoint. (With the switch on and the drop
  planted over all checkpoints, as before, power is 0.865 at n_sim 200 instead of 0.99: the drops that
  fall inside the warmup are not tested.)
- Negative controls: a smooth decay ``1.6 + 4 t^-0.35`` and the loss shape of a warmup + cosine learning-rate
  schedule (its late speed-up must not count), with the same noise; FPR = share with any change point.
- The same schedule's loss with a flat start, as the study's runs start (``cosine_schedule_loss(offset=1)``:
  ``E + A (S + 1)^-alpha`` in the cumulative learning rate ``S``; gelu-d64L2-s0 reads 5.54, 5.45, 5.29 nats
  at steps 1, 3, 5, the control 5.52, 5.40, 5.20). Two rows: the share with any change point and the share
  whose change point lies after the warmup (:func:`toposcale.analysis.lr_schedule.warmup_steps`: the rate
  of the transitions summary.md does not mark "warmup"). Without ``transitions.ramp_after_warmup`` the
  first is far above the level (0.585 at n_sim 200: in log step a flat start is a plateau then a
  descent, and the ramp scan places a change at the warmup's steepest descent), the second 0.010; with it
  (the default) both are 0.025.

Rates are at the test's own level (``p < significance``). In the study a primary series must also pass
Benjamini-Hochberg over the primary family; with a crossing in every run the family holds many true
signals, and the primary null draws put the p floor below ``alpha / family size``.
"""

from __future__ import annotations

import numpy as np

from toposcale.analysis.change_test import change_points
from toposcale.analysis.lr_schedule import anneal_covariate, source_shares, warmup_points, warmup_steps
from toposcale.analysis.transitions import DEFAULT_SETTINGS
from toposcale.operating.characteristics import Characteristic, Design, proportion, register
from toposcale.operating.curves import ar1, cosine_schedule_loss, cosine_speed_up, power_decay, simulate

VERDICT = "transition (change point) in a series"
PHI, SIGMA = 0.9, 0.03
LEVELS = (3.05, 2.30)       # observed plateaus of the default study's val loss (nats/byte), issue 21
N_NULL = 199
#: The negative controls, in row order (module docstring).
CONTROLS = ("smooth decay 1.6 + 4 t^-0.35, AR(1) phi 0.9",
            "warmup + cosine schedule loss shape, AR(1) phi 0.9",
            "the same with a flat start as the runs start (S + 1): any change point",
            "the same flat start: a change point after the warmup (the transitions not marked 'warmup')",
            "warmup + cosine with the largest speed-up the rebound null admits (anneal_max_share of its "
            "range), AR(1) phi 0.9")
#: Series per batch of null draws: every batch gets its own seeded draws (one shared set of 199 draws moves
#: every series' p-value together, a Monte Carlo error the binomial standard error does not show).
NULL_BATCH = 20


def _test(Y, x, seed: int, kw: dict) -> list[dict]:
    """The configured test of the rows of ``Y``, in batches of ``NULL_BATCH`` with their own null draws."""
    return [r for b in range(0, len(Y), NULL_BATCH)
            for r in change_points(Y[b:b + NULL_BATCH], x, n_null=N_NULL, seed=seed + b // NULL_BATCH, **kw)]


def _settings(design: Design) -> dict:
    st = dict(DEFAULT_SETTINGS, **design.extra.get("transitions", {}))
    loss = source_shares(st["anneal_max_share"], ["loss"])       # the simulated series are losses
    return dict(significance=float(st["significance"]), smooth_df=int(st["smooth_df"]), null_df=int(st["null_df"]),
                widths=tuple(int(w) for w in st["ramp_widths"]), min_plateau=int(st["min_plateau"]),
                max_change_points=1, method=str(st["method"]), window=int(st["rebound_window"]),
                allowance=float(st["rebound_allowance"]), noise=str(st["rebound_noise"]),
                sigma_quantile=float(st["rebound_sigma_quantile"]) or None,
                anneal_max_share=None if loss is None else float(loss[0]),
                anneal=bool(st["anneal"]), ramp_after_warmup=bool(st["ramp_after_warmup"]))


def run_schedules(design: Design) -> list[np.ndarray]:
    """The checkpoint steps (> 0; the last is the run's total steps) of each size's run of the design's first
    activation, smallest first (``design.extra["checkpoint_steps"]``); a design without them (built by hand)
    gets its ``checkpoint_fracs`` on a run of 10,000 steps."""
    steps = design.extra.get("checkpoint_steps") or {}
    if not steps:
        return [np.maximum(np.round(np.asarray(design.checkpoint_fracs, dtype=float) * 10_000), 1)]
    return [np.asarray(steps[k], dtype=float) for k in sorted(steps)]


@register("transitions")
def transitions_check(design: Design, n_sim: int, seed: int) -> list[Characteristic]:
    kw = _settings(design)
    share = kw["anneal_max_share"] or 0.0
    anneal_on = kw.pop("anneal")
    after_warmup = kw.pop("ramp_after_warmup")
    schedules = run_schedules(design)
    rng = np.random.default_rng([seed, 21])
    rng_flat = np.random.default_rng([seed, 21, 1])   # its own stream: the other rows keep their draws
    rng_edge = np.random.default_rng([seed, 21, 2])
    drop_sd = (LEVELS[0] - LEVELS[1]) / SIGMA
    hit, fp = 0, dict.fromkeys(range(len(CONTROLS)), 0)
    for i, step in enumerate(schedules):
        m = n_sim // len(schedules) + (i < n_sim % len(schedules))    # the series spread over the runs
        if m == 0:
            continue
        x, total = np.log(step), int(step[-1])
        # the run's lr decay at its checkpoints (the schema's train defaults: warmup 5%, floor 10%)
        k = dict(kw, anneal=anneal_covariate(step, total) if anneal_on else None,
                 warmup_points=warmup_points(step, total) if after_warmup else 0)
        # plateau_drop starts at 3.05 = LEVELS[0]; planted where the test looks (after the warmup's points)
        Y, centres = simulate("plateau_drop", np.arange(1, len(x) + 1), PHI, m, rng, sigma=SIGMA,
                              drop_sd=drop_sd, span=3.0, first=k["warmup_points"])
        res = _test(Y, x, seed + 1000 * i, k)
        hit += sum(any(abs(c - mid) <= 1 for c in r["change_points"]) for r, mid in zip(res, centres))
        for j, curve in enumerate((power_decay(step), cosine_schedule_loss(step, total),
                                   cosine_schedule_loss(step, total, offset=1.0))):
            Yn = curve[None, :] + ar1(m, len(x), PHI, SIGMA, rng_flat if j == 2 else rng)
            res = _test(Yn, x, seed + 1000 * i, k)
            fp[j] += sum(bool(r["change_points"]) for r in res)
            if j == 2:                 # the flat start: its change points after the warmup
                fp[3] += sum(any(step[c] > warmup_steps(total) for c in r["change_points"]) for r in res)
        # the schedule's speed-up at the bound (the edge of the rebound null's assumption)
        edge = cosine_speed_up(step, total, share)[None, :] + ar1(m, len(x), PHI, SIGMA, rng_edge)
        res = _test(edge, x, seed + 1000 * i, k)
        fp[4] += sum(bool(r["change_points"]) for r in res)
    power, pse = proportion(int(hit), n_sim)
    n_pts = sorted({len(s) for s in schedules})
    where = (f"at the checkpoints of each size's run ({len(schedules)} schedules, "
             f"{n_pts[0]}-{n_pts[-1]} checkpoints), the series spread evenly over them")
    planted = (f"plateau {LEVELS[0]} -> {LEVELS[1]} nats over 3 checkpoints (the study's unigram/bigram plateaus)"
               + (" after the warmup" if after_warmup else "") +
               f", AR(1) phi {PHI}, noise sd {SIGMA} nats; found within 1 checkpoint")
    rows = []
    for j, control in enumerate(CONTROLS):
        fpr, fse = proportion(int(fp[j]), n_sim)
        rows.append(Characteristic(VERDICT, "transitions", design.describe(), planted, power, pse, control, fpr,
                                   fse, n_sim, note=f"per-series level {kw['significance']}, {N_NULL} null draws "
                                                    f"per batch of {NULL_BATCH}; {where}"))
    return rows
