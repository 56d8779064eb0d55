"""Operating characteristics of the grokking positive control (:func:`toposcale.experiments.grokking.positive_control`
and :func:`~toposcale.experiments.grokking.control.control_verdict`).

Each simulated study has the design's grokking seeds, each with a generalised weight-decay run (final test
accuracy 1.0) and a memorised no-weight-decay control (0.05), so every run is decided. A run's final
Fourier plane is ``p`` = 59 points evenly spaced on the unit circle (the grokked embedding's points at
angles 2 pi k f / p) plus isotropic Gaussian noise of sd ``sigma``; its ``plane_ratio`` and
``plane_loop_size`` come from the project's own homology (:func:`toposcale.topology.homology.rips_persistence`,
:func:`toposcale.experiments.grokking.loops.dominance_ratio`, :func:`~toposcale.experiments.grokking.loops.loop_size`).
Noise levels from the observed planes (README, default setting and the held-out settings): grokked
circles have loop sizes 1.28-1.57 (``SIGMA_CIRCLE`` = 0.05 gives a median of about 1.4), memorised and
partly generalised controls 0.40-0.68 (``SIGMA_NOISE`` = 0.25 gives a median of about 0.6). The ``note``
column also gives the power at the edge of the observed values (the weakest grokked circle, 1.28:
sd ``EDGE_CIRCLE`` = 0.08; the roundest control, 0.68: sd ``EDGE_NOISE`` = 0.22), where the 0.75 loop
threshold is close to both.

* Planted (power): grokked planes at ``SIGMA_CIRCLE``, controls at ``SIGMA_NOISE``: the control must pass.
* Studies draw their planes with replacement from :data:`POOL` simulated planes per noise level (the
  Monte Carlo error of the rates is then that of ``n_sim`` studies plus a pool term of the same order).
* Negative controls (it must not pass): no circle anywhere (every plane at ``SIGMA_NOISE``: a study whose
  grokked runs lost the circle), and circles everywhere (every plane at ``SIGMA_CIRCLE``: controls that
  hold one too).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toposcale.experiments.grokking.control import control_verdict, positive_control
from toposcale.experiments.grokking.loops import dominance_ratio, loop_size
from toposcale.operating.characteristics import Characteristic, Design, proportion, register
from toposcale.topology.homology import rips_persistence

VERDICT = "grokking positive control"
P = 59
SIGMA_CIRCLE, SIGMA_NOISE = 0.05, 0.25
EDGE_CIRCLE, EDGE_NOISE = 0.08, 0.22


def plane(sigma: float, rng: np.random.Generator, p: int = P) -> tuple[float, float]:
    """``(plane_ratio, plane_loop_size)`` of ``p`` evenly spaced unit-circle points plus N(0, sigma^2) noise."""
    ang = 2 * np.pi * np.arange(p) / p
    X = np.c_[np.cos(ang), np.sin(ang)] + sigma * rng.standard_normal((p, 2))
    h1 = rips_persistence(X).h1
    return dominance_ratio(h1), loop_size(X, h1)


#: Planes simulated per noise level; studies draw their planes from this pool (homology of a 59-point
#: plane costs milliseconds, and 4 levels x 3 scenarios x n_sim x 2 x seeds planes would cost minutes).
POOL = 200


def _pools(rng, sigmas) -> dict:
    return {s: [plane(s, rng) for _ in range(POOL)] for s in sorted(set(sigmas))}


def _study(n_seeds: int, sigma_grok: float, sigma_control: float, rng, pools) -> bool:
    rows = []
    for seed in range(n_seeds):
        for arm, acc, sigma in (("grok", 1.0, sigma_grok), ("control", 0.05, sigma_control)):
            ratio, loop = pools[sigma][rng.integers(POOL)]
            rows.append(dict(seed=seed, arm=arm, step=1, test_acc=acc, fourier_freq=1, fourier_share=np.nan,
                             plane_ratio=ratio, plane_loop_size=loop))
    return control_verdict(positive_control(pd.DataFrame(rows))).startswith("passes")


@register("grokking_control")
def check(design: Design, n_sim: int, seed: int) -> list[Characteristic]:
    """Pass rates of the positive control at the design's grokking seeds (module docstring)."""
    n_seeds = design.grokking_seeds
    rows = []
    if n_seeds < 1:
        nan = float("nan")
        return [Characteristic(VERDICT, "grokking_control", design.describe(), "no grokking runs", nan, nan,
                               "-", nan, nan, 0, "grokking disabled")]
    rng = np.random.default_rng([seed, 7])
    pools = _pools(rng, (SIGMA_CIRCLE, SIGMA_NOISE, EDGE_CIRCLE, EDGE_NOISE))
    hits = sum(_study(n_seeds, SIGMA_CIRCLE, SIGMA_NOISE, rng, pools) for _ in range(n_sim))
    power, power_se = proportion(hits, n_sim)
    planted = (f"grokked planes = unit circle + noise sd {SIGMA_CIRCLE} (loop ~1.4; observed 1.28-1.57), controls "
               f"sd {SIGMA_NOISE} (loop ~0.6; observed 0.40-0.68); {n_seeds} seeds")
    edge = sum(_study(n_seeds, EDGE_CIRCLE, EDGE_NOISE, rng, pools) for _ in range(n_sim))
    note = (f"power {proportion(edge, n_sim)[0]:.2f} at the edge of the observed values (weakest circle loop 1.28, "
            f"roundest control 0.68)")
    for name, sg, sc in (("no circle in any run", SIGMA_NOISE, SIGMA_NOISE),
                         ("circles in the controls too", SIGMA_CIRCLE, SIGMA_CIRCLE)):
        fakes = sum(_study(n_seeds, sg, sc, rng, pools) for _ in range(n_sim))
        fpr, fpr_se = proportion(fakes, n_sim)
        rows.append(Characteristic(VERDICT, "grokking_control", design.describe(), planted, power, power_se, name,
                                   fpr, fpr_se, n_sim, note))
    return rows
