"""Topological metrics against model size, raw and null-adjusted: ``metric = k * N**gamma`` and
``metric / null_mean = k' * N**gamma_adj``, with a verdict per metric.

Why the null-adjusted law: a weight cloud has one point per hidden unit, so its point count grows with
width, and ``h0_total_persistence_norm`` grows with point count for *any* cloud. A raw size exponent
therefore mixes topology with geometry; dividing by the matched null's mean removes what a cloud with the
same point count, dimension and covariance (:mod:`toposcale.topology.nulls`) would give (DESIGN.md 5b).
"""

from __future__ import annotations

import numpy as np

from toposcale.plan.decidability import CANNOT_DECIDE, MIN_RESIDUAL_DOF, SIZE_FIT_PARAMS, fit_gate
from toposcale.stats import jackknife_t_ci, loglog_fit, spearman
from toposcale.topology.metrics import METRIC_COLUMNS
from toposcale.topology.nulls import BEYOND as _BEYOND, EXPLAINED as _EXPLAINED, null_label

#: Metric columns of ``results/metrics/{run}.parquet`` analysed against model size.
TOPO_METRICS = tuple(
    f"{d}_{m}" for d in ("h0", "h1")
    for m in ("total_persistence", "total_persistence_norm", "max_lifetime", "max_lifetime_norm",
              "n_bars", "n_significant", "entropy", "entropy_norm")
) + ("scale", "frobenius_norm", "total_variance", "mean_pairwise_distance", "neural_persistence")

#: Metrics that have null columns (issue 15 contract); the others are geometric baselines, which the
#: covariance-matched null reproduces by construction, so they get no null-adjusted law.
NULL_METRICS = METRIC_COLUMNS + ("scale",)

#: Column suffix of each null kind's mean and sd (``{m}_null_mean``...), and its name in text.
NULLS = {"null": "covariance-matched Gaussian", "perm": "entry permutation", "copula": "Gaussian copula"}
#: Null kind (:mod:`toposcale.topology.nulls`) of each column prefix.
NULL_KIND = {"null": "gaussian", "perm": "permutation", "copula": "copula"}

#: Fewest distinct model sizes a size verdict needs: the log-log fit has 2 parameters (k, gamma) and a
#: verdict needs >= 3 residual degrees of freedom (:data:`toposcale.plan.decidability.MIN_RESIDUAL_DOF`).
MIN_SIZES = SIZE_FIT_PARAMS + MIN_RESIDUAL_DOF

#: Verdict wording (issue 15 contract); "topology beyond geometry" needs every null of the source (issue 22,
#: :func:`combined_verdict`).
BEYOND = _BEYOND
EXPLAINED = _EXPLAINED
NO_TREND = "no size trend"
#: Every required null beaten, in opposite directions (:func:`combined_verdict`).
NULL_DEPENDENT = "null-dependent: "
FEW_SIZES = f"{CANNOT_DECIDE}: need >= {MIN_SIZES} sizes"
NO_NULL = "no null columns: rerun summarise"
BASELINE = "geometric baseline: no null"


def _degenerate_mask(df) -> np.ndarray:
    if "degenerate" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return df["degenerate"].fillna(False).astype(bool).to_numpy()


def _final_rows(metrics, runs_df):
    """Each run's final-checkpoint rows of the runs in ``runs_df``, with ``activation``, ``N`` (and ``target``)
    joined."""
    df = metrics[metrics["step"] == metrics.groupby("run")["step"].transform("max")]
    cols = ["activation", "N"] + (["target"] if "target" in runs_df.columns else [])
    info = runs_df.set_index("run")[cols]
    df = df[df["run"].isin(info.index)].drop(columns=cols, errors="ignore")
    return df.join(info, on="run")


def _layer_means(df, m: str):
    """Per (run, source): the layer mean of ``m`` and of its nulls (module doc of :func:`topology_vs_size`)."""
    keys = ["run", "source", "activation", "N"] + (["target"] if "target" in df.columns else [])
    v = df[m].astype(float)
    out = df.assign(_v=v).groupby(keys, as_index=False).agg(value=("_v", "mean"))
    for kind in NULLS:
        mc, sc = f"{m}_{kind}_mean", f"{m}_{kind}_sd"
        if mc not in df.columns:
            continue
        both = np.isfinite(v) & np.isfinite(df[mc].astype(float))
        sd = df.loc[both, sc].astype(float) if sc in df.columns else np.nan
        sub = df[both].assign(_v=v[both], _m=df.loc[both, mc].astype(float), _s2=sd ** 2)
        g = sub.groupby(keys, as_index=False).agg(_vm=("_v", "mean"), _mm=("_m", "mean"),
                                                  _s2=("_s2", lambda a: a.sum(min_count=len(a))),
                                                  _n=("_v", "size"))
        with np.errstate(divide="ignore", invalid="ignore"):
            g[f"{kind}_ratio"] = g["_vm"] / g["_mm"]
        g[f"{kind}_mean"] = g["_mm"]
        g[f"{kind}_sd"] = np.sqrt(g["_s2"]) / g["_n"]
        out = out.merge(g[keys + [f"{kind}_mean", f"{kind}_sd", f"{kind}_ratio"]], on=keys, how="left")
    return out


def _fit(x, y, n_bootstrap: int, seed: int, sizes=None) -> dict:
    """``y = k x**gamma`` by log-log least squares (:func:`toposcale.stats.loglog_fit`) with a 95% interval
    on gamma over sizes: the jackknife-t interval (:func:`toposcale.stats.jackknife_t_ci`,
    :data:`toposcale.stats.CLUSTER_INTERVAL`) of the slope refitted with each size's runs left out in turn,
    on ``G - 2`` degrees of freedom (``G`` distinct sizes, 2 fitted parameters); ``sizes`` = the size label
    of each point, default ``x``. Seeds of one size share that size's deviation from the law, so resampling
    runs one by one would treat them as independent and narrow the interval; the percentile cluster
    bootstrap over 6-7 sizes under-covers (0.87-0.90 for a nominal 0.95; issue 22 point 7), the
    jackknife-t covers 0.93-0.96 (``benchmarks/interval_coverage.py``). ``n_bootstrap`` and ``seed`` are
    not used (the interval is deterministic); they stay for the callers' signature. ``n_sizes`` is the
    number of distinct sizes the fit was made on."""
    nan = float("nan")
    labels = np.asarray(x if sizes is None else sizes)
    levels = np.unique(labels)
    out = {"gamma": nan, "ci": [nan, nan], "k": nan, "r2": nan, "note": "", "n_sizes": int(len(levels))}
    if not np.all(np.isfinite(y)) or np.any(y <= 0):
        out["note"] = "values <= 0: no power law (Spearman only)"
    elif len(x) < 3 or len(np.unique(x)) < 2:
        out["note"] = "fewer than 3 runs or 2 sizes: no power law"
    else:
        fit = loglog_fit(x, y, clusters=labels)
        lo, hi = jackknife_t_ci(fit["slope"], fit["loo_slopes"], df=len(levels) - SIZE_FIT_PARAMS)
        out.update(gamma=fit["slope"], ci=[lo, hi], k=float(np.exp(fit["intercept"])), r2=fit["r2"])
    return out


def excludes_zero(ci) -> bool:
    """Whether a finite interval ``(lo, hi)`` lies wholly above or wholly below 0."""
    lo, hi = (float("nan") if v is None else float(v) for v in ci)
    return bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0))


def size_verdict(gamma_ci, adj_ci, n_sizes: int, has_null: bool, adj_note: str = "") -> str:
    """Verdict of one size fit (issue 15 contract).

    ``"cannot decide: need >= 5 sizes"`` below :data:`MIN_SIZES` distinct sizes; else ``"no null columns:
    rerun summarise"`` when the metrics table has no ``{m}_null_mean``; else ``"cannot decide: <why>"``
    when the null-adjusted law could not be fitted; else ``"topology beyond geometry"`` when ``adj_ci``
    (of ``gamma_adj``) excludes 0, ``"explained by its null"`` when only ``gamma_ci`` (raw) does, and
    ``"no size trend"`` when neither does.
    """
    if n_sizes < MIN_SIZES:
        return FEW_SIZES
    if not has_null:
        return NO_NULL
    if not all(np.isfinite(float(v)) if v is not None else False for v in adj_ci):
        return f"cannot decide: {adj_note or 'null-adjusted interval undefined'}"
    if excludes_zero(adj_ci):
        return BEYOND
    return EXPLAINED if excludes_zero(gamma_ci) else NO_TREND


def combined_verdict(source: str, gamma_ci, per_null: dict, signs: dict | None = None) -> str:
    """The size verdict of a metric named by the nulls it beats (issue 22).

    ``per_null`` maps a column prefix ('null', 'perm', 'copula') to its :func:`size_verdict` ('' or absent:
    no such null). Where the Gaussian null's verdict is a decision (:data:`BEYOND`, :data:`EXPLAINED`,
    :data:`NO_TREND`), a null is beaten when its verdict is :data:`BEYOND` and the label is
    :func:`toposcale.topology.nulls.null_label`'s: 'topology beyond geometry' only when every null of the
    source (weights: Gaussian and permutation; activations: Gaussian and copula) is beaten, 'beyond the
    <kinds> null only' when some are, else the Gaussian verdict. Otherwise (cannot decide, no null columns)
    the Gaussian null's verdict. ``signs`` (prefix -> sign of that null's ``gamma_adj``): when every
    required null is beaten but in opposite directions (e.g. weight clouds that grow more slowly with N than
    their Gaussian null and faster than their entry permutation), the metric is not "beyond geometry" in
    any one direction, and the verdict says so: ``'null-dependent: below the gaussian null, above the
    permutation null'``.

    Examples
    --------
    >>> combined_verdict("weights", [0.04, 0.26], {"null": BEYOND, "perm": BEYOND}, {"null": -1, "perm": 1})
    'null-dependent: below the gaussian null, above the permutation null'
    >>> combined_verdict("weights", [0.04, 0.26], {"null": BEYOND, "perm": BEYOND}, {"null": -1, "perm": -1})
    'topology beyond geometry'
    """
    gauss = per_null.get("null", "")
    if gauss not in (BEYOND, EXPLAINED, NO_TREND):
        return gauss
    beats = {NULL_KIND[k]: (v == BEYOND) if v in (BEYOND, EXPLAINED, NO_TREND) else None
             for k, v in per_null.items() if v}
    label, _ = null_label(source, beats, excludes_zero(gamma_ci))
    beaten = [k for k, v in per_null.items() if v == BEYOND]
    if label == BEYOND and signs and len({signs.get(k) for k in beaten}) > 1:
        return NULL_DEPENDENT + ", ".join(f"{'below' if signs[k] < 0 else 'above'} the {NULL_KIND[k]} null"
                                          for k in beaten)
    return label if label.startswith(("topology beyond", "beyond the ")) else gauss


def topology_vs_size(metrics, runs_df, n_bootstrap: int = 1000, seed: int = 0) -> list[dict]:
    """Raw and null-adjusted power laws of each topological metric against N, with a verdict.

    Per run and source, the metric ``m`` is taken at the run's final checkpoint over the layers whose
    cloud is not degenerate (``degenerate == True`` rows are excluded from every fit and counted):

    * raw: ``value`` = mean over layers of ``m`` (each layer weighted equally); ``m = k N**gamma``.
    * null-adjusted (per null kind, ``null`` = covariance-matched Gaussian, ``perm`` = entry permutation,
      weights only): over the layers where ``m`` and ``{m}_{kind}_mean`` are both finite, the ratio of
      layer means ``mean_l(m) / mean_l({m}_{kind}_mean)``; ``ratio = k' N**gamma_adj``. A ratio of means
      (not a mean of ratios) makes ``gamma_adj = gamma - gamma_null`` exactly, with ``gamma_null`` the
      exponent of the null's own layer mean: the raw trend minus the trend any matched cloud has. The
      sd of the null's layer mean, ``sqrt(sum_l sd_l**2) / L`` (null draws of different layers are
      independent), is kept for the figure's band.

    Fits are log-log least squares (``N`` = non-embedding parameters) with a 95% jackknife-t interval over
    sizes (:func:`_fit`: all runs of a left-out size together, in the pooled fit both activations' runs of
    that size too; ``G - 2`` degrees of freedom), made per activation and pooled ('all').
    A size is a value of ``runs_df['target']`` (the config's target size, shared by the activations)
    when that column exists, else of ``N``; the verdict needs :data:`MIN_SIZES` distinct sizes
    (``gate``: :func:`toposcale.plan.decidability.fit_gate` with 2 parameters).
    A fit is omitted (NaN, with a note) when a value is <= 0 or there are fewer than 3 runs or 2 sizes.

    Returns
    -------
    list of dict
        One per (source, metric, group): ``gamma``, ``gamma_ci``, ``k``, ``spearman_rho``/``_p`` (raw,
        :func:`toposcale.stats.spearman`), ``gamma_null``/``_ci`` (the Gaussian null's layer mean),
        ``gamma_adj``/``_ci``/``k_adj``, ``gamma_perm_adj``/``_ci`` (NaN without ``{m}_perm_mean``),
        ``gamma_copula_adj``/``_ci`` (NaN without ``{m}_copula_mean``), ``verdict_null`` (:func:`size_verdict`
        on the Gaussian null), ``verdict_perm``, ``verdict_copula`` ('' without that null), ``verdict``
        (:func:`combined_verdict`: named by the nulls it beats; :data:`BASELINE` for metrics outside
        :data:`NULL_METRICS`), ``n``, ``n_sizes`` (distinct sizes of the raw fit),
        ``n_sizes_adj`` / ``n_sizes_{perm,copula}_adj`` (distinct sizes of the null-adjusted fits, which leave out
        runs whose null mean is not finite; 0 without null columns), ``gate`` (decidable, have, need,
        message; on the fewer sizes of the raw and the Gaussian-null-adjusted fit: the verdict rests on
        both),
        ``n_degenerate`` (clouds excluded), ``degenerate_clouds`` ('run/layer'), ``note`` and ``points``
        (per run: run, N, value, null_mean, null_sd, null_ratio, perm_mean, perm_sd, perm_ratio).
    """
    df = _final_rows(metrics, runs_df)
    degen = _degenerate_mask(df)
    flagged = df[degen]
    df = df[~degen]
    cols = [c for c in TOPO_METRICS if c in df.columns]
    groups = sorted(df["activation"].unique()) + ["all"]
    rows = []
    for m in cols:
        agg = _layer_means(df, m)
        agg = agg[np.isfinite(agg["value"].to_numpy(float))]
        flag_by_source = dict(tuple(flagged.groupby("source"))) if len(flagged) else {}
        for source, sg in agg.groupby("source", sort=True):
            for gname in groups:
                g = sg if gname == "all" else sg[sg["activation"] == gname]
                if g.empty:
                    continue
                fs = flag_by_source.get(source, flagged.iloc[:0])
                fl = fs[fs["run"].isin(g["run"])]
                rows.append(_topo_row(source, m, gname, g, fl, n_bootstrap, seed))
    return rows


def _topo_row(source, metric, group, g, flagged, n_bootstrap, seed) -> dict:
    x, y = g["N"].to_numpy(float), g["value"].to_numpy(float)
    rho, p = spearman(x, y)
    sizes = g["target"].to_numpy() if "target" in g.columns else x
    raw = _fit(x, y, n_bootstrap, seed, sizes)
    n_sizes = int(len(np.unique(sizes)))
    gate = fit_gate(n_sizes, SIZE_FIT_PARAMS, "sizes")
    nan = float("nan")
    row = {"source": source, "metric": metric, "group": group, "n": int(len(x)), "n_sizes": n_sizes,
           "gate": gate, "gamma": raw["gamma"], "gamma_ci": raw["ci"], "k": raw["k"], "spearman_rho": rho,
           "spearman_p": p, "note": raw["note"],
           "n_degenerate": int(len(flagged)),
           "degenerate_clouds": [f"{r}/{l}" for r, l in zip(flagged["run"], flagged["layer"])]
           if "layer" in flagged.columns else []}
    if np.isfinite(raw["r2"]):
        row["r2"] = raw["r2"]
        if not np.isfinite(rho):
            row["note"] = "constant values: Spearman undefined"
    points = {"run": g["run"].tolist(), "N": x.tolist(), "value": y.tolist()}
    for kind in NULLS:
        pre = "" if kind == "null" else f"{kind}_"
        has = f"{kind}_ratio" in g.columns and bool(np.isfinite(g[f"{kind}_ratio"]).any())
        adj = {"gamma": nan, "ci": [nan, nan], "k": nan, "note": "no null columns"}
        if has:
            keep = np.isfinite(g[f"{kind}_ratio"]).to_numpy()
            s = g[keep]
            adj = _fit(s["N"].to_numpy(float), s[f"{kind}_ratio"].to_numpy(float), n_bootstrap, seed,
                       sizes[keep])
            for c in ("mean", "sd", "ratio"):
                points[f"{kind}_{c}"] = g[f"{kind}_{c}"].tolist()
            if kind == "null":
                nul = _fit(s["N"].to_numpy(float), s["null_mean"].to_numpy(float), n_bootstrap, seed,
                           sizes[keep])
                row.update(gamma_null=nul["gamma"], gamma_null_ci=nul["ci"])
        row.update({f"gamma_{pre}adj": adj["gamma"], f"gamma_{pre}adj_ci": adj["ci"],
                    f"k_{pre}adj": adj["k"]})
        # the verdict rests on both fits: gate on the fewer sizes of the two (the adjusted fit drops the
        # runs whose null mean is not finite)
        n_used = min(n_sizes, adj["n_sizes"]) if has else n_sizes
        if kind == "null":
            row.setdefault("gamma_null", nan)
            row.setdefault("gamma_null_ci", [nan, nan])
            row["n_sizes_adj"] = adj["n_sizes"] if has else 0
            if n_used < n_sizes:
                row["gate"] = fit_gate(n_used, SIZE_FIT_PARAMS, "sizes in the null-adjusted fit")
            row["verdict_null"] = size_verdict(raw["ci"], adj["ci"], n_used, has, adj["note"]) \
                if metric in NULL_METRICS else BASELINE
            if has and adj["note"]:
                row["note_adj"] = adj["note"]
        else:
            row[f"n_sizes_{kind}_adj"] = adj["n_sizes"] if has else 0
            row[f"verdict_{kind}"] = size_verdict(raw["ci"], adj["ci"], n_used, has, adj["note"]) \
                if has else ""
    signs = {k: float(np.sign(row.get(f"gamma_{'' if k == 'null' else k + '_'}adj", nan))) for k in NULLS}
    row["verdict"] = combined_verdict(source, raw["ci"], {k: row.get(f"verdict_{k}", "") for k in NULLS}, signs) \
        if metric in NULL_METRICS and source in ("weights", "activations") else row["verdict_null"]
    row["points"] = points
    return row
