"""Operating characteristics of the scaling-law verdicts of :func:`toposcale.analysis.scaling.analyse_grid`:
the holdout verdict, the activation comparison and the stage gate.

Each simulated study is the design's trained grid: every size (fitted and held out) x activation x seed,
one run each, with a final loss drawn from a planted law, and goes through the real ``analyse_grid``
(and, where the world has an n-gram staircase, a stage table made by the real
:func:`toposcale.analysis.stages.study_stages` from a simulated dense loss curve of every run).

Planted values (their source):

* **The law.** ``L = E + A C^-alpha`` with ``C = 6 N D``, ``D = 20 N`` (the default study's 20 tokens per
  parameter), per activation the law fitted by :func:`~toposcale.analysis.scaling.fit_compute_law` to the
  README's final losses of the default study's 6 fitted sizes x 2 seeds (:data:`OBSERVED`): GELU ``E =
  0.600, A = 61.9, alpha = 0.139``, SwiGLU ``E = 1.499, A = 176.7, alpha = 0.203`` (README: 0.140 and 0.205,
  run.json's FLOPs). The first activation of the design gets GELU's law, the second SwiGLU's.
* **Noise.** Each run's loss is multiplied by ``exp(e)``, ``e ~ N(0, s)``, ``s`` the seed-to-seed spread
  of the same table: ``s = median |log L_s0 - log L_s1| / (0.6745 sqrt 2)`` over the 12 fitted pairs
  (:func:`seed_sd`, 0.0039; the median, because one pair, GELU d24, crossed a stage in one seed only).
* **Stages.** The KJV n-gram levels of the README (:data:`LEVELS`: unigram 3.020 ... 5-gram 1.139 nats);
  a run's dense curve falls from ``ln 256`` to its final loss as ``L_final + (ln 256 - L_final)(1 -
  t/T)^3`` (monotone, so smoothing leaves it unchanged), at the config's ``stages`` margin, drop fraction
  and smoothing window.

Worlds: **law** (each activation its law; no staircase: the gate is measured on its own); **same** (both
activations GELU's law: the comparison's negative control); **plateau** (the law is wrong: every size at
the bigram level 2.255 within the noise, where the default study's d24-d56 runs sit; every run ends on one
stage, so the gate passes and the naive prediction must win); **staircase** (GELU's law, each final loss
snapped to the nearest n-gram level, then noise: issue 23's quantised grid). The stage gate is read from
the real :func:`~toposcale.analysis.scaling.stages.final_stages` and
:func:`~toposcale.analysis.scaling.stages.stage_gate` on the simulated stage table; ``analyse_grid`` applies
the same gate and withholds the holdout verdict of a refused activation ('cannot decide', tested in
``tests/test_scaling_stages.py``), so it is called only for the staircase studies whose gate passes.

Cost: one study refits two laws and bootstraps them (a few hundred L-BFGS runs). Inside the simulation
the bootstrap has :data:`SIM_BOOTSTRAP` = 40 resamples (the study: ``scaling.n_bootstrap``, 1000) and the
fits start from the :data:`SIM_STARTS` grid (8 starts; the study: 150), and a family runs at most
:data:`MAX_STUDIES` studies per world (the ``n_sim`` column says how many): fewer resamples make the
prediction interval's endpoints noisier, which, if anything, lowers the power and raises the FPR of the
holdout verdict. The activation comparison's intervals do not use the bootstrap (jackknife-t over sizes
from leave-one-size-out refits, :func:`~toposcale.analysis.scaling.compare_activations`), so its rows are
measured as the study computes them, up to the smaller start grid.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from toposcale.analysis.scaling.grid import analyse_grid
from toposcale.analysis.scaling.holdout import MAX_REL_ERROR_PCT, PREDICTED
from toposcale.analysis.scaling.laws import start_grid
from toposcale.analysis.scaling.stages import final_stages, stage_gate
from toposcale.analysis.stages import study_stages
from toposcale.operating.characteristics import Characteristic, Design, proportion, register

#: Verdict keys (``verdict`` column; summary.md's :func:`toposcale.report.operating.power_note` key).
VERDICT_HOLDOUT = (f"scaling law {PREDICTED} (within {MAX_REL_ERROR_PCT:g}%, inside its 95% PI, "
                   f"naive prediction outside it)")
VERDICT_SHIFT = "activation comparison: exponent shift"
VERDICT_DIFFER = "activation comparison: activations differ (exponent shift or offset only)"
VERDICT_STAGES = "scaling law: cannot decide: runs end on different stages (or inside a drop)"
#: Every verdict key of this family.
VERDICTS = (VERDICT_HOLDOUT, VERDICT_SHIFT, VERDICT_DIFFER, VERDICT_STAGES)

#: README (default study, cf6576c): final val loss (seed 0, seed 1) of the 6 fitted sizes, ascending.
OBSERVED = {"gelu": ((3.381, 3.390), (2.891, 3.029), (2.425, 2.429), (2.277, 2.282), (2.215, 2.248),
                     (1.964, 1.996)),
            "swiglu": ((3.391, 3.406), (3.030, 3.032), (2.588, 2.610), (2.326, 2.319), (2.280, 2.287),
                       (2.230, 2.196))}
#: L(C) = E + A C^-alpha fitted to :data:`OBSERVED` (module doc): (E, A, alpha).
LAWS = {"gelu": (0.5996, 61.93, 0.1391), "swiglu": (1.4990, 176.70, 0.2032)}
#: KJV n-gram levels (README; held-out Kneser-Ney), orders 1..5, nats.
LEVELS = (3.020, 2.255, 1.724, 1.339, 1.139)
#: The plateau world's level (bigram).
PLATEAU = LEVELS[1]
TOKENS_PER_PARAM = 20.0
#: Simulation settings (module doc: cost).
SIM_BOOTSTRAP, MAX_STUDIES = 40, 40
SIM_STARTS = {"compute": start_grid("compute", 2, 2, 2)}
#: Dense steps of a simulated run's loss curve (the stage table).
DENSE_STEPS = 40


def seed_sd() -> float:
    """Seed-to-seed sd of log final loss from :data:`OBSERVED` (module doc)."""
    d = [abs(math.log(a) - math.log(b)) for pairs in OBSERVED.values() for a, b in pairs]
    return float(np.median(d) / (0.6745 * math.sqrt(2)))


def _law(E: float, A: float, alpha: float):
    return lambda N: E + A * (6.0 * N * TOKENS_PER_PARAM * N) ** -alpha


def _snapped(law):
    """The law's loss snapped to the nearest n-gram level."""
    levels = np.array(LEVELS)
    return lambda N: float(levels[np.argmin(np.abs(levels - law(N)))])


def stage_settings(design: Design) -> dict:
    """The ``stages`` config section: ``design.extra['stages']`` filled with the schema defaults."""
    from toposcale.config import SCHEMA_PATH, _fill_defaults, _load_yaml

    cfg = dict(design.extra.get("stages", {}))
    _fill_defaults(cfg, _load_yaml(SCHEMA_PATH)["properties"]["stages"])
    return cfg


def _runs(design: Design, losses: dict, rng, sd: float) -> list[dict]:
    """run.json dicts of one study: ``losses`` activation -> N -> mean final loss."""
    held = set(design.holdout_sizes)
    out = []
    for act, loss in losses.items():
        for N in sorted(design.sizes + design.holdout_sizes):
            for s in range(design.seeds):
                D = TOKENS_PER_PARAM * N
                out.append({"name": f"{act}-{N}-s{s}", "activation": act, "n_nonembed": int(N), "size": str(N),
                            "seed": s, "tokens_seen": D, "holdout": N in held, "target_params": int(N),
                            "flops": 6.0 * N * D, "final_val_loss": float(loss(N) * math.exp(rng.normal(0, sd)))})
    return out


def _stage_table(runs: list[dict], cfg: dict) -> pd.DataFrame:
    """The real stage table of ``runs``, each with a dense curve falling from ln 256 to its final loss."""
    t = np.arange(1, DENSE_STEPS + 1, dtype=float)
    top = math.log(256.0)
    levels = [{"order": k + 1, "name": n, "nats": v}
              for k, (n, v) in enumerate(zip(("unigram", "bigram", "trigram", "4-gram", "5-gram"), LEVELS))]
    dense = {}
    for r in runs:
        f = r["final_val_loss"]
        curve = f + (top - f) * (1.0 - t / DENSE_STEPS) ** 3
        dense[r["name"]] = (pd.DataFrame({"step": t.astype(int), "val_loss": curve}),
                            {**r, "total_steps": DENSE_STEPS, "checkpoint_steps": []})
    return study_stages(dense, levels, cfg)[0]


def _analyse(runs, seed, stages=None) -> dict:
    return analyse_grid(runs, n_bootstrap=SIM_BOOTSTRAP, seed=seed, grid=SIM_STARTS, stages=stages)


def _holdout_passes(res: dict, act: str) -> bool:
    """The verdict of the activation's first holdout run (the seed-0 run of its first held-out size);
    False when there is none (no law fitted)."""
    held = res["activations"][act]["holdout"]
    return bool(held) and held[0]["verdict"] == PREDICTED


def _studies(design: Design, n: int, seed: int) -> dict:
    """Counts over ``n`` studies per world (module doc)."""
    rng = np.random.default_rng(seed)
    sd = seed_sd()
    acts = list(design.activations)
    base = acts[0]
    laws = {a: _law(*LAWS["gelu" if i == 0 else "swiglu"]) for i, a in enumerate(acts)}
    cfg = stage_settings(design)
    c = {k: 0 for k in ("hold_law", "shift_law", "differ_law", "shift_same", "differ_same", "hold_plateau",
                        "refuse_plateau", "hold_stairs", "refuse_stairs")}
    for i in range(n):
        res = _analyse(_runs(design, laws, rng, sd), seed + i)
        c["hold_law"] += _holdout_passes(res, base)
        kind = res["comparisons"][0]["kind"] if res["comparisons"] else None
        c["shift_law"] += kind == "exponent shift"
        c["differ_law"] += kind in ("exponent shift", "offset only")
        if len(acts) > 1:
            res = _analyse(_runs(design, {a: laws[base] for a in acts}, rng, sd), seed + i)
            kind = res["comparisons"][0]["kind"] if res["comparisons"] else None
            c["shift_same"] += kind == "exponent shift"
            c["differ_same"] += kind in ("exponent shift", "offset only")
        for world, loss in (("plateau", lambda N: PLATEAU), ("stairs", _snapped(laws[base]))):
            runs = _runs(design, {base: loss}, rng, sd)
            stages = _stage_table(runs, cfg)
            gate = stage_gate(final_stages(stages), [r["name"] for r in runs])
            c[f"refuse_{world}"] += not gate["decidable"]
            if gate["decidable"]:
                c[f"hold_{world}"] += _holdout_passes(_analyse(runs, seed + i, stages), base)
    return c


@register("scaling")
def scaling_checks(design: Design, n_sim: int, seed: int) -> list[Characteristic]:
    """Power and FPR of the holdout verdict, the activation comparison and the stage gate (module doc)."""
    n = min(int(n_sim), MAX_STUDIES)
    c = _studies(design, n, seed)
    d = design.describe()
    sd = seed_sd()
    (E, A, al), (E2, A2, al2) = LAWS["gelu"], LAWS["swiglu"]
    law = (f"L = {E:.3f} + {A:.1f} C^-{al:.3f} (GELU's law fitted to the README's final losses), seed noise "
           f"sd {sd:.4f} in log loss (README seed pairs)")
    note = (f"{n} simulated studies per world (cap {MAX_STUDIES}: each refits and bootstraps the laws); "
            f"{SIM_BOOTSTRAP} bootstrap resamples (prediction intervals; the comparison uses the jackknife-t "
            f"over sizes) and {len(SIM_STARTS['compute'])} L-BFGS starts inside the "
            f"simulation; holdout verdict of the first activation's seed-0 holdout run")
    out = []
    p, pse = proportion(c["hold_law"], n)
    for k, control in ((c["hold_plateau"], f"law wrong: every size on the bigram plateau ({PLATEAU} nats) within "
                                           f"the noise, stage gate passes"),
                       (c["hold_stairs"], "stage-quantised grid (GELU's law snapped to the KJV n-gram levels), "
                                          "stage gate applied")):
        f, fse = proportion(k, n)
        out.append(Characteristic(VERDICT_HOLDOUT, "scaling", d, law, p, pse, control, f, fse, n, note))
    if len(design.activations) > 1:
        planted = (f"GELU {law.split(' (')[0]} vs SwiGLU L = {E2:.3f} + {A2:.1f} C^-{al2:.3f} (fitted to the "
                   f"README's final losses): alpha difference {al2 - al:+.3f}; same seed noise")
        for verdict, key in ((VERDICT_SHIFT, "shift"), (VERDICT_DIFFER, "differ")):
            p, pse = proportion(c[f"{key}_law"], n)
            f, fse = proportion(c[f"{key}_same"], n)
            out.append(Characteristic(verdict, "scaling", d, planted, p, pse,
                                      "both activations on GELU's law (no difference)", f, fse, n, note))
    p, pse = proportion(c["refuse_stairs"], n)
    f, fse = proportion(c["refuse_plateau"], n)
    out.append(Characteristic(VERDICT_STAGES, "scaling", d,
                              "GELU's law snapped to the nearest KJV n-gram level (issue 23's quantised grid), "
                              "seed noise as observed; refusal rate", p, pse,
                              "every run on the bigram plateau: a refusal here is false", f, fse, n,
                              "stage table from the real study_stages on simulated dense curves; gate read "
                              "by final_stages + stage_gate"))
    return out
