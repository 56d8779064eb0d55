"""Variants of the analysis tables shared by the summary text (:mod:`toposcale.report.sections`), the key
numbers and the figures: the correlation variants of ``analysis/dynamics.csv``
(:func:`toposcale.analysis.dynamics.correlate`), and raw against null-adjusted (``variant`` column:
'raw' | 'null_z', issue 15) with the report's wording for it ("topology beyond geometry" only where the
null-adjusted effect survives; "explained by its null" where it does not)."""

from __future__ import annotations

from toposcale.analysis.dynamics import VERDICTS, null_comparison
from toposcale.report.text import md_table

#: Correlation variants of dynamics.csv: (column suffix, description). A variant is *tested* when its
#: ``significant`` column exists (only the detrended one: :data:`toposcale.analysis.dynamics.TESTED_SUFFIXES`);
#: the raw and partial correlations are description, not tested (their p-values were invalid for series
#: that share a trend, issue 22).
DYNAMICS_VARIANTS = (
    ("", "raw"),
    ("_partial", "partial on log(step)"),
    ("_detrended", "detrended in log(step)"),
)


#: Note where an analysis table has no null-adjusted rows (metrics written before the matched nulls).
NO_NULL_NOTE = ("No null-adjusted (null_z) series: the metrics tables predate the matched nulls (re-run the "
                "summarise step). Every result here is raw, and none can be called topology beyond geometry.")


def variant_label(variant) -> str:
    """Suffix of a row's kind label by its ``variant``: '' for raw (or missing), ' (null_z)' otherwise."""
    return "" if variant in ("raw", None) or variant != variant else f" ({variant})"


def raw_rows(df):
    """The ``variant == 'raw'`` rows of an analysis table (all rows when it has no ``variant`` column)."""
    return df[df["variant"] == "raw"] if "variant" in df else df


def dynamics_variants(df) -> list[tuple[str, str]]:
    """The tested :data:`DYNAMICS_VARIANTS` of ``df`` (a ``significant`` column) with at least one defined
    correlation."""
    return [(suf, desc) for suf, desc in DYNAMICS_VARIANTS
            if {f"rho{suf}", f"significant{suf}"} <= set(df.columns) and df[f"rho{suf}"].notna().any()]


def described_variants(df) -> list[tuple[str, str]]:
    """The :data:`DYNAMICS_VARIANTS` of ``df`` kept as description: a ``rho`` column with a defined value
    and no ``significant`` column (no p-value, never called significant)."""
    return [(suf, desc) for suf, desc in DYNAMICS_VARIANTS
            if f"rho{suf}" in df.columns and f"significant{suf}" not in df.columns and df[f"rho{suf}"].notna().any()]


def null_verdict_lines(df, variants) -> list[str]:
    """Per source and topological metric: series whose raw correlation is significant, whose null_z one
    is, and the verdicts of :func:`toposcale.analysis.dynamics.null_comparison` for each variant."""
    if "variant" not in df or not (df["variant"] == "null_z").any():
        return [NO_NULL_NOTE, ""]
    out = []
    if "n_degenerate_dropped" in df:
        per_series = df.drop_duplicates(["run", "source", "layer"])["n_degenerate_dropped"]
        out += [f"Degenerate clouds left out of the series: {int(per_series.sum())} checkpoints in "
                f"{int((per_series > 0).sum())} (run, source, layer) series.", ""]
    header, rows = ["source", "metric", "pairs"], {}
    for suf, desc in variants:
        cmp = null_comparison(df, suf)
        desc = desc if suf else "plain Spearman"       # 'raw' here would read as raw values
        header += [f"{VERDICTS[0]} ({desc})", f"beyond some nulls only ({desc})", f"{VERDICTS[1]} ({desc})"]
        for (src, metric), g in cmp.groupby(["source", "metric"], sort=True):
            row = rows.setdefault((src, metric), [src, metric, len(g)])
            row += [int((g["verdict"] == VERDICTS[0]).sum()), int(g["verdict"].str.startswith("beyond the ").sum()),
                    int((g["verdict"] == VERDICTS[1]).sum())]
    return out + ["Raw against null-adjusted: each topological series is correlated on its raw values and on its "
                  "standardised excess over each matched null (z = (metric - null mean) / null sd pooled over "
                  "+-w neighbouring checkpoints; null_z: covariance-matched Gaussian, perm_z: entry permutation "
                  "(weights), copula_z: Gaussian copula through each coordinate's marginal (activations)). A "
                  "series beats a null when that correlation is significant and its bootstrap interval excludes "
                  "0. (tested variants only) 'topology beyond geometry' = it beats every null of its source (weights: Gaussian and "
                  "permutation; activations: Gaussian and copula); 'beyond some nulls only' = it beats some "
                  "(dynamics.csv names them: heavy tails alone beat the Gaussian null); 'explained by its null' "
                  "= the raw correlation is significant but no null-adjusted one is. Counts of (run, layer) "
                  "pairs:", "", md_table(header, list(rows.values())), ""]


def forecast_null_lines(summ, comp) -> list[str]:
    """Per fraction: does topology help the forecast beyond a loss-only ridge, raw (``ridge_topology``)
    and null-adjusted (``ridge_topology_null``), in the contract's words; the header names the evaluation
    of ``comp`` (pass the rows of one evaluation, the primary one)."""
    if "ridge_topology_null" not in set(summ["method"]):
        return [NO_NULL_NOTE, ""] if "ridge_topology" in set(summ["method"]) else []
    need = {"fraction", "method", "reference", "verdict"}
    if comp is None or not need <= set(comp.columns):
        return []
    v = comp.set_index(["fraction", "method", "reference"])["verdict"]
    lines = []
    for f in sorted(comp["fraction"].unique()):
        raw, null = (v.get((f, m, "ridge_loss"), "n/a") for m in ("ridge_topology", "ridge_topology_null"))
        if str(null).startswith("cannot decide"):
            what = null
        elif null == "better":
            what = "null-adjusted topology features improve on the loss-only ridge: topology beyond geometry"
        elif raw == "better":
            what = ("raw topology features improve on the loss-only ridge but null-adjusted ones do not: the "
                    "gain is explained by its null (covariance-matched Gaussian)")
        else:
            what = (f"neither raw ({raw}) nor null-adjusted ({null}) topology features improve on the "
                    f"loss-only ridge")
        lines.append(f"- {100 * float(f):g}% of training: {what}.")
    ev = f", {comp['evaluation'].iloc[0]}" if "evaluation" in comp and len(comp) else ""
    return [f"Raw against null-adjusted topology (ridge_topology / ridge_topology_null minus ridge_loss{ev}):",
            ""] + lines + [""]
