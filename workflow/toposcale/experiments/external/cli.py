"""Command line of ``python -m toposcale.experiments.external``: ``make-example`` and ``analyse`` (:func:`main`)."""

from __future__ import annotations

import argparse

from toposcale.experiments.external.analyse import analyse_log, claims_summary, output_paths, write_analysis
from toposcale.experiments.external.ingest import load_log
from toposcale.experiments.external.schema import SCHEMA_MAPPINGS
from toposcale.experiments.external.synthetic import write_demo_log


def main(argv=None) -> int:
    """``python -m toposcale.experiments.external make-example OUT.csv [--null] [--seed S]`` writes a synthetic log;
    ``python -m toposcale.experiments.external analyse LOG.csv [--name N] [--out DIR]`` analyses one and prints
    the verdicts."""
    ap = argparse.ArgumentParser(prog="python -m toposcale.experiments.external", description=main.__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make-example", help="write a synthetic beta-trajectory log with planted effects")
    mk.add_argument("out")
    mk.add_argument("--null", action="store_true", help="no ladder, no spike, random final beta")
    mk.add_argument("--seed", type=int, default=0)
    an = sub.add_parser("analyse", help="analyse one log and write external_{name}*.csv")
    an.add_argument("log")
    an.add_argument("--name", default=None)
    an.add_argument("--schema", default="beta_trajectory", choices=sorted(SCHEMA_MAPPINGS))
    an.add_argument("--out", default="results/analysis")
    an.add_argument("--n-bootstrap", type=int, default=200)
    an.add_argument("--n-permutations", type=int, default=999)
    args = ap.parse_args(argv)
    if args.cmd == "make-example":
        df = write_demo_log(args.out, args.seed, null=args.null)
        print(f"wrote {len(df)} rows ({df['run_id'].nunique()} runs) to {args.out}")
        return 0
    log = load_log(args.log, schema=args.schema, name=args.name, warn=False)
    for m in log.messages:
        print("warning:", m)
    res = analyse_log(log, n_bootstrap=args.n_bootstrap, n_permutations=args.n_permutations)
    write_analysis(res, output_paths(args.out, log.name))
    print(claims_summary(res.claims))
    return 0
