"""DAG scale: time and peak memory of `snakemake -n` on a large study, per persistence granularity.

The study: 5 sizes x 2 activations x 3 seeds, 51 checkpoint steps requested, both sources, every layer
(about 17,000 persistence jobs at ``layer`` granularity). Nothing is trained: this measures only how
long Snakemake needs to build and schedule the DAG, which a user pays before any job starts.

    .venv/bin/python benchmarks/dag_scale.py [--granularities layer checkpoint run]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--granularities", nargs="+", default=["layer", "checkpoint", "run"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--checkpoints", type=int, default=51)
    args = ap.parse_args()
    print("| granularity | jobs | `snakemake -n` wall (s) | peak RSS (MiB) |\n|---|---|---|---|")
    for gran in args.granularities:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
            cfg["model"]["seeds"] = list(range(args.seeds))
            cfg["training"]["n_checkpoints"] = args.checkpoints
            cfg["topology"]["granularity"] = gran
            cfg["results"] = f"{tmp}/results"
            path = Path(tmp) / "big.yaml"
            path.write_text(yaml.safe_dump(cfg))
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            t0 = time.perf_counter()
            proc = subprocess.run([SNAKEMAKE, "-n", "--quiet", "rules", "--cores", "2", "--configfile", str(path)],
                                  cwd=ROOT, capture_output=True, text=True, timeout=1200)
            wall = time.perf_counter() - t0
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            if proc.returncode:
                raise SystemExit(proc.stderr[-3000:])
            total = next((ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("total")), "?")
            print(f"| {gran} | {total} | {wall:.1f} | {max(rss, before) / 1024:.0f} |", flush=True)


if __name__ == "__main__":
    main()
