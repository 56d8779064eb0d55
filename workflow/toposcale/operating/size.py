"""Operating characteristics of the topology-vs-size verdicts (:func:`toposcale.analysis.scaling.topology_vs_size`).

Each simulated study is the default design's pooled size fit: every size of the design (fitted and held
out) x every activation x every seed, one run each, a run's value being the final-checkpoint metric
(one layer). Many studies go through **one** call of the real
:func:`~toposcale.analysis.scaling.topology_vs_size`, each study as its own ``source`` (the function fits
each source separately), and the verdict of its pooled ('all') row is read off.

Model, in logs: ``log value = gamma * log N + u_size + e_run`` and ``log null_mean = gamma_null * log N +
e'_run``, so ``gamma_adj = gamma - gamma_null``. Observed values (README, default study, pooled weight
fits over 7 sizes x 4 runs): weight H1 total persistence / scale gamma 0.152, gamma_null 0.339, gamma_adj
-0.187 [-0.277, -0.142]; weight H0 gamma_adj -0.104 [-0.178, -0.070]. Noise from those intervals: a
half-width of 0.054-0.068 on 7 sizes is a slope standard error of ~0.03, and with ``sum (log N - mean)**2 =
5.76`` over the default sizes that is a standard deviation of ~0.075 of a size's mean log value about the
line; planted as a size-level deviation (sd :data:`SIZE_SD` = 0.06, shared by the runs of a size) plus
run noise (sd :data:`RUN_SD` = 0.08, i.e. 0.04 on a mean of 4 runs), and run noise of the null mean
(:data:`NULL_SD` = 0.02: K draws average the null).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toposcale.analysis.scaling.size import BEYOND, EXPLAINED, excludes_zero, topology_vs_size
from toposcale.operating.characteristics import Characteristic, Design, proportion, register

#: Verdict keys (``verdict`` column; summary.md's :func:`toposcale.report.operating.power_note` key).
VERDICT_BEYOND = f"topology vs size: {BEYOND}"
VERDICT_TREND = "topology vs size: raw size trend (gamma interval excludes 0)"

#: Planted exponents (observed, module doc): weight H1 / scale, pooled over activations.
GAMMA_RAW, GAMMA_NULL = 0.152, 0.339
#: Noise (module doc): size-level and run-level sd of log value, run-level sd of log null mean.
SIZE_SD, RUN_SD, NULL_SD = 0.06, 0.08, 0.02

METRIC = "h1_total_persistence_norm"


def _studies(design: Design, n_sim: int, rng, gamma: float, gamma_null: float):
    """Metrics rows and the runs table of ``n_sim`` studies, study ``i`` as source ``s{i}``."""
    sizes = np.array(sorted(design.sizes + design.holdout_sizes), float)
    n_act, n_seed = max(len(design.activations), 1), max(design.seeds, 1)
    per = n_act * n_seed
    lab = np.repeat(np.arange(len(sizes)), per)
    x = sizes[lab]
    runs = [f"r{j}" for j in range(len(x))]
    logx = np.log(x)
    u = rng.normal(0, SIZE_SD, (n_sim, len(sizes)))[:, lab]
    value = np.exp(gamma * logx + u + rng.normal(0, RUN_SD, (n_sim, len(x))))
    null = np.exp(gamma_null * logx + rng.normal(0, NULL_SD, (n_sim, len(x))))
    n = n_sim * len(x)
    metrics = pd.DataFrame({"run": np.tile(runs, n_sim), "step": 100, "source": np.repeat([f"s{i}" for i in range(n_sim)], len(x)),
                            "layer": "block00", "degenerate": False, METRIC: value.ravel(),
                            f"{METRIC}_null_mean": null.ravel(), f"{METRIC}_null_sd": np.full(n, 0.01)})
    runs_df = pd.DataFrame({"run": runs, "activation": "pooled", "N": x, "target": sizes[lab]})
    return metrics, runs_df


def _verdicts(design, n_sim, rng, gamma, gamma_null) -> pd.DataFrame:
    metrics, runs_df = _studies(design, n_sim, rng, gamma, gamma_null)
    rows = topology_vs_size(metrics, runs_df)
    return pd.DataFrame([r for r in rows if r["group"] == "all" and r["metric"] == METRIC])


@register("size")
def size_checks(design: Design, n_sim: int, seed: int) -> list[Characteristic]:
    """Power and FPR of "topology beyond geometry" and of the raw size trend (module doc)."""
    rng = np.random.default_rng(seed)
    planted = _verdicts(design, n_sim, rng, GAMMA_RAW, GAMMA_NULL)
    none = _verdicts(design, n_sim, rng, 0.0, 0.0)
    shared = _verdicts(design, n_sim, rng, GAMMA_NULL, GAMMA_NULL)
    what = (f"gamma {GAMMA_RAW}, gamma_null {GAMMA_NULL}: gamma_adj {GAMMA_RAW - GAMMA_NULL:+.3f} (observed, weight "
            f"H1/scale, pooled); noise sd size {SIZE_SD}, run {RUN_SD}, null {NULL_SD} (from the observed intervals)")
    design_s = design.describe()
    note = ("pooled fit over every size x activation x seed; jackknife-t interval over sizes "
            "(deterministic, no resamples)")
    beyond = [int((t["verdict"] == BEYOND).sum()) for t in (planted, none, shared)]
    trend = [int(sum(excludes_zero(ci) for ci in t["gamma_ci"])) for t in (planted, none)]
    p, pse = proportion(beyond[0], len(planted))
    out = []
    for k, control in ((beyond[1], "no size trend (gamma = gamma_null = 0)"),
                       (beyond[2], f"trend shared by metric and null (gamma = gamma_null = {GAMMA_NULL}: "
                                   f"{EXPLAINED})")):
        f, fse = proportion(k, n_sim)
        out.append(Characteristic(VERDICT_BEYOND, "size", design_s, what, p, pse, control, f, fse, n_sim, note))
    p, pse = proportion(trend[0], len(planted))
    f, fse = proportion(trend[1], n_sim)
    out.append(Characteristic(VERDICT_TREND, "size", design_s, f"raw gamma {GAMMA_RAW} (observed, weight H1/scale, "
                              f"the smallest observed raw weight gamma); noise as above", p, pse,
                              "no size trend (gamma = 0)", f, fse, n_sim, note))
    return out
