"""Short one-line statements of the analyses' key numbers, for panel (f) of the summary figure
(:func:`key_numbers`)."""

from __future__ import annotations

import numpy as np

from toposcale.analysis.dynamics import VERDICTS, null_comparison
from toposcale.analysis.forecast_summary import primary_rows
from toposcale.analysis.transitions import family_counts
from toposcale.experiments.grokking.control import control_verdict
from toposcale.report.sections import SIZE_METRICS, forecast_means, metric_kind
from toposcale.report.summary import SECTIONS
from toposcale.report.text import MissingColumns, fmt, fmt_ci, fmt_pct, require_columns
from toposcale.report.variants import dynamics_variants, variant_label


def _scaling_keys(res: dict, tables=None) -> list[str]:
    """Fitted law exponents, the fit's 'cannot decide: need ...' when it cannot decide, and holdout errors
    per activation, activation comparisons (their 'cannot decide' verdict as is), then the pooled
    topology-vs-size exponents of :data:`~toposcale.report.sections.SIZE_METRICS` (weights first), raw
    and null-adjusted with the size verdict."""
    out = []
    for act, a in res.get("activations", {}).items():
        fit = a.get("fit")
        if fit:
            for k in ("alpha", "beta"):
                if k in fit["params"]:
                    lo, hi = fit.get("ci", {}).get(k, [None, None])
                    out.append(f"{act} {a.get('law', '')} law: {k} = {fmt(fit['params'][k])} {fmt_ci(lo, hi)}")
        gate = a.get("gate") or {}
        if gate and not gate.get("decidable"):
            out.append(f"{act} {a.get('law', '')} law: {gate['message']}")
        for h in a.get("holdout", []):
            inside = ("cannot decide" if not h.get("decidable", True)
                      else "inside" if h.get("inside_interval") else "outside")
            out.append(f"{act} holdout {h.get('run')}: error {fmt_pct(h.get('rel_error_pct'))} ({inside} PI)")
    for c in res.get("comparisons", []):
        if c.get("kind") == "cannot decide":
            out.append(c["verdict"])
        elif c.get("kind"):
            out.append(f"{c.get('other')} vs {c.get('baseline')}: {c['kind']}, compute x"
                       f"{fmt(c.get('compute_multiplier'))} {fmt_ci(*(c.get('compute_multiplier_ci') or [None, None]))}")
    topo = [t for t in res.get("topology", []) if t.get("group") == "all" and t.get("metric") in SIZE_METRICS]
    for t in sorted(topo, key=lambda t: (t["source"] != "weights", t["source"], t["metric"])):
        adj = (f", null-adj. {fmt(t['gamma_adj'])} {fmt_ci(*t.get('gamma_adj_ci', [None, None]))}"
               if "gamma_adj" in t else "")
        verdict = f": {t['verdict']}" if t.get("verdict") else ""
        out.append(f"{t['source']} {t['metric']} vs N: gamma {fmt(t.get('gamma'))} "
                   f"{fmt_ci(*(t.get('gamma_ci') or [None, None]))}{adj}{verdict}")
    return out


def _dynamics_keys(df, tables=None) -> list[str]:
    require_columns(df, ["source", "metric"], "dynamics.csv")
    variants = dynamics_variants(df)     # tested variants only: raw and partial correlations are description
    if not variants:
        return ["dynamics: no tested correlation variant (raw and partial correlations are description)"]
    suf, desc = variants[-1]
    kind = metric_kind(df) + (df["variant"].map(variant_label) if "variant" in df else "")
    out = []
    for src, g in df.assign(kind=kind).groupby("source", sort=True):
        parts = [f"{int(h[f'significant{suf}'].fillna(False).astype(bool).sum())}/{len(h)} {k}"
                 for k, h in g.groupby("kind", sort=True)]
        out.append(f"{src}: significant loss correlations ({desc}): " + ", ".join(parts))
    if "variant" in df and (df["variant"] == "null_z").any():
        for src, c in null_comparison(df, suf).groupby("source", sort=True):
            out.append(f"{src}: {VERDICTS[0]} in {int((c['verdict'] == VERDICTS[0]).sum())}/{len(c)} topological "
                       f"series, {VERDICTS[1]} in {int((c['verdict'] == VERDICTS[1]).sum())} ({desc})")
    return out


def _transitions_keys(df, tables=None) -> list[str]:
    require_columns(df, ["run", "source", "metric", "significant", "transition_frac"], "transitions.csv")
    loss = df[(df["source"] == "loss") & (df["metric"] == "val_loss")]
    sig = loss[loss["significant"].fillna(False).astype(bool)]
    out = [f"val_loss transition in {len(sig)}/{len(loss)} runs"
           + (f", at {fmt(sig['transition_frac'].min(), 2)}-{fmt(sig['transition_frac'].max(), 2)} of training"
              if len(sig) else "")]
    if {"q_value", "alpha", "p_min", "variant"} <= set(df.columns):
        for r in family_counts(df).itertuples():
            if getattr(r, "primary", False):
                out.append(f"primary transitions: {r.n_raw}/{r.n_tests} series p < {r.alpha:g} "
                           f"({fmt(r.expected_null)} by chance), {int(r.n_bh)} after BH")
            elif r.variant == "raw":
                out.append(f"{r.source} transitions (exploratory): {r.n_raw}/{r.n_tests} series p < {r.alpha:g} "
                           f"({fmt(r.expected_null)} by chance)")
    if "variant" in df and (df["variant"] == "null_z").any():
        blocks = df[(df["layer"] == "blocks") & df["metric"].str.startswith(("h0_", "h1_"))]
        for src, g in blocks.groupby("source", sort=True):
            n = {v: int(g.loc[g["variant"] == v, "significant"].fillna(False).astype(bool).sum()) for v in ("raw", "null_z")}
            out.append(f"{src} block-mean topology: {n['raw']} raw / {n['null_z']} null_z series with a transition "
                       f"(of {int((g['variant'] == 'raw').sum())} each)")
    return out


def _forecast_keys(df, tables=None) -> list[str]:
    summ = primary_rows(forecast_means(df, (tables or {}).get("forecast_summary")))
    ev = str(summ["evaluation"].iloc[0]).replace("_", "-") if len(summ) else ""
    fin = summ[np.isfinite(summ["mean_abs_error"].astype(float))]
    best = fin.loc[fin.groupby("fraction")["mean_abs_error"].idxmin()].sort_values("fraction")
    out = [f"forecast from {100 * float(r.fraction):g}% ({ev}): best {r.method}, mean abs. error "
           f"{fmt(r.mean_abs_error)} nats" for r in best.itertuples()]
    comp = (tables or {}).get("forecast_comparisons")
    if comp is not None and {"fraction", "method", "reference", "verdict"} <= set(comp.columns):
        comp = primary_rows(comp)
        sel = comp[(comp["method"] == "ridge_topology_null") & (comp["reference"] == "ridge_loss")]
        out += [f"forecast from {100 * float(r.fraction):g}% ({ev}): null-adjusted topology vs loss-only ridge: "
                f"{r.verdict}" for r in sel.sort_values("fraction").itertuples()]
    return out


def _pretrained_keys(df, tables=None) -> list[str]:
    require_columns(df, ["model", "corpus", "expansion_ratio"], "pretrained.csv")
    out = []
    for r in df.itertuples():
        d = r._asdict()
        out.append(f"{d['model']} on {d['corpus']}: expansion ratio {fmt(d['expansion_ratio'])} "
                   f"{fmt_ci(d.get('expansion_ratio_lo'), d.get('expansion_ratio_hi'))}")
        if "expansion_ratio_null" in d:
            finding = d.get("expansion_finding")
            out.append(f"{d['model']} on {d['corpus']}: vs null {fmt(d['expansion_ratio_null'])} "
                       f"{fmt_ci(d.get('expansion_ratio_null_lo'), d.get('expansion_ratio_null_hi'))}"
                       + (f", {finding}" if isinstance(finding, str) and finding else ""))
    return out


def _grokking_keys(df, tables=None) -> list[str]:
    require_columns(df, ["metric", "kind", "separates", "verdict"], "grokking.csv")
    out = []
    matched = "q_matched" in df        # 'separates' of a table before the time-matched test is not a verdict
    for kind, g in df.groupby("kind", sort=True):
        sep = g["separates"].fillna(False).astype(bool) & matched
        out.append(f"grokking, {kind} measures: {int(sep.sum())}/{len(g)} separate pre/post at matched steps, "
                   f"{int((sep & (g['verdict'] == 'before')).sum())} move first")
    if "finding" in df:
        topo = df[df["kind"] == "topological"]
        out.append(f"grokking, topological measures beyond their Gaussian null: "
                   f"{int(topo['finding'].isin(['topology beyond geometry', 'beyond the gaussian null only']).sum())}"
                   f"/{len(topo)}")
    ctrl = (tables or {}).get("grokking_control")
    if ctrl is not None and {"decided", "expected", "ok"} <= set(ctrl.columns):
        out.append(f"grokking positive control {control_verdict(ctrl)}")
    if ctrl is not None and {"arm", "loop_exceeds_null"} <= set(ctrl.columns):
        exceeds = ctrl["loop_exceeds_null"].astype(str).str.lower() == "true"
        out.append("grokking plane loop beyond its null: " + ", ".join(
            f"{int(exceeds[ctrl['arm'] == arm].sum())}/{int((ctrl['arm'] == arm).sum())} {arm}"
            for arm in ("grok", "control")))
    return out


#: Section key -> its key-number builder.
KEY_BUILDERS = {"scaling": _scaling_keys, "dynamics": _dynamics_keys, "forecast": _forecast_keys,
                "transitions": _transitions_keys, "grokking": _grokking_keys, "pretrained": _pretrained_keys}


def key_numbers(tables: dict, max_per_section: int = 6) -> list[str]:
    """Short one-line statements of the key numbers, for the summary figure.

    Parameters
    ----------
    tables : dict
        Table key (:data:`TABLE_KEYS`) -> the loaded table (the dict of scaling.json, or a
        DataFrame); None entries are skipped; auxiliary tables refine their section's lines.
    max_per_section : int
        At most this many lines per section (the first ones, in table order).

    Returns
    -------
    list of str
        Lines such as ``'gelu compute law: alpha = 0.121 [0.106, 0.130]'``; a table lacking needed
        columns contributes nothing.
    """
    out = []
    for key, _ in SECTIONS:
        table = tables.get(key)
        if table is None or key not in KEY_BUILDERS:
            continue
        try:
            out += KEY_BUILDERS[key](table, tables)[:max_per_section]
        except (MissingColumns, KeyError, TypeError, ValueError):
            continue
    return out
