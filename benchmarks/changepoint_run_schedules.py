"""False-positive rate of the change-point test at each run's own checkpoint schedule of a finished study.

The calibration benchmark (``benchmarks/changepoint_power.py``) uses one schedule at 4,336 steps; a study's
runs differ in length (the default study: 62 to 968 steps), and the shorter a run, the closer its 25 log +
8 linear checkpoints come to linear spacing, where the cosine schedule's late speed-up takes a larger share
of the points. For each distinct ``total_steps`` of ``{results}/runs/*/run.json`` this draws ``--draws``
null curves at that run's checkpoints (step > 0): the smooth power decay ``1.6 + 4 t^-0.35`` and the warmup +
cosine loss shape of a run of that length (:func:`toposcale.operating.curves.cosine_schedule_loss`), plus
AR(1) noise (``--phi``, marginal sd ``--sd``), and prints the share of series with a change point for each
``--methods`` (the schema's transitions settings otherwise; one-sided, as for the loss; both tests get
the run's lr decay, ``transitions.anneal``). ``--flat-start S0`` adds a third null shape: the same cosine law
in ``S + S0`` (``S`` the cumulative learning rate, ``cosine_schedule_loss(offset=S0)``), which starts flat at
ln 256 while the learning rate warms up, as the study's runs do, instead of falling 1-2 nats in the first
steps, and the share of its series with a change point after the run's warmup (where
``transitions.csv``'s ``transition_in_warmup`` is False). Each cell's curves are tested in batches of 100 with their own
null draws (one shared set moves every series' p-value together).

Usage::

    PYTHONPATH=workflow .venv/bin/python benchmarks/changepoint_run_schedules.py --results results
        [--methods ramp,ramp+rebound] [--phi 0.9] [--sd 0.02] [--draws 400] [--flat-start 1]
        [--max-change-points 3] [--no-ramp-after-warmup]
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from toposcale.analysis.change_test import change_points
from toposcale.analysis.lr_schedule import anneal_covariate, warmup_points, warmup_steps
from toposcale.analysis.transitions import DEFAULT_SETTINGS as ST
from toposcale.operating.curves import ar1, cosine_schedule_loss, power_decay


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--methods", default="ramp,ramp+rebound")
    ap.add_argument("--phi", type=float, default=0.9)
    ap.add_argument("--sd", type=float, default=0.02)
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--n-null", type=int, default=199)
    ap.add_argument("--max-change-points", type=int, default=1,
                    help="sequential change points per series (the study: transitions.max_change_points)")
    ap.add_argument("--flat-start", type=float, default=0.0,
                    help="also the cosine shape with this offset of the cumulative lr (0: off)")
    ap.add_argument("--ramp-after-warmup", action=argparse.BooleanOptionalAction,
                    default=ST["ramp_after_warmup"],
                    help="the ramp scan skips ramps that rise in the warmup (transitions.ramp_after_warmup)")
    a = ap.parse_args()
    runs = {}
    for p in sorted(Path(a.results).glob("runs/*/run.json")):
        info = json.loads(p.read_text())
        runs.setdefault(int(info["total_steps"]), (p.parent.name, info["checkpoint_steps"]))
    if not runs:
        raise SystemExit(f"no runs/*/run.json under {a.results}")
    methods = a.methods.split(",")
    t0 = time.time()
    print(f"FPR at phi {a.phi}, noise sd {a.sd}, {a.draws} curves per cell (MC se <= "
          f"{np.sqrt(0.25 / a.draws):.3f}), {a.n_null} null draws\n")
    shapes = ("decay", "cosine") + (("flat start", "flat start after warmup") if a.flat_start > 0 else ())
    print("| run (first of its length) | steps | checkpoints | " + " | ".join(
        f"{c} {m}" for c in shapes for m in methods) + " |")
    print("|---|---|---|" + "---|" * (len(shapes) * len(methods)))
    kw = dict(significance=ST["significance"], smooth_df=ST["smooth_df"], null_df=ST["null_df"],
              widths=tuple(ST["ramp_widths"]), min_plateau=ST["min_plateau"], max_change_points=a.max_change_points,
              window=ST["rebound_window"], allowance=ST["rebound_allowance"], noise=ST["rebound_noise"],
              sigma_quantile=ST["rebound_sigma_quantile"] or None)
    for total, (name, steps) in sorted(runs.items()):
        step = np.array([s for s in steps if s > 0], dtype=float)
        anneal = anneal_covariate(step, total) if ST["anneal"] else None
        wp = warmup_points(step, total) if a.ramp_after_warmup else 0
        cells = []
        curves = [power_decay(step), cosine_schedule_loss(step, total)]
        if a.flat_start > 0:
            curves.append(cosine_schedule_loss(step, total, offset=a.flat_start))
        late = []                                   # flat start: the share with a change point after the warmup
        for j, curve in enumerate(curves):
            Y = curve[None] + ar1(a.draws, len(step), a.phi, a.sd, np.random.default_rng([1, total]))
            for m in methods:
                res = [r for b in range(0, a.draws, 100)
                       for r in change_points(Y[b:b + 100], np.log(step), m, n_null=a.n_null, seed=b, anneal=anneal,
                                              warmup_points=wp, **kw)]
                cells.append(f"{np.mean([bool(r['change_points']) for r in res]):.3f}")
                if j == 2:
                    wu = warmup_steps(total)
                    late.append(f"{np.mean([any(step[c] > wu for c in r['change_points']) for r in res]):.3f}")
        cells += late
        print(f"| {name} | {total} | {len(step)} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
