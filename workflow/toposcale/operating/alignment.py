"""Operating characteristics of the alignment verdict ("topology marks the stage crossing").

Simulated study (the design's own runs and checkpoints): every run of ``design`` except those of the
smallest size (in the default study the smallest runs never leave the unigram plateau) completes one
unigram->bigram crossing; all runs share the checkpoint fractions ``design.checkpoint_fracs``. Crossing
fractions: the size centres run linearly (in size rank) from :data:`FRAC_HIGH` (second-smallest size) down
to :data:`FRAC_LOW` (largest), the study's observed mid-training drop (issue 21: the unigram-to-bigram drop
lies mid-training; frac 0.3-0.6 across sizes), each run's ``frac_cross`` = centre x exp(N(0, SEED_SPREAD)),
and the drop (10%-90% of the level change) spans ``frac_cross x exp(+-DROP_HALF_WIDTH)``.

Each run's series (per checkpoint, step = frac x :data:`TOTAL_STEPS`) is a smooth decay
``TREND_AMPLITUDE x frac**-0.3`` (in noise sds) plus AR(1) noise (phi = :data:`AR_PHI`, marginal sd 1),
plus the planted or fake component:

* positive control: a drop of ``JUMP_SDS`` noise sds across the run's own drop interval (linear in log
  step from step_start to step_end); the size stands for the collapse of the activations' block-mean
  H0/H1 total persistence / scale across the unigram-to-bigram drop (issue 21, ``transitions.png``: a
  move of several checkpoint-to-checkpoint noise sds). It must pass;
* ``fixed fraction``: the same drop at :data:`FIXED_FRAC` in every run (inside the crossings' cluster),
  unrelated to the run's own crossing: must not pass (the swap null's job);
* ``smooth trend``: a logistic step of ``3 x JUMP_SDS`` sds in log step centred at FIXED_FRAC, spread
  over about 1.5 units of log step (~9 checkpoints of the default schedule): must not pass;
* ``noise``: trend and noise only.

The verdict is :func:`toposcale.analysis.alignment.align_series` followed by the same rule as
:func:`toposcale.analysis.alignment.align` (both p-values below alpha; one series, so BH is the
identity), at ``alignment.n_null`` null draws (``design.extra['alignment']`` when the config provides
it, else the schema defaults).
"""

from __future__ import annotations

import numpy as np

from toposcale.analysis.alignment import VERDICT_KEY, align_series
from toposcale.operating.characteristics import Characteristic, Design, proportion, register
from toposcale.plan.decidability import crossings_for_alignment

FRAC_LOW, FRAC_HIGH = 0.3, 0.6
SEED_SPREAD = 0.1
DROP_HALF_WIDTH = 0.15
FIXED_FRAC = 0.45
JUMP_SDS = 4.0
AR_PHI = 0.5
TREND_AMPLITUDE = 2.0
TOTAL_STEPS = 10_000.0
CONTROLS = ("fixed fraction", "smooth trend", "noise")


def settings(design: Design) -> dict:
    """The ``alignment`` config section: ``design.extra['alignment']`` filled with the schema defaults."""
    from toposcale.config import SCHEMA_PATH, _fill_defaults, _load_yaml

    cfg = dict(design.extra.get("alignment", {}))
    _fill_defaults(cfg, _load_yaml(SCHEMA_PATH)["properties"]["alignment"])
    return cfg


def crossing_fracs(design: Design, rng) -> np.ndarray:
    """``(n_runs, 3)`` fractions (start, cross, end) of the crossing runs (module docstring)."""
    sizes = sorted(set(design.sizes) | set(design.holdout_sizes))[1:]
    per_size = design.seeds * len(design.activations)
    centres = np.repeat(np.linspace(FRAC_HIGH, FRAC_LOW, len(sizes)) if len(sizes) > 1 else [FRAC_HIGH], per_size)
    cross = np.clip(centres * np.exp(rng.normal(0, SEED_SPREAD, len(centres))), None, 0.95)
    return np.column_stack([cross * np.exp(-DROP_HALF_WIDTH), cross, cross * np.exp(DROP_HALF_WIDTH)])


def _ramp(logstep, lo, hi):
    return np.clip((logstep - lo) / max(hi - lo, 1e-9), 0.0, 1.0)


def simulate(design: Design, kind: str, rng, cr=None) -> list[dict]:
    """One simulated study: the runs of :func:`toposcale.analysis.alignment.align_series` with series
    ``kind`` ('planted' or one of :data:`CONTROLS`); ``cr``: the crossings (default
    :func:`crossing_fracs`, drawn from ``rng``)."""
    fracs = np.asarray(design.checkpoint_fracs, float)
    steps = fracs * TOTAL_STEPS
    x = np.log(steps)
    cr = crossing_fracs(design, rng) if cr is None else np.asarray(cr, float)
    n, k = len(cr), len(fracs)
    eps = rng.normal(0, np.sqrt(1 - AR_PHI ** 2), (n, k))
    noise = np.empty((n, k))
    noise[:, 0] = rng.normal(0, 1, n)
    for t in range(1, k):
        noise[:, t] = AR_PHI * noise[:, t - 1] + eps[:, t]
    y = TREND_AMPLITUDE * fracs[None, :] ** -0.3 + noise
    lt = np.log(cr * TOTAL_STEPS)
    if kind == "planted":
        y -= JUMP_SDS * np.vstack([_ramp(x, lt[i, 0], lt[i, 2]) for i in range(n)])
    elif kind == "fixed fraction":
        f = np.log(FIXED_FRAC * TOTAL_STEPS)
        y -= JUMP_SDS * _ramp(x, f - DROP_HALF_WIDTH, f + DROP_HALF_WIDTH)[None, :]
    elif kind == "smooth trend":
        y -= 3 * JUMP_SDS / (1 + np.exp(-(x - np.log(FIXED_FRAC * TOTAL_STEPS)) / 0.4))[None, :]
    elif kind != "noise":
        raise ValueError(f"unknown series kind {kind!r}")
    return [{"steps": steps, "values": y[i], "total_steps": TOTAL_STEPS, "step_start": cr[i, 0] * TOTAL_STEPS,
             "step_cross": cr[i, 1] * TOTAL_STEPS, "step_end": cr[i, 2] * TOTAL_STEPS} for i in range(n)]


def passes(res: dict, alpha: float, n_crossings: int) -> bool:
    """The alignment verdict of one series (module docstring of :mod:`toposcale.analysis.alignment`)."""
    return bool(n_crossings >= crossings_for_alignment(alpha) and max(res["p_random"], res["p_swap"]) < alpha)


def rates(design: Design, n_sim: int, seed: int = 0) -> dict:
    """Pass rate (k, n) of each series kind at ``design``."""
    cfg = settings(design)
    alpha, n_null = float(cfg["significance"]), int(cfg["n_null"])
    rng = np.random.default_rng(seed)
    out = {}
    for kind in ("planted",) + CONTROLS:
        k = 0
        for _ in range(n_sim):
            runs = simulate(design, kind, rng)
            res = align_series(runs, n_null=n_null, widen=int(cfg["widen"]), max_lag=int(cfg["max_lag"]),
                               seed=int(rng.integers(2 ** 31)))
            k += passes(res, alpha, int(res["used"].sum()))
        out[kind] = (k, n_sim)
    return out


@register("alignment")
def check(design: Design, n_sim: int, seed: int = 0) -> list[Characteristic]:
    """Power on the planted crossing-locked drop; FPR on each of :data:`CONTROLS`."""
    r = rates(design, n_sim, seed)
    power, se = proportion(*r["planted"])
    n_cross = len(crossing_fracs(design, np.random.default_rng(0)))
    planted = (f"{JUMP_SDS:g}-sd drop across each run's unigram->bigram drop ({n_cross} crossing runs, "
               f"frac {FRAC_LOW:g}-{FRAC_HIGH:g} by size; size: issue 21, activation H0/H1 collapse)")
    note = (f"AR(1) phi {AR_PHI:g}; smooth trend {TREND_AMPLITUDE:g} frac^-0.3; drop spans frac x "
            f"exp(+-{DROP_HALF_WIDTH:g}); fixed fraction {FIXED_FRAC:g}")
    return [Characteristic(VERDICT_KEY, "alignment", design.describe(), planted, power, se, control,
                           *proportion(*r[control]), n_sim, note) for control in CONTROLS]
