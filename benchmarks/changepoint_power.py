"""Operating characteristics of the change-point test (toposcale.analysis.changepoint), full size.

For each density (the default config's 26 log-spaced checkpoints, ``log``; the default study's schedule,
the same plus 8 linearly spaced ones, ``study``, 32; a denser one with 15 linear, ``log+linear``, 39; a dense curve of 2,168 points, every second step of a 4,336-step run,
binned into 60 log-step bins, ``dense``) and each AR(1) coefficient phi in {0, 0.5, 0.9} (marginal noise
sd 0.02 nats), it simulates ``--draws`` curves of each kind (toposcale.operating.curves.simulate):

* ``power_decay``: ``1.6 + 4 t^-0.35`` (FPR: the share with any change point);
* ``cosine``: a loss smooth in the cumulative learning rate of a warmup + cosine schedule, with a 0.135-nat
  learning-rate-proportional term whose decay is the late speed-up (FPR);
* ``plateau_drop``: a 5-sd drop whose 10%-90% part spans 3 checkpoints (power: the share with a change
  point; located: the share with one within one checkpoint of the drop's midpoint);
* ``staircase``: ln 256 -> 3.05 plateau -> 2.3 nats, the second drop over 4-6 checkpoints mid-run (power,
  located: at its midpoint), the default study's shape.

``--method rebound`` measures the rate-rebound test instead of the ramp scan (checkpoint densities only;
``dense`` is skipped for it).

It also prints the FPR at phi = 0.9 without the bias correction of phi (``--no-correction`` rows), to show
what the correction buys. Rates carry their Monte Carlo standard error sqrt(p (1 - p) / draws).

Usage::

    PYTHONPATH=workflow .venv/bin/python benchmarks/changepoint_power.py [--draws 1000] [--n-null 999] [--seed 0]
        [--method ramp|rebound|ramp+rebound] [--densities log,study,log+linear,dense] [--window 3] [--allowance 0.2]
        [--noise spline|sup] [--kinds power_decay,cosine,plateau_drop,staircase] [--anneal]
        [--sigma-quantile 0.95]   (rebound settings) [--ramp-after-warmup]   (the ramp scan skips the warmup)
"""
import argparse
import time

import numpy as np

from toposcale.analysis.change_test import METHODS, change_points
from toposcale.analysis.changepoint import change_points_batch
from toposcale.analysis.changepoint_dense import change_points_dense
from toposcale.analysis.lr_schedule import anneal_covariate, warmup_points
from toposcale.operating.curves import KINDS, rejection_rates, simulate, study_schedules

TOTAL = 4336


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--n-null", type=int, default=999)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--densities", default="log,study,log+linear,dense")
    ap.add_argument("--method", choices=METHODS, default="ramp")
    ap.add_argument("--window", type=int, default=3)
    ap.add_argument("--allowance", type=float, default=0.2)
    ap.add_argument("--noise", choices=("spline", "sup"), default="spline")
    ap.add_argument("--kinds", default="power_decay,cosine,plateau_drop,staircase")
    ap.add_argument("--anneal", action="store_true", help="the schedule's lr decay in the null (both tests)")
    ap.add_argument("--sigma-quantile", type=float, default=0.95,
                    help="rebound: also null draws at this upper confidence quantile of the noise sd (0 off)")
    ap.add_argument("--ramp-after-warmup", action="store_true",
                    help="the ramp scan skips ramps that rise in the run's warmup (transitions.ramp_after_warmup)")
    a = ap.parse_args()
    sched = dict(study_schedules(TOTAL), dense=np.arange(2.0, TOTAL + 1, 2.0))
    t0 = time.time()
    print("| density | points | phi | curve | rate (FPR or power) | located within 1 | draws |")
    print("|---|---|---|---|---|---|---|")
    for dens in a.densities.split(","):
        if a.method != "ramp" and dens == "dense":     # the dense binning runs the ramp scan
            continue
        step = sched[dens]
        for phi in (0.0, 0.5, 0.9):
            for kind in a.kinds.split(","):
                rng = np.random.default_rng([a.seed, int(phi * 10), (KINDS + ("staircase",)).index(kind), len(step)])
                Y, centres = simulate(kind, step, phi, a.draws, rng, total=TOTAL)
                if dens == "dense":
                    res, xb, _ = change_points_dense(Y, step, n_null=a.n_null, seed=a.seed)
                    if centres is not None:       # the planted drop in bin units: locate by bin index
                        centres = np.interp(np.log(step[np.round(centres).astype(int)]), xb, np.arange(len(xb)))
                    n = len(xb)
                else:   # batches of <= 200 curves, each with its own null draws (a shared null adds variance)
                    res = []
                    for b in range(0, a.draws, 200):
                        res += change_points(Y[b:b + 200], np.log(step), a.method, n_null=a.n_null,
                                             seed=a.seed + b // 200, window=a.window, allowance=a.allowance,
                                             noise=a.noise, anneal=anneal_covariate(step, TOTAL) if a.anneal else None,
                                             sigma_quantile=a.sigma_quantile or None,
                                             warmup_points=warmup_points(step, TOTAL) if a.ramp_after_warmup else 0)
                    n = len(step)
                r = rejection_rates(res, centres)
                loc = f"{r['located'][0]:.3f} +- {r['located'][1]:.3f}" if "located" in r else ""
                print(f"| {dens} | {n} | {phi} | {kind} | {r['reject'][0]:.3f} +- {r['reject'][1]:.3f} | {loc} "
                      f"| {a.draws} |", flush=True)
            if phi == 0.9 and dens != "dense" and a.method == "ramp":
                for kind in ("power_decay", "cosine"):
                    rng = np.random.default_rng([a.seed, 9, (KINDS + ("staircase",)).index(kind), len(step)])
                    Y, _ = simulate(kind, step, phi, a.draws, rng, total=TOTAL)
                    r = rejection_rates(change_points_batch(Y, np.log(step), n_null=a.n_null, seed=a.seed,
                                                            correct_phi=False,
                                                            anneal=anneal_covariate(step, TOTAL) if a.anneal else None))
                    print(f"| {dens} | {len(step)} | {phi} | {kind} (--no-correction) | {r['reject'][0]:.3f} +- "
                          f"{r['reject'][1]:.3f} | | {a.draws} |", flush=True)
    print(f"\n{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
