"""Gather per-layer diagram files into one metrics table (and Betti curves) per run.

``metrics/{run}.parquet`` has one row per (step, source, layer) with every metric of
:func:`toposcale.topology.metrics.diagram_metrics`, the cloud's scale and baselines, neural persistence, and
the run's training state at that step (tokens, train/val loss, fraction of training done).

Beside every metric ``m`` of :data:`~toposcale.topology.metrics.METRIC_COLUMNS` and ``scale``, the table has
its matched nulls (issue 15; the null files of :func:`toposcale.topology.persist.persist_files`), each draw
summarised by the same :func:`diagram_metrics` call with the draw's *own* scale:

* ``{m}_null_mean``, ``{m}_null_sd``: mean and sample sd (ddof=1) over the K covariance-matched Gaussian
  draws of this cloud;
* ``{m}_null_sd_pooled`` (issue 22): the root-mean of the per-checkpoint null variances ``{m}_null_sd**2``
  over the checkpoints within +-``topology.nulls.sd_pool_window`` (default 3) of this one in the same
  (run, source, layer), ordered by step (:func:`toposcale.stats.pooled_sd`; window 0 = ``{m}_null_sd``);
* ``{m}_null_z = (m - {m}_null_mean) / {m}_null_sd_pooled``: the null-adjusted value along training (NaN
  where the pooled sd is 0 or undefined). An sd from K = 4 draws is so noisy that a correlation of
  ``(m - mean) / sd`` lost most of its power (issue 22: 29 of 100 planted series significant vs 91 raw);
  pooling over ``2w + 1`` checkpoints gives up to ``(2w + 1)(K - 1)`` degrees of freedom;
* ``{m}_perm_mean``, ``{m}_perm_sd``, ``{m}_perm_sd_pooled``, ``{m}_perm_z``: the same over the
  entry-permutation draws (NaN for activations, or when that kind is not configured);
* ``{m}_copula_mean``, ``{m}_copula_sd``, ``{m}_copula_sd_pooled``, ``{m}_copula_z``: the same over the
  Gaussian-copula draws (:func:`toposcale.topology.nulls.copula_null`; NaN for weights, or when that kind
  is not configured);
* ``n_null_draws`` (K, the Gaussian draws), ``n_distinct`` and ``effective_rank`` of the real cloud
  (:func:`toposcale.topology.hygiene.cloud_hygiene`) and ``degenerate``: ``n_distinct < min_distinct_fraction
  * n_points`` (config ``topology.min_distinct_fraction``).

``metrics/{run}.betti.parquet`` holds Betti curves in long form (step, source, layer, dim, t, betti,
null_mean, null_sd): ``t`` is a filtration value in units of the cloud's scale (the largest finite H0
death), sampled on ``linspace(0, betti_grid_max, betti_grid_size)``, so curves are comparable across
layers, checkpoints and runs whatever the norms of the weights or activations; ``null_mean`` and
``null_sd`` (ddof=1) are over the Gaussian draws' Betti curves at the same ``t``, each draw in units of
its own scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from toposcale.io import read_run_info, read_run_log
from toposcale.plan.paths import step_name
from toposcale.stats import null_excess, percentile_ci, pooled_sd, standardised_excess
from toposcale.topology.cloud_io import load_clouds
from toposcale.topology.diagram_io import load_diagrams, load_null_diagrams
from toposcale.topology.homology import rips_persistence
from toposcale.topology.metrics import METRIC_COLUMNS, BASELINE_COLUMNS, betti_curve, diagram_metrics, diagram_scale
from toposcale.topology.subsampling import bootstrap_cloud

RUN_COLUMNS = ("activation", "size", "seed", "n_nonembed", "target_params", "holdout", "tokens_per_param")
#: Columns that get null summaries: every diagram metric and the cloud's scale.
NULL_METRICS = (*METRIC_COLUMNS, "scale")
#: Column prefix of each null kind (``{m}_null_mean``: gaussian, ``{m}_perm_mean``: permutation,
#: ``{m}_copula_mean``: copula).
NULL_PREFIX = {"gaussian": "null", "permutation": "perm", "copula": "copula"}


def null_columns(real: dict, draws: dict, noise_fraction: float) -> dict:
    """The ``{m}_null_*`` and ``{m}_perm_*`` columns of one cloud (module docstring).

    ``real`` maps each of :data:`NULL_METRICS` to the real cloud's value; ``draws`` is
    :func:`~toposcale.topology.diagram_io.load_null_diagrams`'s dict (kinds absent from it give NaN).
    """
    out = {}
    for kind, prefix in NULL_PREFIX.items():
        per_draw = [{**diagram_metrics(d["h0"], d["h1"], scale=d["scale"], noise_fraction=noise_fraction),
                     "scale": d["scale"]} for d in draws.get(kind, [])]
        for m in NULL_METRICS:
            ex = null_excess(real[m], [r[m] for r in per_draw])
            out[f"{m}_{prefix}_mean"], out[f"{m}_{prefix}_sd"], out[f"{m}_{prefix}_z"] = (
                ex["null_mean"], ex["null_sd"], ex["null_z"])
    out["n_null_draws"] = len(draws.get("gaussian", []))
    return out


def pool_null_sd(metrics: pd.DataFrame, window: int, metric_cols=NULL_METRICS) -> pd.DataFrame:
    """``metrics`` with ``{m}_{prefix}_sd_pooled`` added and ``{m}_{prefix}_z`` set from it (module docstring).

    Pools within each (run, source, layer) over its rows ordered by ``step``, for every ``m`` of
    ``metric_cols`` with a ``{m}_{prefix}_sd`` column (and ``{m}_{prefix}_mean``).
    """
    if metrics.empty:
        return metrics
    keys = [k for k in ("run", "source", "layer") if k in metrics.columns]
    gid = metrics.groupby(keys, sort=False).ngroup().to_numpy() if keys else np.zeros(len(metrics), dtype=int)
    pos = np.lexsort((metrics["step"].to_numpy(), gid))
    cuts = np.flatnonzero(np.diff(gid[pos])) + 1
    slices = np.split(np.arange(len(pos)), cuts)
    new = {}
    for prefix in NULL_PREFIX.values():
        for m in metric_cols:
            sd_col = f"{m}_{prefix}_sd"
            if sd_col not in metrics.columns:
                continue
            sd = metrics[sd_col].to_numpy(float)[pos]
            pooled_sorted = np.concatenate([pooled_sd(sd[sl], window) for sl in slices])
            pooled = np.empty(len(pos))
            pooled[pos] = pooled_sorted
            new[f"{m}_{prefix}_sd_pooled"] = pooled
            new[f"{m}_{prefix}_z"] = standardised_excess(metrics[m].to_numpy(float),
                                                         metrics[f"{m}_{prefix}_mean"].to_numpy(float), pooled)
    metrics = metrics.drop(columns=[c for c in new if c.endswith("_sd_pooled") and c in metrics.columns])
    for col in [c for c in new if c in metrics.columns]:   # existing _z columns keep their place
        metrics[col] = new.pop(col)
    return pd.concat([metrics, pd.DataFrame(new, index=metrics.index)], axis=1) if new else metrics


def _betti(bars, scale: float, grid) -> np.ndarray:
    """Betti curve of ``bars`` in units of ``scale`` (1 when the scale is 0) on ``grid``."""
    scale = scale if scale > 0 else 1.0
    return betti_curve(bars / scale, grid) if len(bars) else np.zeros(len(grid), dtype=int)


def summarise_run(diagrams_root, sources, layers: dict, steps, log_csv, run_json, topology: dict,
                  nulls_root=None):
    """Return ``(metrics, betti)`` DataFrames for one run (see module docstring).

    ``nulls_root`` is the run's null-draws folder (``results/nulls/{run}``); without it the null columns
    are NaN and ``n_null_draws`` is 0. ``topology`` is the config's ``topology`` section
    (``noise_fraction``, ``betti_grid_*``, ``min_distinct_fraction``).
    """
    run = read_run_info(run_json)
    log = read_run_log(log_csv).set_index("step")
    grid = np.linspace(0.0, topology["betti_grid_max"], topology["betti_grid_size"])
    rows, betti = [], []
    for step in steps:
        for source in sources:
            for layer in layers[source]:
                rel = Path(source, step_name(step), f"{layer}.npz")
                d = load_diagrams(Path(diagrams_root) / rel)
                draws = load_null_diagrams(Path(nulls_root) / rel) if nulls_root is not None else {}
                row = {"run": run["name"], **{k: run[k] for k in RUN_COLUMNS}, "step": int(step),
                       "source": source, "layer": layer, "n_points": d["n_points"], "scale": d["scale"],
                       "backend": d["backend"], "homology_seconds": d["seconds"]}
                row.update(diagram_metrics(d["h0"], d["h1"], scale=d["scale"],
                                           noise_fraction=topology["noise_fraction"]))
                for key in (*BASELINE_COLUMNS, "neural_persistence", "n_distinct", "effective_rank"):
                    row[key] = d.get(key, float("nan"))
                row["degenerate"] = bool(row["n_distinct"] < topology["min_distinct_fraction"] * d["n_points"])
                row.update(null_columns(row, draws, topology["noise_fraction"]))
                rows.append(row)
                gauss = draws.get("gaussian", [])
                for dim, key in ((0, "h0"), (1, "h1")):
                    curve = _betti(d[key], d["scale"], grid)
                    nulls = np.array([_betti(g[key], g["scale"], grid) for g in gauss], dtype=np.float64)
                    mean = nulls.mean(axis=0) if len(gauss) else np.full(len(grid), np.nan)
                    sd = nulls.std(axis=0, ddof=1) if len(gauss) >= 2 else np.full(len(grid), np.nan)
                    betti.extend({"step": int(step), "source": source, "layer": layer, "dim": dim,
                                  "t": float(t), "betti": int(b), "null_mean": float(mu), "null_sd": float(s)}
                                 for t, b, mu, s in zip(grid, curve, mean, sd))
    metrics = pd.DataFrame(rows)
    metrics["tokens"] = metrics["step"].map(log["tokens"])
    metrics["train_loss"] = metrics["step"].map(log["train_loss"])
    metrics["val_loss"] = metrics["step"].map(log["val_loss"])
    metrics["frac"] = metrics["step"] / run["total_steps"]
    metrics = pool_null_sd(metrics, int(topology["nulls"]["sd_pool_window"]))
    return metrics, pd.DataFrame(betti)


def bootstrap_checkpoint(clouds_path, topology: dict, seed: int, run: str, step: int):
    """Percentile intervals over m-out-of-n subsamples (without replacement) for every layer of a checkpoint.

    For each (source, layer) cloud of ``clouds_path``: ``n_resamples`` subsamples of
    ``m = round(fraction * n)`` points without replacement (duplicated points would add zero-length H0
    bars and bias H0 down), diagrams and metrics of each. Returns a long DataFrame (run, step, source,
    layer, metric, estimate, lo, hi, n_resamples, m): ``estimate`` is the metric of the full cloud;
    ``lo``/``hi`` are the 2.5/97.5 percentiles of the m-point subsample values
    (:func:`toposcale.stats.percentile_ci`, as in method ``"percentile"`` of
    :func:`toposcale.topology.subsampling.subsample_interval`): the spread of
    the metric of an m-point cloud, not rescaled to n points (no metric here is a smooth statistic; see
    that function). Sums over bars (total persistence, counts) grow with the number of points, so the
    interval of such a metric lies below ``estimate``.
    """
    boot = topology["bootstrap"]
    rows = []
    for i, (key, (X, _)) in enumerate(load_clouds(clouds_path).items()):
        source, layer = key.split("/")
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
            rows.append({"run": run, "step": step, "source": source, "layer": layer, "metric": metric,
                         "estimate": value, "lo": lo, "hi": hi, "n_resamples": len(reps), "m": m})
    return pd.DataFrame(rows)
