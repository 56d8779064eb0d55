"""Topological metrics against model size: power law ``metric = k * N**gamma`` and Spearman rho."""

from __future__ import annotations

import numpy as np

from toposcale.analysis.scaling.bootstrap import bootstrap_fit
from toposcale.analysis.scaling.laws import fit_power_law
from toposcale.stats import spearman

#: Metric columns of ``results/metrics/{run}.parquet`` analysed against model size.
TOPO_METRICS = tuple(
    f"{d}_{m}" for d in ("h0", "h1")
    for m in ("total_persistence", "total_persistence_norm", "max_lifetime", "max_lifetime_norm",
              "n_bars", "n_significant", "entropy", "entropy_norm")
) + ("scale", "frobenius_norm", "total_variance", "mean_pairwise_distance", "neural_persistence")


def _final_layer_means(metrics, runs_df):
    """Mean over layers of each metric at each run's final step, per (run, source)."""
    df = metrics.copy()
    last = df.groupby("run")["step"].transform("max")
    df = df[df["step"] == last]
    cols = [c for c in TOPO_METRICS if c in df.columns]
    agg = df.groupby(["run", "source"], as_index=False)[cols].mean()
    info = runs_df.set_index("run")[["activation", "N"]]
    agg = agg[agg["run"].isin(info.index)]
    return agg.join(info, on="run"), cols


def topology_vs_size(metrics, runs_df, n_bootstrap: int = 1000, seed: int = 0) -> list[dict]:
    """Power law ``metric = k * N**gamma`` and Spearman rho (:func:`toposcale.stats.spearman`: exact p for
    n <= 8) of each topological metric vs N.

    Per run, the metric is taken at the run's final checkpoint and averaged over layers (the mean
    of the per-layer values, each layer weighted equally), separately for each source. Fits are
    made per activation and pooled ('all'). ``gamma`` is the log-log least-squares slope with a
    bootstrap (over runs) percentile interval; it is omitted (NaN, with a note) when a value is
    <= 0 or there are fewer than 3 runs or 2 distinct sizes.
    """
    agg, cols = _final_layer_means(metrics, runs_df)
    rows = []
    groups = [(a, agg[agg["activation"] == a]) for a in sorted(agg["activation"].unique())]
    groups.append(("all", agg))
    for source in sorted(agg["source"].unique()):
        for gname, g in groups:
            g = g[g["source"] == source]
            for m in cols:
                sub = g[["run", "N", m]].dropna()
                if sub.empty:
                    continue
                rows.append(_topo_row(source, m, gname, sub, n_bootstrap, seed))
    return rows


def _topo_row(source, metric, group, sub, n_bootstrap, seed) -> dict:
    x, y = sub["N"].to_numpy(float), sub[metric].to_numpy(float)
    rho, p = spearman(x, y)
    row = {"source": source, "metric": metric, "group": group, "n": int(len(x)),
           "gamma": float("nan"), "gamma_ci": [float("nan")] * 2, "k": float("nan"),
           "spearman_rho": rho, "spearman_p": p, "note": "",
           "points": {"run": sub["run"].tolist(), "N": x.tolist(), "value": y.tolist()}}
    if np.any(y <= 0):
        row["note"] = "values <= 0: no power law (Spearman only)"
    elif len(x) < 3 or len(np.unique(x)) < 2:
        row["note"] = "fewer than 3 runs or 2 sizes: no power law"
    else:
        pl = fit_power_law(x, y)
        b = bootstrap_fit(pl, n_bootstrap=n_bootstrap, seed=seed)
        lo, hi = b["ci"]["alpha"]
        row.update(gamma=-pl["params"]["alpha"], gamma_ci=[-hi, -lo], k=pl["params"]["A"],
                   r2=pl["r2"])
        if not np.isfinite(rho):
            row["note"] = "constant values: Spearman undefined"
    return row
