"""Persistence of every layer's cloud with paired subsampling intervals, relative columns, expansion ratio.

Each cloud goes through :mod:`toposcale.topology`: PCA (:func:`toposcale.topology.clouds.pca_project`),
Vietoris-Rips diagrams (:func:`toposcale.topology.homology.rips_persistence`), metrics, Betti curves and
baselines (:mod:`toposcale.topology.metrics`), and subsamples and their intervals
(:mod:`toposcale.topology.subsampling`), and K covariance-matched Gaussian null draws
(:mod:`toposcale.topology.nulls`) through the same homology. See :mod:`toposcale.experiments.pretrained`
for the expansion ratio, its null-adjusted variant and the confidence intervals.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from toposcale.stats import null_excess
from toposcale.experiments.pretrained.errors import PretrainedError
from toposcale.topology.clouds import pca_project
from toposcale.topology.homology import rips_persistence
from toposcale.topology.metrics import METRIC_COLUMNS, betti_curves, cloud_baselines, diagram_metrics, diagram_scale
from toposcale.topology.nulls import null_clouds, null_seed
from toposcale.topology.subsampling import subsample_indices, subsample_interval

#: The per-layer values whose ratio to the embedding layer makes an expansion ratio: suffix -> column.
RATIO_COLUMNS = {"": "h0_total_persistence", "_norm": "h0_total_persistence_norm"}


def layer_depths(names: list[str]) -> np.ndarray:
    """Relative depth of each layer: position in the depth-ordered list divided by its last index."""
    return np.linspace(0.0, 1.0, len(names)) if len(names) > 1 else np.zeros(1)


def analyse_clouds(layers: dict, pca_components: int = 50, max_dim: int = 1, backend: str = "auto",
                   noise_fraction: float = 0.05, n_resamples: int = 100, fraction: float = 0.8, seed: int = 0,
                   betti_grid_max: float = 1.5, betti_grid_size: int = 64, level: float = 0.95,
                   where: str = "", log=None, *, n_null_draws: int, min_distinct_fraction: float):
    """Persistence, metrics, Betti curves and subsampling intervals of every layer's cloud.

    Parameters
    ----------
    layers : dict
        Layer name -> (n, width) pooled activations, in depth order, all with the same ``n`` rows.
    pca_components : int
        Each cloud wider than ``pca_components`` is centred and projected on its top components before
        homology (:func:`toposcale.topology.clouds.pca_project`); a narrower cloud is kept whole (its
        distances, hence its diagrams, are those of the centred and rotated cloud).
    n_resamples, fraction : int, float
        ``n_resamples`` subsamples of ``m = round(fraction * n)`` rows, drawn once (seeded) and used for
        every layer; 0 resamples disables intervals.
    n_null_draws : int
        ``topology.nulls.n_draws``: ``K`` covariance-matched Gaussian null draws of each layer's
        projected cloud (:func:`toposcale.topology.nulls.null_clouds`, seeded by
        ``null_seed(seed, where, layer)``), each through the same :func:`rips_persistence` and metrics
        as the cloud itself; 0 computes no null (the null columns are then NaN).
    min_distinct_fraction : float
        ``topology.min_distinct_fraction``: a layer whose distinct pooled vectors are fewer than this
        fraction of its points is flagged ``degenerate``.

    Returns
    -------
    layer_df : pandas.DataFrame
        One row per layer: ``layer``, ``layer_index``, ``depth`` (:func:`layer_depths`), ``n_points``,
        ``n_distinct`` (distinct pooled vectors), ``width``, ``n_components`` (columns of the cloud the
        homology saw), ``pca_explained``,
        ``scale`` and the metrics of :func:`toposcale.topology.metrics.diagram_metrics` on the projected cloud,
        the baselines of :func:`toposcale.topology.metrics.cloud_baselines` on the raw cloud, ``backend``,
        ``homology_seconds``, and for ``scale`` and every metric ``{metric}_lo`` / ``{metric}_hi``
        (:func:`toposcale.topology.subsampling.subsample_interval`, method ``"percentile"``, at ``level``:
        the central range of the metric over the m-text subsamples, not rescaled to n; NaN without
        resamples),
        ``n_resamples`` and ``m``; ``degenerate`` (``n_distinct < min_distinct_fraction * n_points``),
        ``n_null_draws`` and, for ``scale`` and every metric, ``{metric}_null_mean``, ``{metric}_null_sd``
        (ddof = 1) and ``{metric}_null_z`` over the null draws
        (:func:`toposcale.stats.null_excess`); and the relative columns of
        :func:`add_relative_columns`.
    resample_df : pandas.DataFrame
        One row per (resample, layer) with ``scale`` and every metric of the subsampled cloud.
    betti_df : pandas.DataFrame
        Long form ``layer, dim, t, betti``: Betti curves of the full cloud with ``t`` in units of
        the layer's scale on ``linspace(0, betti_grid_max, betti_grid_size)``.
    diagrams : dict
        ``{layer: (h0, h1)}`` of the full clouds.
    """
    if not 0 < float(min_distinct_fraction) <= 1:
        raise PretrainedError(f"min_distinct_fraction = {min_distinct_fraction} must be in (0, 1]; set "
                              f"topology.min_distinct_fraction")
    names = list(layers)
    if not names:
        raise PretrainedError("analyse_clouds: no layers given")
    n = len(layers[names[0]])
    for name in names:
        if len(layers[name]) != n:
            raise PretrainedError(f"analyse_clouds: layer {name} has {len(layers[name])} points, layer "
                                  f"{names[0]} has {n}; every layer must hold the same probe texts")
    m = int(round(fraction * n))
    if n_resamples and not 3 <= m < n:
        raise PretrainedError(f"analyse_clouds: fraction {fraction} of {n} points gives m = {m}; need 3 <= m < n")
    subsets = subsample_indices(n, m, n_resamples, seed) if n_resamples else []
    depths = layer_depths(names)
    rows, reps, betti, diagrams = [], [], [], {}
    for i, name in enumerate(names):
        t0 = time.perf_counter()
        X = np.asarray(layers[name], dtype=np.float64)
        Y, explained = pca_project(X, pca_components, return_explained=True)
        dg = rips_persistence(Y, max_dim=max_dim, backend=backend, where=f"{where} layer {name}")
        scale = diagram_scale(dg.h0)
        metrics = {"scale": scale, **diagram_metrics(dg.h0, dg.h1, scale=scale, noise_fraction=noise_fraction)}
        diagrams[name] = (dg.h0, dg.h1)
        n_distinct = int(len(np.unique(X, axis=0)))
        row = {"layer": name, "layer_index": i, "depth": float(depths[i]), "n_points": n,
               "n_distinct": n_distinct, "degenerate": bool(n_distinct < float(min_distinct_fraction) * n),
               "width": X.shape[1], "n_components": Y.shape[1],
               "pca_explained": explained, **metrics, **cloud_baselines(X), "backend": dg.backend,
               "homology_seconds": dg.seconds, "n_null_draws": int(n_null_draws)}
        null = []
        for k, Z in enumerate(null_clouds(Y, "gaussian", int(n_null_draws), null_seed(seed, where, name))):
            ndg = rips_persistence(Z, max_dim=max_dim, backend=backend, where=f"{where} layer {name} null {k}")
            nscale = diagram_scale(ndg.h0)
            null.append({"scale": nscale, **diagram_metrics(ndg.h0, ndg.h1, scale=nscale,
                                                            noise_fraction=noise_fraction)})
        for metric in ("scale", *METRIC_COLUMNS):
            ex = null_excess(metrics[metric], [d[metric] for d in null])
            row.update({f"{metric}_{k}": v for k, v in ex.items()})
        curves = betti_curves(dg.h0, dg.h1, metrics["scale"], betti_grid_max, betti_grid_size)
        for dim in (0, 1):
            betti.extend({"layer": name, "dim": dim, "t": float(t), "betti": int(b)}
                         for t, b in zip(curves["grid"], curves[f"betti{dim}"]))
        for r, idx in enumerate(subsets):
            sub = rips_persistence(Y[idx], max_dim=max_dim, backend=backend, where=f"{where} layer {name} resample {r}")
            sub_scale = diagram_scale(sub.h0)
            reps.append({"resample": r, "layer": name, "scale": sub_scale,
                         **diagram_metrics(sub.h0, sub.h1, scale=sub_scale, noise_fraction=noise_fraction)})
        rows.append(row)
        if log:
            log(f"{where} {name}: n={n} scale={metrics['scale']:.4g} H0 TP={metrics['h0_total_persistence']:.4g} "
                f"H1 bars={metrics['h1_n_bars']} ({time.perf_counter() - t0:.1f} s)")
    layer_df = pd.DataFrame(rows)
    resample_df = pd.DataFrame(reps, columns=["resample", "layer", "scale", *METRIC_COLUMNS])
    for metric in ("scale", *METRIC_COLUMNS):
        lo, hi = [], []
        for name, est in zip(layer_df["layer"], layer_df[metric]):
            if n_resamples:
                a, b = subsample_interval(est, resample_df.loc[resample_df["layer"] == name, metric], n, m, level,
                                          support=_support(metric), method="percentile")
            else:
                a = b = float("nan")
            lo.append(a)
            hi.append(b)
        layer_df[f"{metric}_lo"] = lo
        layer_df[f"{metric}_hi"] = hi
    layer_df["n_resamples"] = n_resamples
    layer_df["m"] = m if n_resamples else 0
    add_relative_columns(layer_df, resample_df, level)
    return layer_df, resample_df, pd.DataFrame(betti), diagrams


def _support(metric: str) -> tuple[float, float]:
    """Range of values a per-layer metric can take (every metric is >= 0; normalised entropy <= 1)."""
    return (0.0, 1.0) if metric.endswith("entropy_norm") else (0.0, np.inf)


def add_relative_columns(layer_df, resample_df=None, level: float = 0.95) -> None:
    """Add each layer's H0 total persistence relative to the embedding layer, raw and null-adjusted, in place.

    Columns ``h0_total_persistence_rel`` = ``TP0(l) / TP0(embed)`` and
    ``h0_total_persistence_norm_rel`` (same with the scale-normalised values), NaN when the embedding
    value is 0 or the embedding cloud is ``degenerate``; with subsamples, ``_lo``/``_hi`` from the paired
    per-subsample ratios (:func:`toposcale.topology.subsampling.subsample_interval`, method
    ``"percentile"``), else NaN. The
    maximum over layers of ``*_rel`` is the expansion ratio. Null-adjusted, where the table has
    ``{col}_null_mean``: ``{col}_null_rel`` = ``A(l) / A(embed)`` with ``A(l) = TP0(l) / TP0_null_mean(l)``
    (the layer's value over the mean of its covariance-matched Gaussian null draws), NaN under the same
    conditions or where a null mean is not > 0; no interval.
    """
    df = layer_df.sort_values("layer_index")
    names = list(df["layer"])
    n = int(df["n_points"].iloc[0])
    m = int(df["m"].iloc[0]) if "m" in df else 0
    usable = not embed_degenerate(df)
    for col in RATIO_COLUMNS.values():
        base = float(df[col].iloc[0])
        ok = usable and base > 0
        rel = df[col].to_numpy(dtype=np.float64) / base if ok else np.full(len(df), np.nan)
        lo = np.full(len(df), np.nan)
        hi = np.full(len(df), np.nan)
        if resample_df is not None and not resample_df.empty and 0 < m < n and ok:
            wide = resample_df.pivot(index="resample", columns="layer", values=col)[names].to_numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                reps = np.where(wide[:, :1] > 0, wide / wide[:, :1], np.nan)
            for j in range(len(names)):
                lo[j], hi[j] = subsample_interval(rel[j], reps[:, j], n, m, level, support=(0.0, np.inf),
                                                  method="percentile")
        order = df.index
        layer_df.loc[order, f"{col}_rel"] = rel
        layer_df.loc[order, f"{col}_rel_lo"] = lo
        layer_df.loc[order, f"{col}_rel_hi"] = hi
        if f"{col}_null_mean" in df:
            adj = null_adjusted(df[col], df[f"{col}_null_mean"])
            layer_df.loc[order, f"{col}_null_rel"] = adj / adj[0] if usable and adj[0] > 0 else np.nan


def null_adjusted(values, null_means) -> np.ndarray:
    """``values / null_means`` elementwise, NaN where either is not > 0 (the contract's ratio to the null).

    Examples
    --------
    >>> null_adjusted([2.0, 3.0, 1.0], [1.0, 0.0, 4.0]).tolist()
    [2.0, nan, 0.25]
    """
    v = np.asarray(values, dtype=np.float64)
    u = np.asarray(null_means, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((v > 0) & (u > 0), v / u, np.nan)


def embed_degenerate(layer_df) -> bool:
    """Whether the embedding layer (``layer_index`` 0) of a per-layer table is flagged ``degenerate``
    (False where the table has no such column, e.g. a metrics table written before the flag existed)."""
    if "degenerate" not in layer_df:
        return False
    flag = layer_df.sort_values("layer_index")["degenerate"].iloc[0]
    return bool(flag) if pd.notna(flag) else False


def expansion_ratio(values) -> tuple[float, int]:
    """``(max(values) / values[0], argmax)`` for per-layer values in depth order (``values[0]`` = embed).

    The ratio is NaN when ``values[0] <= 0`` (a single repeated embedding point) or is NaN; NaN values
    are skipped for the peak, and with no finite value the result is ``(nan, -1)``.

    Examples
    --------
    >>> expansion_ratio([2.0, 5.0, 3.0])
    (2.5, 1)
    """
    v = np.asarray(values, dtype=np.float64)
    if not np.isfinite(v).any():
        return float("nan"), -1
    peak = int(np.nanargmax(v))
    ratio = float(v[peak] / v[0]) if v[0] > 0 else float("nan")
    return ratio, peak


def ratio_replicates(resample_df, names, column, divisors=None):
    """:func:`expansion_ratio` of every subsample: ``(ratios, peak_indices)`` over the resamples.

    Parameters
    ----------
    resample_df : pandas.DataFrame or None
        The per-(resample, layer) table of :func:`analyse_clouds`.
    names : list of str
        Layer names in depth order (``names[0]`` is the embedding layer).
    column : str
        The per-layer value, e.g. ``h0_total_persistence``.
    divisors : array_like, optional
        Per-layer constants (depth order) each subsample's values are divided by before the ratio,
        e.g. the layers' null means for the null-adjusted ratio (whose interval then treats them as fixed).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Both empty when there are no resamples.
    """
    if resample_df is None or resample_df.empty:
        return np.empty(0), np.empty(0, dtype=int)
    wide = resample_df.pivot(index="resample", columns="layer", values=column)[names].to_numpy()
    if divisors is not None:
        wide = null_adjusted(wide, np.broadcast_to(np.asarray(divisors, dtype=np.float64), wide.shape))
    ratios, peaks = [], []
    for row in wide:
        r, p = expansion_ratio(row)
        ratios.append(r)
        peaks.append(p)
    return np.asarray(ratios), np.asarray(peaks)
