"""Operating characteristics of the grokking separation verdict (``separates`` of
:func:`toposcale.experiments.grokking.detection_summary`, the time-matched test of
:func:`toposcale.experiments.grokking.matched.matched_test`).

Each simulated study has the design's grokking seeds, both arms, and the design's log-spaced checkpoint
schedule (``grokking.steps``, ``grokking.n_checkpoints``). Test accuracy follows the default-setting
seed-0 run measured for issue 22 (p = 59, weight decay 3 vs 0, 1500 steps, 30 checkpoints): the grok arm
is below ``pre_grok`` to step 153 (fraction 0.10), between the thresholds to step 478 (0.32) and above
``post_grok`` from step 601 (0.40); the control arm stays at 0.05. Each simulated seed moves that grok
checkpoint by -1, 0 or +1 checkpoints (uniformly), keeping 4 checkpoints between the thresholds. Series
of one arm have AR(1) noise (lag-1 autocorrelation ``PHI``) with sd ``1/sqrt(2)``, so an arm difference
has sd 1.

* Planted: a measure that jumps by ``JUMP`` sd of the arm difference at the grok step in the grok arm.
  ``JUMP`` = 1.1 and ``PHI`` = 0.26 are the medians, over the 13 topological measures' null_z series of
  that run, of (mean post-grok arm difference - mean pre-grok) / sd(pre-grok) and of the pre-grok lag-1
  autocorrelation (the raw measures jump by a median 6.7 sd).
* Negative controls: the clock ``log(step)`` (the same in both arms: the pooled AUC gave it 0.95 and the
  old verdict called it separating); white noise (the old verdict passed it in 49 of 200 3-seed studies);
  AR(1) noise with lag-1 autocorrelation 0.7 (the raw measures' pre-grok autocorrelation).

The verdict is the single measure's test at ``fdr_alpha`` (BH over the study's ~33 tests of a table can
only make it stricter).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toposcale.experiments.grokking.analysis import ACCURACY, DETECTION
from toposcale.experiments.grokking.matched import matched_pvalue
from toposcale.experiments.grokking.runs import checkpoint_steps
from toposcale.analysis.ar1 import ar1_noise
from toposcale.operating.characteristics import Characteristic, Design, proportion, register

VERDICT = "grokking separation"
#: Planted jump (sd of the arm difference) and the noise's lag-1 autocorrelation (module docstring).
JUMP, PHI = 1.1, 0.26
#: Training fractions of the observed grok run: last pre-grok checkpoint, first post-grok checkpoint.
PRE_END_FRAC, POST_START_FRAC = 153 / 1500, 601 / 1500
#: Checkpoints between the thresholds before the first post-grok checkpoint in the observed run.
BAND = 4
#: Negative controls: measure column -> name in the table.
CONTROLS = {"clock": "clock log(step)", "noise": "white noise", "ar": "AR(1) noise, phi 0.7"}
#: Every simulated measure: the planted one, then the controls.
MEASURES = ("jump", *CONTROLS)



def simulated_study(rng, steps: np.ndarray, n_seeds: int, thresholds: dict) -> tuple[pd.DataFrame, dict]:
    """One simulated study (module docstring).

    Returns the per-checkpoint table (rows (seed, arm, step) with ``test_acc`` and the measures ``jump``,
    ``clock``, ``noise``, ``ar``: what :func:`toposcale.experiments.grokking.matched.matched_test` reads)
    and, per measure, the arm-difference series and labels it builds from that table at ``thresholds``
    (``{measure: (ds, labs)}``, the input of :func:`~toposcale.experiments.grokking.matched.matched_pvalue`).
    """
    s_ = steps[steps > 0]
    frac = s_ / s_[-1]
    first_post = int(np.searchsorted(frac, POST_START_FRAC - 1e-12))
    idx = np.arange(s_.size)
    rows, arrays = [], {m: ([], []) for m in MEASURES}
    for s in range(n_seeds):
        k = int(np.clip(first_post + rng.integers(-1, 2), BAND + 1, s_.size - 1))
        acc = {"grok": np.where(idx >= k, 1.0, np.where(idx >= k - BAND, 0.5, 0.05)), "control": np.full(s_.size, 0.05)}
        vals = {}
        for arm in ("grok", "control"):
            post = (idx >= k) & (arm == "grok")
            vals[arm] = {"jump": ar1_noise(PHI, (s_.size,), rng) / np.sqrt(2) + JUMP * post,
                         "clock": np.log(s_), "noise": rng.normal(size=s_.size) / np.sqrt(2),
                         "ar": ar1_noise(0.7, (s_.size,), rng) / np.sqrt(2)}
            rows.append(pd.DataFrame({"seed": s, "arm": arm, "step": s_, "test_acc": acc[arm], **vals[arm]}))
        lab = np.where((acc["grok"] > thresholds["post_grok"]) & (acc["control"] < thresholds["pre_grok"]), 1,
                       np.where((acc["grok"] < thresholds["pre_grok"]) & (acc["control"] < thresholds["pre_grok"]), 0, -1))
        for m in MEASURES:
            d = vals["grok"][m] - vals["control"][m]
            arrays[m][0].append(d[lab >= 0])
            arrays[m][1].append(lab[lab >= 0])
    return pd.concat(rows, ignore_index=True), arrays


@register("grokking")
def check(design: Design, n_sim: int, seed: int) -> list[Characteristic]:
    """Power and FPR of the time-matched separation verdict at the design's grokking seeds and checkpoints
    (:func:`toposcale.experiments.grokking.matched.matched_pvalue` on each simulated study)."""
    cfg = design.extra.get("grokking", {})
    n_ckpt = design.grokking_checkpoints or 30
    steps = np.array(checkpoint_steps({"steps": int(cfg.get("steps", 1500)), "n_checkpoints": n_ckpt}))
    thresholds = {**ACCURACY, **cfg.get("accuracy", {})}
    det = {**DETECTION, **cfg.get("detection", {})}
    n_seeds = max(int(design.grokking_seeds), 1)
    alpha = float(det["fdr_alpha"])
    rng = np.random.default_rng(seed)
    passes = {m: 0 for m in MEASURES}
    for i in range(int(n_sim)):
        _, arrays = simulated_study(rng, steps, n_seeds, thresholds)
        for m, (ds, labs) in arrays.items():
            p = matched_pvalue(ds, labs, int(det["n_surrogates"]), seed + 1000 * i)["p_matched"]
            passes[m] += bool(np.isfinite(p) and p <= alpha)
    power, power_se = proportion(passes["jump"], n_sim)
    planted = (f"jump of {JUMP} sd of the arm difference at the grok step, AR(1) {PHI} (medians of the null_z "
               f"topological measures, default-setting run pair, seed 0)")
    where = f"{n_seeds} seeds x 2 arms, {steps.size - 1} checkpoints, B = {det['n_surrogates']}"
    out = []
    for m, name in CONTROLS.items():
        fpr, fpr_se = proportion(passes[m], n_sim)
        out.append(Characteristic(VERDICT, "grokking", f"{design.describe()}; grokking {where}", planted,
                                  power, power_se, name, fpr, fpr_se, int(n_sim),
                                  note=f"one measure at alpha {alpha:g} (BH over the table only adds strictness)"))
    return out
