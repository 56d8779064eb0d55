"""Operating characteristics of every verdict at a config's design, full Monte Carlo size.

    .venv/bin/python benchmarks/operating_characteristics.py [--configfile config.yaml] [--n-sim 1000]
        [--family NAME ...] [--uncapped]

Prints one row per (verdict, negative control): the planted effect, power and its Monte Carlo error,
the control's false-positive rate and its error (toposcale.operating). The README's
operating-characteristics table is this script's output on config.yaml.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from toposcale.operating import Design, run_checks  # noqa: E402
from toposcale.plan.decidability import load_study_config  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configfile", nargs="*", default=[])
    ap.add_argument("--n-sim", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--family", nargs="*", default=None)
    ap.add_argument("--uncapped", action="store_true",
                    help="run every family at --n-sim studies (the scaling family caps its studies at "
                         "toposcale.operating.scaling.MAX_STUDIES otherwise: each study refits and bootstraps laws)")
    args = ap.parse_args()
    if args.uncapped:
        import toposcale.operating.scaling as scaling_checks

        scaling_checks.MAX_STUDIES = max(scaling_checks.MAX_STUDIES, args.n_sim)
    root = Path(__file__).resolve().parents[1]
    cfg = load_study_config(args.configfile, base=str(root / "config.yaml"))
    design = Design.from_config(cfg)
    t0 = time.perf_counter()
    table = run_checks(design, n_sim=args.n_sim, seed=args.seed, families=args.family,
                       progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"design: {design.describe()}; {args.n_sim} simulated studies per row (column n_sim where fewer); "
          f"{time.perf_counter() - t0:.0f} s")
    cols = ["verdict", "planted", "power", "power_mcse", "control", "fpr", "fpr_mcse", "n_sim", "decidable"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
