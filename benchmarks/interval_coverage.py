"""Coverage of the 95% intervals behind the size verdicts and forecast comparisons, old vs new (issue 22 point 7).

    .venv/bin/python benchmarks/interval_coverage.py [--n-sim 2000] [--n-bootstrap 1000] [--seed 0]

At the default design (config.yaml: 7 sizes, target_params 6300..99000, 2 seeds; held-out sizes
included, as in topology vs size and leave-one-size-out forecasting), for several splits of the noise
into a size-level deviation (shared by the runs of a size) and run-level noise:

* size slope: ``log y = 0.2 log N + size deviation + run noise`` over 7 sizes x 2 seeds (one activation)
  and 7 x 4 (pooled: 2 activations x 2 seeds); old = the percentile cluster bootstrap over sizes of
  before (``bootstrap_fit`` on ``size_draws`` resamples, ``--n-bootstrap`` resamples), new = the size
  fit's interval of :func:`toposcale.analysis.scaling.size._fit` (jackknife-t over sizes, G - 2 dof);
* forecast comparison: mean of paired differences over 7 held-out sizes x 4 runs; old =
  ``bootstrap_ci(method="percentile", clusters=size)``, new = ``bootstrap_ci(method=CLUSTER_INTERVAL)``.

Coverage = share of simulated studies whose interval contains the true value; its Monte Carlo standard
error is ``sqrt(c (1 - c) / n_sim)`` (0.005 at 2000 studies).
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from toposcale.analysis.scaling.bootstrap import bootstrap_fit, size_draws  # noqa: E402
from toposcale.analysis.scaling.laws import fit_power_law  # noqa: E402
from toposcale.analysis.scaling.size import _fit  # noqa: E402
from toposcale.stats import CLUSTER_INTERVAL, bootstrap_ci  # noqa: E402

SIZES = np.array([6300, 14000, 25000, 39000, 56000, 76000, 99000.0])
GAMMA = 0.2
NOISE = ((0.1, 0.05), (0.1, 0.0), (0.05, 0.05), (0.02, 0.1))     # (size-level sd, run-level sd)


def slope_coverage(runs_per_size, tau, sigma, n_sim, n_boot, rng):
    lab = np.repeat(np.arange(len(SIZES)), runs_per_size)
    x = SIZES[lab]
    old = new = 0
    for i in range(n_sim):
        y = np.exp(GAMMA * np.log(x) + rng.normal(0, tau, len(SIZES))[lab] + rng.normal(0, sigma, len(x)))
        lo, hi = _fit(x, y, n_boot, i, lab)["ci"]
        new += lo <= GAMMA <= hi
        rows = size_draws({"fit": lab}, {"fit": 2}, n_boot, i)["rows"]["fit"]
        a_lo, a_hi = bootstrap_fit(fit_power_law(x, y), resamples=rows)["ci"]["alpha"]
        old += -a_hi <= GAMMA <= -a_lo
    return old / n_sim, new / n_sim


def mean_coverage(runs_per_size, tau, sigma, n_sim, n_boot, rng):
    lab = np.repeat(np.arange(len(SIZES)), runs_per_size)
    old = new = 0
    for i in range(n_sim):
        d = rng.normal(0, tau, len(SIZES))[lab] + rng.normal(0, sigma, len(lab))
        lo, hi = bootstrap_ci(d, clusters=lab, n_resamples=n_boot, seed=i)
        old += lo <= 0 <= hi
        lo, hi = bootstrap_ci(d, clusters=lab, method=CLUSTER_INTERVAL)
        new += lo <= 0 <= hi
    return old / n_sim, new / n_sim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-sim", type=int, default=2000)
    ap.add_argument("--n-bootstrap", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    mcse = np.sqrt(0.95 * 0.05 / args.n_sim)
    print(f"7 sizes ({', '.join(f'{s:g}' for s in SIZES)}); {args.n_sim} studies per row (MC se ~{mcse:.3f} "
          f"at 0.95); old = percentile cluster bootstrap ({args.n_bootstrap} resamples), new = jackknife-t over sizes")
    print(f"{'statistic':<34} {'size sd':>7} {'run sd':>6} {'old':>6} {'new':>6}")
    for name, fn, per in (("size slope, 1 activation (7x2)", slope_coverage, 2),
                          ("size slope, pooled (7x4)", slope_coverage, 4),
                          ("forecast mean difference (7x4)", mean_coverage, 4)):
        for tau, sigma in NOISE:
            old, new = fn(per, tau, sigma, args.n_sim, args.n_bootstrap, rng)
            print(f"{name:<34} {tau:>7.2f} {sigma:>6.2f} {old:>6.3f} {new:>6.3f}", flush=True)
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
