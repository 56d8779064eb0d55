"""False-positive rate of the rate-rebound test run two-sided (as on topology series) on smooth
topology-like shapes at the default study's schedule (26 log + 8 linear checkpoints, 32 at 4336 steps).

Shapes over u = log step rescaled to [0, 1], range 1, plus AR(1) noise of marginal sd ``sd`` (default 0.1):
``sigmoid`` 1 / (1 + exp(-(u - 0.5) / 0.08)), ``hump`` exp(-((u - 0.6) / 0.15)^2) (rise then fall),
``drift`` u, ``late_rise`` u^4. Settings: method rebound (or the second argument), two-sided, noise sup, window 2, allowance 0, the
schedule in the null, noise-scale bound 0.95; 3 batches of 200 curves, each with its own 199 null draws.

Usage::

    PYTHONPATH=workflow .venv/bin/python benchmarks/changepoint_topology_fpr.py [sd [method]]   (method: rebound, or ramp+rebound)
"""
import sys

import numpy as np

from toposcale.analysis.change_test import change_points
from toposcale.analysis.lr_schedule import anneal_covariate
from toposcale.operating.curves import ar1, study_schedules

TOTAL = 4336
METHOD = sys.argv[2] if len(sys.argv) > 2 else "rebound"


def main(sd: float = 0.1) -> None:
    step = study_schedules(TOTAL)["study"]
    x = np.log(step)
    u = (x - x[0]) / (x[-1] - x[0])
    anneal = anneal_covariate(step, TOTAL)
    shapes = {"sigmoid": 1 / (1 + np.exp(-(u - 0.5) / 0.08)), "hump": np.exp(-((u - 0.6) / 0.15) ** 2),
              "drift": u, "late_rise": u ** 4}
    print("| shape | phi | two-sided FPR | series |\n|---|---|---|---|")
    for name, f in shapes.items():
        for phi in (0.0, 0.5, 0.9):
            rej = []
            for b in range(3):
                rng = np.random.default_rng([b, int(phi * 10), len(name)])
                Y = f[None] + ar1(200, len(x), phi, sd, rng)
                res = change_points(Y, x, METHOD, two_sided=True, n_null=199, seed=b, noise="sup", window=2,
                                    allowance=0.0, anneal=anneal, sigma_quantile=0.95,
                                    anneal_max_share=None)    # topology series: unbounded (anneal_max_share)
                rej += [bool(r["change_points"]) for r in res]
            p = float(np.mean(rej))
            print(f"| {name} | {phi} | {p:.3f} +- {np.sqrt(p * (1 - p) / len(rej)):.3f} | {len(rej)} |", flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.1)
