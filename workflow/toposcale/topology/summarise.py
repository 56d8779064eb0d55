"""Gather per-layer diagram files into one metrics table (and Betti curves) per run.

``metrics/{run}.parquet`` has one row per (step, source, layer) with every metric of
:func:`toposcale.topology.metrics.diagram_metrics`, the cloud's scale and baselines, neural persistence, and
the run's training state at that step (tokens, train/val loss, fraction of training done).

``metrics/{run}.betti.parquet`` holds Betti curves in long form (step, source, layer, dim, t, betti):
``t`` is a filtration value in units of the cloud's scale (the largest finite H0 death), sampled on
``linspace(0, betti_grid_max, betti_grid_size)``, so curves are comparable across layers, checkpoints
and runs whatever the norms of the weights or activations.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from toposcale.stats import percentile_ci
from toposcale.topology.diagram_io import load_diagrams
from toposcale.topology.homology import rips_persistence
from toposcale.topology.metrics import BASELINE_COLUMNS, betti_curve, diagram_metrics, diagram_scale
from toposcale.topology.subsampling import bootstrap_cloud, subsample_interval

RUN_COLUMNS = ("activation", "size", "seed", "n_nonembed", "target_params", "holdout", "tokens_per_param")


def summarise_run(diagrams_root, sources, layers: dict, steps, log_csv, run_json, topology: dict):
    """Return ``(metrics, betti)`` DataFrames for one run (see module docstring)."""
    run = json.loads(Path(run_json).read_text())
    log = pd.read_csv(log_csv).set_index("step")
    grid = np.linspace(0.0, topology["betti_grid_max"], topology["betti_grid_size"])
    rows, betti = [], []
    for step in steps:
        for source in sources:
            for layer in layers[source]:
                path = Path(diagrams_root) / source / f"step{step:07d}" / f"{layer}.npz"
                d = load_diagrams(path)
                row = {"run": run["name"], **{k: run[k] for k in RUN_COLUMNS}, "step": int(step),
                       "source": source, "layer": layer, "n_points": d["n_points"], "scale": d["scale"],
                       "backend": d["backend"], "homology_seconds": d["seconds"]}
                row.update(diagram_metrics(d["h0"], d["h1"], scale=d["scale"],
                                           noise_fraction=topology["noise_fraction"]))
                for key in (*BASELINE_COLUMNS, "neural_persistence"):
                    row[key] = d.get(key, float("nan"))
                rows.append(row)
                scale = d["scale"] if d["scale"] > 0 else 1.0
                for dim, bars in ((0, d["h0"]), (1, d["h1"])):
                    curve = betti_curve(bars / scale, grid) if len(bars) else np.zeros(len(grid), dtype=int)
                    betti.extend({"step": int(step), "source": source, "layer": layer, "dim": dim,
                                  "t": float(t), "betti": int(b)} for t, b in zip(grid, curve))
    metrics = pd.DataFrame(rows)
    metrics["tokens"] = metrics["step"].map(log["tokens"])
    metrics["train_loss"] = metrics["step"].map(log["train_loss"])
    metrics["val_loss"] = metrics["step"].map(log["val_loss"])
    metrics["frac"] = metrics["step"] / run["total_steps"]
    return metrics, pd.DataFrame(betti)


def bootstrap_checkpoint(clouds_path, topology: dict, seed: int, run: str, step: int):
    """Percentile bootstrap CIs (m-out-of-n subsampling without replacement) for every layer of a checkpoint.

    For each (source, layer) cloud of ``clouds_path``: ``n_resamples`` subsamples of
    ``m = round(fraction * n)`` points without replacement (duplicated points would add zero-length H0
    bars and bias H0 down), diagrams and metrics of each. Returns a long DataFrame (run, step, source,
    layer, metric, estimate, lo, hi, lo_scaled, hi_scaled, n_resamples, m): ``estimate`` is the metric of
    the full cloud; ``lo``/``hi`` are the 2.5/97.5 percentiles of the m-point subsample values (the
    interval for an m-point cloud); ``lo_scaled``/``hi_scaled`` rescale that spread to n points
    (delete-d jackknife, :func:`toposcale.topology.subsampling.subsample_interval`), the interval to quote for the
    n-point value. Sums over bars (total persistence, counts) grow with n, so compare ``estimate`` with
    the scaled interval, not the raw one.
    """
    boot = topology["bootstrap"]
    rows = []
    with np.load(clouds_path, allow_pickle=False) as npz:
        keys = [k for k in npz.files if not k.endswith("/baselines")]
        for i, key in enumerate(keys):
            source, layer = key.split("/")
            X = npz[key]
            full = rips_persistence(X, max_dim=topology["max_dim"], backend=topology["backend"],
                                    where=f"{run} {key} step {step}")
            est = diagram_metrics(full.h0, full.h1, scale=diagram_scale(full.h0),
                                  noise_fraction=topology["noise_fraction"])
            reps = bootstrap_cloud(X, n_resamples=boot["n_resamples"], fraction=boot["fraction"],
                                   seed=seed * 7919 + step * 31 + i, max_dim=topology["max_dim"],
                                   backend=topology["backend"], noise_fraction=topology["noise_fraction"])
            m = int(round(boot["fraction"] * len(X)))
            for metric, value in est.items():
                values = [r[metric] for r in reps]
                lo, hi = percentile_ci(values)
                lo_s, hi_s = (subsample_interval(value, values, len(X), m, support=(0.0, np.inf))
                              if 0 < m < len(X) else (float("nan"), float("nan")))
                rows.append({"run": run, "step": step, "source": source, "layer": layer, "metric": metric,
                             "estimate": value, "lo": lo, "hi": hi, "lo_scaled": lo_s, "hi_scaled": hi_s,
                             "n_resamples": len(reps), "m": m})
    return pd.DataFrame(rows)
