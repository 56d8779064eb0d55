"""Distinct points per activation cloud under each pooling option, on a trained study's checkpoints.

Last-token pooling of byte-level probes can collapse a layer's cloud: the embedding layer sees only the
last byte of each probe, so its cloud has at most as many distinct points as there are distinct last
bytes. This script measures, for every run of a finished study, at the chosen checkpoints, the number of
distinct pooled vectors per layer with ``pooling: last`` and ``pooling: mean`` (before PCA), which is the
evidence behind the default ``topology.pooling`` (README, "Cloud hygiene").

    python benchmarks/pooling_distinct_points.py --results results [--configfile config.yaml] [--steps final]

Prints one Markdown table (run, step, layer, points, distinct with last, distinct with mean) and a
summary per layer (minimum over runs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from toposcale.config import load_config  # noqa: E402
from toposcale.io import load_model_weights  # noqa: E402
from toposcale.plan import StudyPaths, layer_order, run_checkpoint_steps, study_runs  # noqa: E402
from toposcale.topology.clouds import activation_clouds  # noqa: E402
from toposcale.train import GPT, GPTConfig  # noqa: E402


def distinct_rows(X: np.ndarray) -> int:
    """Number of distinct rows (exact equality)."""
    return int(len(np.unique(X, axis=0)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--configfile", default="config.yaml")
    ap.add_argument("--steps", choices=("final", "three"), default="three",
                    help="final checkpoint only, or init/middle/final")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    config = load_config(args.configfile)
    config["results"] = args.results
    paths = StudyPaths(args.results, config["corpus"]["name"])
    probe = np.load(Path(args.results) / "data" / config["corpus"]["name"] / "probe.npy")
    rows = []
    for run in study_runs(config):
        steps = run_checkpoint_steps(run.total_steps, config["training"])
        chosen = [steps[-1]] if args.steps == "final" else [steps[0], steps[len(steps) // 2], steps[-1]]
        model = GPT(GPTConfig.from_run(run.to_dict(), config["corpus"]["seq_len"]))
        for step in chosen:
            load_model_weights(model, paths.checkpoint(run.name, step))
            last = activation_clouds(model, probe, "last")
            mean = activation_clouds(model, probe, "mean")
            for layer in last:
                rows.append((run.name, step, layer, len(last[layer]), distinct_rows(last[layer]),
                             distinct_rows(mean[layer])))
    print("| run | step | layer | points | distinct (last) | distinct (mean) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(v) for v in r) + " |")
    print("\nminimum over runs and checkpoints, per layer:\n")
    print("| layer | points | distinct (last) | distinct (mean) |")
    print("|---|---|---|---|")
    for layer in layer_order(list(dict.fromkeys(r[2] for r in rows))):
        sel = [r for r in rows if r[2] == layer]
        print(f"| {layer} | {sel[0][3]} | {min(r[4] for r in sel)} | {min(r[5] for r in sel)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
