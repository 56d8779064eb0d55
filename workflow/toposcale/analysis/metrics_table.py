"""The metrics table (``results/metrics/{run}.parquet``, DESIGN.md section 3) as the analyses read it: the
default metric columns, loading and column checks, run descriptors, the series to analyse (each metric raw
and against its nulls), and the one seed derivation of per-series analyses."""

from __future__ import annotations

import os
import warnings
import zlib

import numpy as np
import pandas as pd

from toposcale.io import read_table

#: Topological metrics analysed by default (columns of ``results/metrics/{run}.parquet``). Left out
#: because they are constant by construction: ``h0_n_bars`` (always ``n_points - 1``) and
#: ``h0_max_lifetime_norm`` (always 1, since the scale is the largest finite H0 death).
TOPOLOGICAL_METRICS = (
    "h0_total_persistence", "h0_total_persistence_norm", "h0_max_lifetime",
    "h0_n_significant", "h0_entropy", "h0_entropy_norm",
    "h1_total_persistence", "h1_total_persistence_norm", "h1_max_lifetime", "h1_max_lifetime_norm",
    "h1_n_bars", "h1_n_significant", "h1_entropy", "h1_entropy_norm",
)
#: Non-topological baselines analysed beside them (``neural_persistence`` exists for weights only).
BASELINE_METRICS = ("scale", "frobenius_norm", "total_variance", "mean_pairwise_distance",
                    "neural_persistence")
#: The default metric set: topological metrics, then baselines.
DEFAULT_METRICS = TOPOLOGICAL_METRICS + BASELINE_METRICS
#: Suffix of the null-adjusted column of a metric in the metrics table (the contract of issue 15).
NULL_Z_SUFFIX = "_null_z"
#: Run descriptors copied into every output row when the metrics table has them.
RUN_COLUMNS = ("run", "activation", "size", "seed", "n_nonembed")


def load_metrics(paths) -> pd.DataFrame:
    """Concatenate metrics tables (``.parquet`` or ``.csv``) into one DataFrame."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not paths:
        raise ValueError("no metrics files given; expected results/metrics/{run}.parquet paths")
    return pd.concat([read_table(p) for p in paths], ignore_index=True)


def check_columns(df, required, what: str = "metrics table") -> None:
    """Raise ValueError naming the columns of ``required`` that ``df`` lacks."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing}; expected the results/metrics/{{run}}.parquet "
                         f"format (see DESIGN.md section 3)")


def resolve_metrics(df, metric_cols=None) -> list[str]:
    """The metric columns to analyse: ``metric_cols`` (all must exist) or the defaults present in ``df``."""
    if metric_cols:
        check_columns(df, metric_cols, "metrics table (dynamics.metrics in the config)")
        return list(metric_cols)
    cols = [c for c in DEFAULT_METRICS if c in df.columns]
    if not cols:
        raise ValueError(f"metrics table has none of the default metric columns {DEFAULT_METRICS}")
    return cols


def stable_seed(seed: int, *keys) -> int:
    """A seed derived from ``seed`` and string keys, identical across processes (unlike ``hash``)."""
    return (int(seed) * 1_000_003 + zlib.crc32("|".join(map(str, keys)).encode())) % (2 ** 32)


def run_info(g) -> dict:
    """Run descriptors (``RUN_COLUMNS`` present in ``g``) from the first row of one run's rows."""
    first = g.iloc[0]
    return {c: first[c] for c in RUN_COLUMNS if c in g.columns}


def null_z_series(df, metric_cols) -> list[tuple[str, str, str]]:
    """(metric, variant, column) of every series to analyse: each metric raw, then the topological ones
    with a ``{m}_null_z`` column in ``df`` as variant ``null_z``, then those with ``{m}_perm_z`` /
    ``{m}_copula_z`` columns holding a finite value as ``perm_z`` / ``copula_z``. Warns once when
    topological metrics are asked for but the table has no null columns (metrics written before issue 15)."""
    out = [(m, "raw", m) for m in metric_cols]
    topo = [m for m in metric_cols if metric_family(m) == "topological"]
    have = [m for m in topo if m + NULL_Z_SUFFIX in df.columns]
    if topo and not have:
        warnings.warn(f"metrics table has no '<metric>{NULL_Z_SUFFIX}' columns (e.g. "
                      f"{topo[0] + NULL_Z_SUFFIX!r}; written before the matched nulls): null-adjusted variants "
                      "skipped; re-run the summarise step to add them", stacklevel=3)
    out += [(m, "null_z", m + NULL_Z_SUFFIX) for m in have]
    for variant in ("perm_z", "copula_z"):
        out += [(m, variant, f"{m}_{variant}") for m in topo
                if f"{m}_{variant}" in df.columns and np.isfinite(df[f"{m}_{variant}"].to_numpy(float)).any()]
    return out


def non_degenerate(df):
    """Rows of ``df`` whose cloud is not flagged ``degenerate`` (all rows when the column is absent)."""
    if "degenerate" not in df.columns:
        return df
    return df[~df["degenerate"].fillna(False).astype(bool)]


def metric_family(metric: str) -> str:
    """'topological' (a :data:`TOPOLOGICAL_METRICS` column or any ``h0_``/``h1_`` one), 'baseline'
    (:data:`BASELINE_METRICS`) or 'other'."""
    if metric in TOPOLOGICAL_METRICS or metric.startswith(("h0_", "h1_")):
        return "topological"
    return "baseline" if metric in BASELINE_METRICS else "other"
