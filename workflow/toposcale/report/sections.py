"""The sections of the summary: one builder per analysis table, each returning the section's Markdown
lines (see :mod:`toposcale.report.summary` for the tables and the rules every section follows)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toposcale.analysis.forecast_summary import EVALUATION_WORDS, evaluations_of, note_of, primary_rows
from toposcale.analysis.forecasting import EVALUATIONS
from toposcale.report.alignment_section import alignment_lines
from toposcale.report.stages_section import stages_lines
from toposcale.report.transitions_section import TRANSITION_VERDICT, transitions_lines  # noqa: F401 (re-exported)
from toposcale.analysis.scaling.holdout import MAX_REL_ERROR_PCT, PREDICTED
from toposcale.operating.nulls import VERDICT as NULL_VERDICT
from toposcale.operating.scaling import (VERDICT_DIFFER as SCALING_VERDICT_DIFFER,
                                         VERDICT_HOLDOUT as SCALING_VERDICT_HOLDOUT,
                                         VERDICT_SHIFT as SCALING_VERDICT_SHIFT,
                                         VERDICT_STAGES as SCALING_VERDICT_STAGES)
from toposcale.report.operating import operating_section, power_note
from toposcale.report.experiment_sections import grokking_lines, pretrained_lines
from toposcale.report.text import (MissingColumns, count_share, fmt, fmt_ci, fmt_pct, is_finite, lacks_note, md_table,
                                   require_columns, runs_phrase)
from toposcale.report.variants import (DYNAMICS_VARIANTS, described_variants, dynamics_variants,
                                      forecast_null_lines, null_verdict_lines, raw_rows, variant_label)


#: Metrics quoted from the topology-vs-size fits of scaling.json.
SIZE_METRICS = ("h0_total_persistence_norm", "h1_total_persistence_norm")
#: The operating-characteristics keys (:mod:`toposcale.operating.scaling`) of the scaling section's verdicts:
#: the holdout verdict, the activation comparison's 'exponent shift' and its 'exponent shift or offset only'
#: (whose complement is 'not distinguishable'), and the stage gate's refusal. The fit gate's 'cannot decide:
#: need ... sizes' is a count of the design, not a test, and has no row.
SCALING_OC = {"holdout": SCALING_VERDICT_HOLDOUT, "shift": SCALING_VERDICT_SHIFT, "differ": SCALING_VERDICT_DIFFER,
              "stages": SCALING_VERDICT_STAGES}
#: Rows of the dynamics ranking table per source.
DYNAMICS_TOP = 8


def scaling_lines(res: dict, aux: dict | None = None) -> list[str]:
    """Scaling section: whether each activation's fit can decide (its ``gate``: 'cannot decide: need ...'
    below 3 residual degrees of freedom), per activation the fitted law with 95% CIs, holdout predictions
    (predicted, prediction interval, observed, relative error; 'inside interval' reads 'cannot decide'
    for an undecidable fit; the naive prediction's error and the holdout verdict), the activation
    comparison (or why there is none) and topology-vs-size
    exponents of :data:`SIZE_METRICS` for the pooled ('all') group, raw (``metric ~ N**gamma``) and
    null-adjusted (``metric / null mean ~ N**gamma_adj``) side by side with the size verdict. With the
    operating-characteristics table (``aux['operating']``) each verdict of :data:`SCALING_OC` gets its power
    and false-positive rates beside it."""
    if not isinstance(res, dict) or "activations" not in res:
        raise MissingColumns("scaling.json has no 'activations' entry, so this section is skipped")
    out = []
    settings = res.get("settings", {})
    level = settings.get("ci_level", 0.95)
    pct = f"{100 * float(level):g}%"
    if settings:
        out.append(f"Loss = {settings.get('loss', 'final validation loss')}; compute = "
                   f"{settings.get('compute', 'C = 6 N D')}; intervals are {pct} bootstrap intervals "
                   f"({settings.get('n_bootstrap', 'n/a')} resamples: "
                   f"{settings.get('resampling', 'bootstrap over runs')}).")
        out.append("")
    fit_rows, hold_rows, gates = [], [], []
    for act, a in res["activations"].items():
        gate = a.get("gate")
        if gate:
            law = {"compute": "L(C)", "chinchilla": "L(N, D)"}.get(a.get("law"), a.get("law"))
            gates.append(f"- {act} {law}: {gate['message']}")
        pgate = a.get("power_law_gate")
        if pgate and a.get("power_law") and not pgate["decidable"]:
            gates.append(f"- {act} pure power law: {pgate['message']}")
        fit = a.get("fit")
        if fit:
            for k, v in fit["params"].items():
                lo, hi = fit.get("ci", {}).get(k, [None, None])
                fit_rows.append([act, a.get("law", "?"), k, fmt(v, 4), fmt_ci(lo, hi, 4), a.get("n_fit", "n/a")])
        pl = a.get("power_law")
        if pl:
            for k, v in pl["params"].items():
                lo, hi = pl.get("ci", {}).get(k, [None, None])
                fit_rows.append([act, "power (no offset)", k, fmt(v, 4), fmt_ci(lo, hi, 4), a.get("n_fit", "n/a")])
        for h in a.get("holdout", []):
            inside = fmt(h.get("inside_interval")) if h.get("decidable", True) else "cannot decide"
            hold_rows.append([h.get("run"), act, fmt(h.get("observed"), 4), fmt(h.get("predicted"), 4),
                              fmt_ci(h.get("pi_lo"), h.get("pi_hi"), 4), fmt_pct(h.get("rel_error_pct")),
                              inside, fmt_pct(h.get("power_law_rel_error_pct")),
                              fmt_pct(h.get("naive_rel_error_pct")), h.get("verdict") or "not computed"])
    oc = (aux or {}).get("operating")
    if gates:
        out += ["Can each fit decide? (a verdict needs >= 3 residual degrees of freedom: distinct fitted "
                "sizes minus the law's parameters; below that its intervals are descriptive only):", ""] + gates + [""]
    if oc is not None and any(a.get("stage_gate") for a in res["activations"].values()):
        out += [f"Stage gate ('{SCALING_OC['stages']}'): {power_note(oc, SCALING_OC['stages'])}.", ""]
    if fit_rows:
        out += [f"Fitted laws (non-holdout runs; {pct} CIs):", "",
                md_table(["activation", "law", "parameter", "estimate", f"{pct} CI", "runs"], fit_rows), ""]
    else:
        out += ["No scaling law was fitted (see the notes below).", ""]
    if hold_rows:
        out += ["Holdout prediction (loss in nats/token; relative error = (predicted - observed) / observed):",
                "", md_table(["holdout run", "activation", "observed", "predicted", f"{pct} prediction interval",
                              "rel. error", "inside interval", "pure power law rel. error",
                              "naive rel. error", "verdict"], hold_rows), ""]
        out += [f"Holdout verdict: '{PREDICTED}' needs an error within {MAX_REL_ERROR_PCT:g}%, the observed loss "
                f"inside its {pct} prediction interval, and the naive prediction (the largest fitted size's mean "
                f"loss) outside that interval with a larger error.", ""]
        if oc is not None:
            out += [f"Operating characteristics of '{SCALING_OC['holdout']}': "
                    f"{power_note(oc, SCALING_OC['holdout'])}.", ""]
    out += _envelope_lines(res.get("envelope") or {}, pct)
    for c in res.get("comparisons", []):
        if c.get("verdict"):
            out += [f"Activation comparison: {c['verdict']}", ""]
            if oc is not None:
                out += [f"Operating characteristics of '{SCALING_OC['shift']}': {power_note(oc, SCALING_OC['shift'])}. "
                        f"'{SCALING_OC['differ']}' (the complement: 'not distinguishable'): "
                        f"{power_note(oc, SCALING_OC['differ'])}.", ""]
    if not res.get("comparisons") and res.get("verdict"):
        out += [f"Activation comparison: {res['verdict']}", ""]
    out += _size_lines(res.get("topology", []), pct, oc)
    notes = list(res.get("notes", [])) + [f"{act}: {n}" for act, a in res["activations"].items()
                                          for n in a.get("notes", [])]
    if notes:
        out += ["Notes from the analysis:", ""] + [f"- {n}" for n in notes] + [""]
    return out



def _envelope_lines(envelope: dict, pct: str) -> list[str]:
    """The lower-envelope law (every checkpoint of the fitted runs as an (N, D, loss) point,
    :func:`toposcale.analysis.scaling.envelope.envelope_fit`): alpha with its interval and the holdout check
    beside the naive prediction, per activation. Description only: the intermediate checkpoints of a cosine
    run are not annealed (the envelope lies above the compute-optimal curve) and the envelope crosses the
    n-gram stages."""
    rows, notes = [], []
    for act, e in envelope.items():
        if e.get("note"):
            notes.append(f"- {act}: {e['note']}")
        alpha = fmt(e.get("params", {}).get("alpha"), 3)
        lo, hi = e.get("ci", {}).get("alpha", [None, None])
        for h in e.get("holdout", []):
            rows.append([h.get("run"), act, f"{e.get('n_envelope', 'n/a')} of {e.get('n_points', 'n/a')}",
                         f"{alpha} {fmt_ci(lo, hi, 3)}", fmt(h.get("observed"), 4), fmt(h.get("predicted"), 4),
                         fmt_ci(h.get("pi_lo"), h.get("pi_hi"), 4), fmt_pct(h.get("rel_error_pct")),
                         fmt_pct(h.get("naive_error_pct"))])
    if not rows and not notes:
        return []
    out = ["Lower envelope of every checkpoint (Chinchilla's first approach; description, not a verdict: "
           "intermediate checkpoints of a cosine run are not annealed, so the envelope lies above the "
           "compute-optimal curve, and it crosses the n-gram stages):", ""]
    if rows:
        out += [md_table(["holdout run", "activation", "envelope points", f"alpha ({pct} CI)", "observed",
                          "predicted", f"{pct} prediction interval", "rel. error", "naive rel. error"], rows), ""]
    return out + notes + ([""] if notes else [])


#: How the summary spells the size verdicts of :func:`toposcale.analysis.scaling.size_verdict`.
_VERDICT_TEXT = {"explained by its null": "explained by its null (covariance-matched Gaussian)"}


def _size_lines(topology: list, pct: str, oc=None) -> list[str]:
    """Topology-vs-size table of :data:`SIZE_METRICS` (pooled group): raw exponent, Spearman rho, the
    null-adjusted exponents and the verdict side by side, a one-line tally of the verdicts and, with the
    operating-characteristics table ``oc``, the verdicts' power and false-positive rates."""
    topo = [t for t in topology if t.get("group") == "all" and t.get("metric") in SIZE_METRICS]
    if not topo:
        return []
    rows, verdicts = [], {}
    for t in topo:
        verdict = t.get("verdict")
        verdict = _VERDICT_TEXT.get(verdict, verdict) if verdict else "not computed: rerun the scaling analysis"
        verdicts.setdefault(verdict, []).append(f"{t['source']}/{t['metric']}")
        rows.append([t["source"], t["metric"], t.get("n"), fmt(t.get("gamma")),
                     fmt_ci(*(t.get("gamma_ci") or [None, None])), fmt(t.get("spearman_rho")),
                     fmt(t.get("spearman_p")), fmt(t.get("gamma_null")),
                     fmt(t.get("gamma_adj")), fmt_ci(*(t.get("gamma_adj_ci") or [None, None])),
                     fmt(t.get("gamma_perm_adj")), fmt_ci(*(t.get("gamma_perm_adj_ci") or [None, None])),
                     t.get("n_degenerate", "n/a"), verdict, t.get("note") or ""])
    out = ["Topology against model size (final checkpoint, mean over layers, all activations pooled; "
           f"N = non-embedding parameters; {pct} jackknife-t CIs over sizes: each size's runs left out in turn, "
           "t on sizes - 2 dof). "
           "Raw: metric = k N^gamma. "
           "Null-adjusted: (layer mean of the metric) / (layer mean of its null mean) = k' N^gamma_adj, "
           "so gamma_adj = gamma - gamma_null, gamma_null being the exponent of the covariance-matched "
           "Gaussian null's mean; gamma_perm_adj uses the entry-permutation null (weights). A size trend "
           "is called topology beyond geometry only where the null-adjusted CI excludes 0 for every null of "
           "its source (weights: Gaussian and entry permutation; activations: Gaussian and Gaussian copula; "
           "'beyond the <nulls> null only' where only some do; 'null-dependent' where every null is beaten but in "
           "opposite directions), and only with >= 5 "
           "distinct sizes (2 parameters, >= 3 residual dof; else 'cannot decide'); degenerate clouds "
           "are excluded from every fit and counted.", "",
           md_table(["source", "metric", "runs", "gamma", f"{pct} CI", "Spearman rho", "p", "gamma_null",
                     "gamma_adj", f"{pct} CI", "gamma_perm_adj", f"{pct} CI", "degenerate clouds excluded",
                     "verdict", "note"], rows), ""]
    out += ["Size verdicts: " + "; ".join(f"{v}: {', '.join(ms)}" for v, ms in verdicts.items()) + ".", ""]
    if oc is not None:
        from toposcale.operating.size import VERDICT_BEYOND, VERDICT_TREND

        out += [f"Operating characteristics at this design: '{VERDICT_BEYOND}': {power_note(oc, VERDICT_BEYOND)}. "
                f"'{VERDICT_TREND}': {power_note(oc, VERDICT_TREND)}.", ""]
    return out


def metric_kind(df):
    """Kind of each row's metric: the ``kind`` column, else 'topological' for ``h0_``/``h1_`` metrics and
    'baseline' for the rest."""
    if "kind" in df:
        return df["kind"]
    return df["metric"].map(lambda m: "topological" if str(m).startswith(("h0_", "h1_")) else "baseline")


def _median(series) -> float:
    v = series.to_numpy(dtype=float)
    return float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")


def dynamics_lines(df, aux: dict | None = None) -> list[str]:
    """Dynamics section: how many (run, source, layer, metric) series correlate with validation loss
    after FDR control, per source and metric kind (raw values, and the topological metrics' excess over
    their Gaussian null, ``null_z``, as kind 'topological (null_z)'), for each correlation variant
    present (raw; partial on log(step); detrended in log(step)); then the raw-vs-null verdicts
    (:func:`toposcale.report.variants.null_verdict_lines`); then per source the metrics ranked by their share of significant raw
    series under the strictest variant present (detrended, else partial, else raw), with medians over
    runs and layers."""
    require_columns(df, ["run", "source", "layer", "metric", "rho"], "dynamics.csv")
    df = df.assign(kind=metric_kind(df) + (df["variant"].map(variant_label) if "variant" in df else ""))
    variants, described = dynamics_variants(df), described_variants(df)
    absent = [desc for suf, desc in DYNAMICS_VARIANTS[1:] if f"rho{suf}" in df
              and (suf, desc) not in variants + described]
    out = [f"{runs_phrase(df['run'])}, {len(df)} (run, source, layer, metric) series: Spearman correlation "
           "of each metric with validation loss across checkpoints (step > 0). Tested: "
           + ("; ".join(desc for _, desc in variants) or "none") + ": 'significant' = Benjamini-Hochberg q "
           "within the run's family at or below the analysis' FDR level, from p-values against phase-randomised "
           "surrogates of the loss's residual around its trend (they keep the checkpoints' autocorrelation; "
           "the t approximation is in dynamics.csv as p_t_approx_detrended for comparison only). Description, "
           "not tested: " + ("; ".join(desc for _, desc in described) or "none") + " (two series that merely "
           "share a trend correlate strongly; no p-value is valid for them)."
           + (f" Undefined for every series (too few checkpoints or monotone loss): {', '.join(absent)}."
              if absent else ""), ""]
    note = power_note((aux or {}).get("operating"), "dynamics detrended correlation")
    if note:
        out[0] += f" Detrended verdict: {note}."
    header, rows = ["source", "kind", "series"], []
    for _, desc in variants:
        header += [f"significant ({desc})", f"median abs rho ({desc})"]
    for _, desc in described:
        header += [f"median abs rho ({desc}; description)"]
    for (src, k), g in df.groupby(["source", "kind"], sort=True):
        row = [src, k, len(g)]
        for suf, _ in variants:
            row += [count_share(g[f"significant{suf}"]), fmt(_median(g[f"rho{suf}"].abs()))]
        for suf, _ in described:
            row += [fmt(_median(g[f"rho{suf}"].abs()))]
        rows.append(row)
    out += [md_table(header, rows), ""]
    out += null_verdict_lines(df, variants)
    note = power_note((aux or {}).get("operating"), NULL_VERDICT)
    if note and "variant" in df and (df["variant"] == "null_z").any():
        out += [f"'topology beyond geometry' along training: {note}.", ""]
    if not variants:
        return out + ["No tested correlation variant in dynamics.csv (too few checkpoints to detrend): no "
                      "metric is called significant.", ""]
    rank_suf, rank_desc = variants[-1]
    shown = variants + described
    for src, g in raw_rows(df).groupby("source", sort=True):
        agg = []
        for (metric, k), h in g.groupby(["metric", "kind"], sort=True):
            agg.append({"metric": metric, "kind": k, "series": len(h),
                        "share": float(h[f"significant{rank_suf}"].fillna(False).astype(bool).mean()),
                        **{f"med{suf}": _median(h[f"rho{suf}"]) for suf, _ in shown}})
        agg.sort(key=lambda r: (-r["share"], -abs(r.get(f"med{rank_suf}", 0.0))
                                if is_finite(r.get(f"med{rank_suf}")) else 0.0, r["metric"]))
        top = agg[:DYNAMICS_TOP]
        header = ["metric", "kind", "series", f"share significant ({rank_desc})"] + [
            f"median rho ({desc})" for _, desc in variants] + [f"median rho ({desc}; description)"
                                                                for _, desc in described]
        rows = [[r["metric"], r["kind"], r["series"], f"{100 * r['share']:.0f}%"]
                + [fmt(r[f"med{suf}"]) for suf, _ in shown] for r in top]
        out += [f"{src}: metrics ranked by share of series with a significant correlation ({rank_desc}; "
                f"top {len(top)} of {len(agg)}; medians over runs and layers):", "", md_table(header, rows), ""]
    return out


def forecast_means(df, summary=None):
    """Per (evaluation, fraction, method) mean errors: the ``forecast_summary`` table when given (with
    bootstrap intervals), else the means over runs of the rows of forecast.csv (no intervals). A table
    without ``evaluation`` (written before issue 16) was all leave-one-run-out."""
    if summary is not None and {"fraction", "method", "mean_abs_error"} <= set(summary.columns):
        df = summary
    if {"fraction", "method", "mean_abs_error"} <= set(df.columns):
        return df.assign(evaluation=evaluations_of(df))
    require_columns(df, ["run", "fraction", "method", "abs_error"], "forecast.csv")
    ok = df[np.isfinite(df["abs_error"].astype(float))].assign(evaluation=evaluations_of(df))
    keys = ["evaluation", "fraction", "method"]
    g = ok.groupby(keys, sort=True)
    out = g.agg(n_runs=("run", "nunique"), mean_abs_error=("abs_error", "mean")).reset_index()
    if "rel_error" in df:
        out = out.merge(g["rel_error"].mean().rename("mean_rel_error").reset_index(), on=keys)
    blocked = [dict(zip(keys, k), note=note_of(g), n_runs=0, mean_abs_error=np.nan)
               for k, g in df.assign(evaluation=evaluations_of(df)).groupby(keys, sort=True) if note_of(g)]
    if blocked:                              # cannot-decide rows have no finite error: keep them, with their note
        out = pd.concat([out, pd.DataFrame(blocked)], ignore_index=True)
    return out


def forecast_lines(df, aux: dict | None = None) -> list[str]:
    """Forecast section, one block per evaluation (leave-one-size-out, the primary, first; leave-one-run-out
    labelled secondary and leaky): mean absolute and relative error of each method per observed fraction
    of training (with 95% jackknife-t intervals over sizes when ``forecast_summary`` is given; a row that cannot be
    decided shows its note instead), the method with the lowest mean absolute error at each fraction; then,
    on the primary evaluation, raw against null-adjusted topology features
    (:func:`toposcale.report.variants.forecast_null_lines`), and the paired comparisons of every evaluation
    with their verdicts when ``forecast_comparisons`` is given."""
    aux = aux or {}
    summ = forecast_means(df, aux.get("forecast_summary"))
    has_ci = {"mean_abs_error_ci_low", "mean_abs_error_ci_high"} <= set(summ.columns)
    header = ["observed fraction", "method", "runs", "mean abs. error"] + (["95% CI"] if has_ci else []) + [
        "mean rel. error"]
    out = ["Error of each method's forecast of the final validation loss from the first fraction of "
           "training (absolute error in nats/token, mean over runs, 95% jackknife-t intervals over sizes; rows sorted "
           "best first). Every number "
           "names its evaluation: leave-one-size-out (primary) holds out every run of one model size (all "
           "activations and seeds) and trains on the other sizes; leave-one-run-out (secondary) holds out one "
           "run, so the same size's other runs, with nearly the same final loss, stay in training and the "
           "learned methods can look it up. power_law and last_observed learn nothing across runs and are "
           "the same in both.", ""]
    for ev in [e for e in EVALUATIONS if e in set(summ["evaluation"])]:
        sub = summ[summ["evaluation"] == ev]
        rows = []
        for r in sub.sort_values(["fraction", "mean_abs_error"]).to_dict("records"):
            note, rel = r.get("note"), r.get("mean_rel_error")
            if isinstance(note, str) and note:              # NaN when read back from CSV
                rows.append([f"{100 * float(r['fraction']):g}%", r["method"], r.get("n_runs", "n/a"), note]
                            + [""] * (len(header) - 4))
                continue
            row = [f"{100 * float(r['fraction']):g}%", r["method"], r.get("n_runs", "n/a"), fmt(r["mean_abs_error"])]
            if has_ci:
                row.append(fmt_ci(r["mean_abs_error_ci_low"], r["mean_abs_error_ci_high"]))
            rows.append(row + [fmt_pct(100 * float(rel), 2, sign=False) if is_finite(rel) else "n/a"])
        fin = sub[np.isfinite(sub["mean_abs_error"].astype(float))]
        best = fin.loc[fin.groupby("fraction")["mean_abs_error"].idxmin()] if len(fin) else fin
        out += [f"{EVALUATION_WORDS[ev].capitalize()}:", "", md_table(header, rows), "",
                f"Lowest mean absolute error ({EVALUATION_WORDS[ev].split(':')[0]}): " + "; ".join(
                    f"{100 * float(r.fraction):g}% of training: {r.method} ({fmt(r.mean_abs_error)} nats)"
                    for r in best.sort_values("fraction").itertuples()) + ".", ""]
    comp = aux.get("forecast_comparisons")
    out += forecast_null_lines(primary_rows(summ), None if comp is None else primary_rows(comp))
    if comp is not None:
        note = lacks_note(comp, ["fraction", "method", "reference", "mean_diff_abs_error", "ci_low", "ci_high",
                             "verdict"], "forecast_comparisons.csv", "comparisons")
        if note:
            out += note
        else:
            comp = comp.assign(evaluation=evaluations_of(comp),
                               _order=evaluations_of(comp).map({e: i for i, e in enumerate(EVALUATIONS)}))
            from toposcale.operating.forecast import VERDICT as FC_VERDICT

            oc = power_note(aux.get("operating"), FC_VERDICT)
            out += ["Paired comparisons (method minus reference, absolute error in nats, mean over runs with "
                    "a 95% jackknife-t interval over sizes, each size's runs left out in turn; 'better' = interval "
                    "below 0" + (f"; operating characteristics of 'better' at this design: {oc}" if oc else "") + "):",
                    "",
                    md_table(["evaluation", "fraction", "method", "reference", "runs", "mean difference", "95% CI",
                              "verdict"],
                             [[r.evaluation, f"{100 * float(r.fraction):g}%", r.method, r.reference,
                               getattr(r, "n_runs", "n/a"), fmt(r.mean_diff_abs_error), fmt_ci(r.ci_low, r.ci_high),
                               r.verdict]
                              for r in comp.sort_values(["_order", "fraction", "method", "reference"]).itertuples()]),
                    ""]
    return out


SECTION_BUILDERS = {
    "scaling": scaling_lines,
    "dynamics": dynamics_lines,
    "forecast": forecast_lines,
    "stages": stages_lines,
    "transitions": transitions_lines,
    "grokking": grokking_lines,
    "pretrained": pretrained_lines,
    "operating": operating_section,
    "alignment": alignment_lines,
}
