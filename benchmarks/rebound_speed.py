"""Speed of the rate-rebound test against an earlier commit's, side by side in one process.

The test (:func:`toposcale.analysis.rebound.rebound_batch`) spends its time in the null draws. Since issue 21's
session 14 it computes the draws of every series of a call as one array (blocks of 2^21 values), its valley
statistic in cache-sized blocks of rows, and it builds the unimodal fit's design matrices once per run instead
of once per series. This script loads ``workflow/toposcale/analysis/rebound.py`` of ``--baseline`` (default
ec5d5d6, the commit before) from git as a module, runs both on the same series with the study's settings
(``transitions`` defaults: noise 'sup', window 2, allowance 0, the schedule in the null, the noise-scale bound
0.95, two-sided, up to 3 change points), checks that every p-value, statistic, ``phi``, ``sigma`` and change
point is the same, and prints the CPU times and their ratio.

Series: ``--series`` rows with 199 null draws (the exploratory series of one default-study run: ~285) and
``--primary`` rows with ``--primary-null`` draws (its primary-family series: 9 with 5,041), at the longest
schedule of the default study (26 log-spaced + 8 linear checkpoints of a 968-step run), each a smooth decay
``1.6 + 4 t^-0.35`` plus AR(1) noise (phi 0.5, sd 0.02), a 0.3 drop at the middle checkpoint in every second
row. Times are the minimum over ``--repeats`` of the process's CPU time, BLAS on one thread; the two
implementations alternate.

Usage (from a git checkout)::

    PYTHONPATH=workflow .venv/bin/python benchmarks/rebound_speed.py [--baseline REV] [--repeats 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from toposcale.analysis.ar1 import ar1_noise  # noqa: E402
from toposcale.analysis.lr_schedule import anneal_covariate  # noqa: E402
from toposcale.analysis import rebound  # noqa: E402
from toposcale.analysis.transitions import DEFAULT_SETTINGS  # noqa: E402
from toposcale.plan.study import checkpoint_steps  # noqa: E402

TOTAL = 968
ROOT = Path(__file__).resolve().parents[1]
KEYS = ("p_value", "statistic", "phi", "sigma", "change_points", "change_point_p_values")


def series(m: int, step: np.ndarray, seed: int) -> np.ndarray:
    """``m`` smooth decays with AR(1) noise, a 0.3 drop at the middle checkpoint in every second row."""
    rng = np.random.default_rng(seed)
    Y = 1.6 + 4.0 * step ** -0.35 + 0.02 * ar1_noise(0.5, (m, len(step)), rng)
    Y[::2, len(step) // 2:] -= 0.3
    return Y


def baseline_module(rev: str) -> types.ModuleType:
    """``toposcale.analysis.rebound`` as it was at commit ``rev`` (its imports resolve to today's package)."""
    try:
        src = subprocess.run(["git", "show", f"{rev}:workflow/toposcale/analysis/rebound.py"], cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"cannot read rebound.py at {rev} with git ({e}); run from a git checkout or pass "
                         f"--baseline with a commit that has it")
    mod = types.ModuleType(f"rebound_{rev}")
    exec(compile(src, f"{rev}:rebound.py", "exec"), mod.__dict__)
    return mod


def timed(fn, Y, x, n_null: int, anneal):
    st = DEFAULT_SETTINGS
    t = time.process_time()
    out = fn(Y, x, n_null=n_null, window=st["rebound_window"], allowance=st["rebound_allowance"],
             noise=st["rebound_noise"], sigma_quantile=st["rebound_sigma_quantile"] or None, anneal=anneal,
             two_sided=True, max_change_points=st["max_change_points"], seed=0,
             anneal_max_share=None)      # the baseline has no bound on the schedule term (issue 21, session 15)
    return time.process_time() - t, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="ec5d5d6", help="commit whose rebound.py is the baseline")
    ap.add_argument("--series", type=int, default=285, help="exploratory series of one run (199 null draws)")
    ap.add_argument("--primary", type=int, default=9, help="primary-family series of one run")
    ap.add_argument("--primary-null", type=int, default=5041)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    old = baseline_module(a.baseline)
    step = np.asarray(checkpoint_steps(TOTAL, 26, 8)[1:], dtype=float)
    x, anneal = np.log(step), anneal_covariate(step, TOTAL)
    print(f"{len(step)} checkpoints after step 0 (26 log + 8 linear of {TOTAL} steps); CPU seconds, min of "
          f"{a.repeats}\n")
    print(f"| series | null draws | {a.baseline} (s) | this checkout (s) | speed-up | identical |")
    print("|---|---|---|---|---|---|")
    for m, b, seed in ((a.series, int(DEFAULT_SETTINGS["n_null"]), 1), (a.primary, a.primary_null, 2)):
        Y = series(m, step, seed)
        t_old = t_new = np.inf
        for _ in range(a.repeats):
            t, r_old = timed(old.rebound_batch, Y, x, b, anneal)
            t_old = min(t_old, t)
            t, r_new = timed(rebound.rebound_batch, Y, x, b, anneal)
            t_new = min(t_new, t)
        same = all(np.array_equal(np.asarray(u[k], dtype=float), np.asarray(v[k], dtype=float), equal_nan=True)
                   for u, v in zip(r_old, r_new) for k in KEYS)
        print(f"| {m} | {b} | {t_old:.2f} | {t_new:.2f} | {t_old / t_new:.2f}x | {same} |")


if __name__ == "__main__":
    main()
