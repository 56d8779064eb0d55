"""The grokking separation verdict before and after issue 22, on the same simulated 3-seed studies.

    .venv/bin/python benchmarks/grokking_separation_before_after.py [--n-sim 200] [--n-boot 300]

Before (cf6576c): 'separates' = the seed-cluster bootstrap interval of the pooled AUC (both arms, all
checkpoints) excludes 0.5 and every seed's AUC lies on the same side of 0.5. After: the time-matched
test (toposcale.experiments.grokking.matched). Studies: toposcale.operating.grokking.simulated_study at
the default config's design (3 seeds x 2 arms, 30 log-spaced checkpoints); prints the pass rate of each
measure (planted jump, clock log(step), white noise, AR(1) noise) under both definitions.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from toposcale.config import validate_config  # noqa: E402
from toposcale.experiments.grokking import (ACCURACY, DETECTION, checkpoint_steps, matched_test,  # noqa: E402
                                            per_seed_auc, seed_bootstrap_auc)
from toposcale.operating.grokking import MEASURES, simulated_study  # noqa: E402


def old_separates(df, m, seed, n_boot):
    """3 seeds give at most 10 distinct resamples, so a few hundred bootstrap draws fix the interval."""
    a, lo, hi, *_ = seed_bootstrap_auc(df, m, n_boot=n_boot, seed=seed)
    per_seed = per_seed_auc(df, m)
    consistent = per_seed.size > 0 and (bool((per_seed > 0.5).all()) or bool((per_seed < 0.5).all()))
    return bool(np.isfinite(lo) and (lo > 0.5 or hi < 0.5) and consistent)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-sim", type=int, default=200)
    ap.add_argument("--n-boot", type=int, default=300)
    args = ap.parse_args()
    g = validate_config({})["grokking"]
    steps = np.array(checkpoint_steps(g))
    rng = np.random.default_rng(0)
    before = {m: 0 for m in MEASURES}
    after = {m: 0 for m in MEASURES}
    for i in range(args.n_sim):
        df, _ = simulated_study(rng, steps, len(g["seeds"]), ACCURACY)
        for m in MEASURES:
            before[m] += old_separates(df, m, i, args.n_boot)
            p = matched_test(df, m, ACCURACY, DETECTION["n_surrogates"], seed=i)["p_matched"]
            after[m] += bool(p <= DETECTION["fdr_alpha"])
    print(f"{args.n_sim} simulated studies, {len(g['seeds'])} seeds x 2 arms, {steps.size - 1} checkpoints")
    print("measure  before(pooled AUC CI + consistent)  after(time-matched)")
    for m in MEASURES:
        print(f"{m:8s} {before[m] / args.n_sim:.3f}  {after[m] / args.n_sim:.3f}")


if __name__ == "__main__":
    main()
