"""Persistence-stage wall time vs the homology compute it contains, per job granularity.

For each granularity (``run``, ``checkpoint``, ``layer``) this copies an existing study's clouds (and the
files upstream of them, with their timestamps) into a scratch results folder, runs only the persistence
stage through Snakemake (target ``diagrams_all``) with ``--cores N``, and compares

    wall time of the stage  vs  (sum of the in-process homology seconds stored in the diagrams) / N

The stage's wall time excludes Snakemake's DAG building (measured by a dry run of the same command and
subtracted); both are printed. Target (issue "Topology engine"): ratio <= 1.5.

Since issue 15 the same jobs also draw the matched nulls of every cloud (``topology.nulls`` of the config);
their homology seconds (stored in ``results/nulls``) count in the sum, and ``--n-draws 0`` times the
diagrams alone in-process (the ``alone`` column; a workflow run always draws nulls).

The homology seconds stored in the diagrams are wall time inside the jobs, which stretches when two jobs
share the machine; so the same clouds are also computed once in this process, one after the other on an
otherwise idle machine, and the ratio against that uncontended sum is printed too (the stricter one).
Snakemake runs with the workflow profile (profiles/default), as a user's plain ``snakemake`` does.

    .venv/bin/python benchmarks/persistence_stage.py --results results [--cores 2]
        [--granularities run checkpoint layer] [--layer-runs 2] [--n-draws K]

``--layer-runs K`` limits the (slow, ~1.5 s per job) ``layer`` granularity to the K smallest runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# one BLAS thread, as in the persistence jobs (set before numpy loads OpenBLAS)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from toposcale.config import load_config  # noqa: E402
from toposcale.plan.paths import step_name  # noqa: E402
from toposcale.plan.study import layer_names, run_checkpoint_steps, run_map  # noqa: E402
from toposcale.topology.diagram_io import load_null_diagrams  # noqa: E402
from toposcale.topology.persist import persist_files  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def snakemake(args, dry=False):
    cmd = [SNAKEMAKE, *(["-n"] if dry else []), *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
    return time.perf_counter() - t0


def isolated_homology_seconds(src: Path, runs: list, nulls: dict | None = None, seed: int = 0) -> dict:
    """Homology seconds per run (diagrams and, with ``nulls`` = config ``topology.nulls``, the null draws),
    computed here one cloud after another (nothing else running)."""
    out = {}
    n_draws, kinds = (nulls["n_draws"], nulls["kinds"]) if nulls else (0, ())
    with tempfile.TemporaryDirectory() as tmp:
        for run in runs:
            out[run] = persist_files(sorted((src / "clouds" / run).glob("step*.npz")), Path(tmp) / "diagrams" / run,
                                     null_root=Path(tmp) / "nulls" / run, n_draws=n_draws, kinds=kinds, seed=seed)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--configfile", default="config.yaml")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--granularities", nargs="+", default=["run", "checkpoint", "layer"])
    ap.add_argument("--layer-runs", type=int, default=2)
    ap.add_argument("--n-draws", type=int, default=None,
                    help="null draws per cloud and kind (default: the config's topology.nulls.n_draws)")
    args = ap.parse_args()
    src = Path(args.results).resolve()
    runs = sorted(p.name for p in (src / "clouds").iterdir())
    cfg = load_config(args.configfile)
    nulls = dict(cfg["topology"]["nulls"])
    if args.n_draws is not None:
        nulls["n_draws"] = args.n_draws
    t0 = time.perf_counter()
    alone = isolated_homology_seconds(src, runs, nulls, cfg["seed"])
    t_nulls = time.perf_counter() - t0
    t0 = time.perf_counter()
    isolated_homology_seconds(src, runs)
    t_plain = time.perf_counter() - t0
    print(f"in-process, one thread, all runs: diagrams only {t_plain:.1f} s; with K = {nulls['n_draws']} "
          f"draws of {nulls['kinds']} {t_nulls:.1f} s (x{t_nulls / t_plain:.2f})", flush=True)
    print(f"| granularity | runs | jobs | homology sum in jobs (s) | alone (s) | stage wall (s) | DAG (s) "
          f"| wall / (in jobs / {args.cores}) | wall / (alone / {args.cores}) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for gran in args.granularities:
        chosen = runs
        if gran == "layer":
            chosen = sorted(runs, key=lambda r: (int(r.split("-d")[1].split("L")[0]) * int(r.split("L")[1].split("-")[0]), r))[: args.layer_runs]
        with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
            dst = Path(tmp) / "results"
            for sub in ("data", "runs", "clouds"):
                shutil.copytree(src / sub, dst / sub, copy_function=shutil.copy2)
            targets = [str(p) for p in dst.glob("runs/*/run.json")]
            base = ["--configfile", args.configfile, "--config", f"results={dst}",
                    f"topology={{granularity: {gran}, nulls: {{n_draws: {nulls['n_draws']}}}}}",
                    "--cores", str(args.cores), "--quiet"]
            if gran == "layer" or chosen != runs:
                specs = run_map(cfg)
                targets = [str(dst / "diagrams" / r / s / step_name(t) / f"{l}.npz") for r in chosen
                           for t in run_checkpoint_steps(specs[r].total_steps, cfg["training"])
                           for s in cfg["topology"]["sources"] for l in layer_names(s, specs[r].n_layers)]
            else:
                targets = ["diagrams_all"]
            dag = snakemake(base + ["--"] + targets, dry=True)
            wall = snakemake(base + ["--"] + targets) - dag
            files = list((dst / "diagrams").rglob("*.npz"))
            secs = sum(float(np.load(f)["seconds"]) for f in files)
            secs += sum(float(d["seconds"]) for f in (dst / "nulls").rglob("*.npz")
                        for draws in load_null_diagrams(f).values() for d in draws)
            n_jobs = {"run": len(chosen), "layer": len(files)}.get(gran, len({f.parent for f in files}) // 2)
            ref = sum(alone[r] for r in chosen)
            print(f"| {gran} | {len(chosen)} | {n_jobs} | {secs:.1f} | {ref:.1f} | {wall:.1f} | {dag:.1f} | "
                  f"{wall / (secs / args.cores):.2f} | {wall / (ref / args.cores):.2f} |", flush=True)


if __name__ == "__main__":
    main()
