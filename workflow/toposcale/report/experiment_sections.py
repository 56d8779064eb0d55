"""The summary's sections on the experiments beside the trained grid: the pretrained-model comparison and
the grokking positive control (the builders of :data:`toposcale.report.sections.SECTION_BUILDERS`)."""

from __future__ import annotations

import pandas as pd

from toposcale.experiments.grokking.control import GROUND_TRUTH_RULE, control_verdict
from toposcale.report.operating import power_note
from toposcale.report.text import fmt, fmt_ci, lacks_note, md_table, require_columns

#: Most rows of the grokking measures table.
MAX_ROWS = 30


def pretrained_lines(df, aux: dict | None = None) -> list[str]:
    """Pretrained section: per (model, corpus) the expansion ratio (peak over layers of H0 total
    persistence / embedding-layer H0 total persistence), its scale-normalised variant, intervals and
    the peak layer; beside them, where ``pretrained.csv`` has them, the null-adjusted ratio (each
    layer's value over its covariance-matched Gaussian null mean), its interval, the finding in the
    contract's wording and the reason a ratio is undefined (a degenerate embedding cloud)."""
    require_columns(df, ["model", "corpus", "expansion_ratio"], "pretrained.csv")
    has_null = "expansion_ratio_null" in df
    rows = []
    for r in df.itertuples():
        d = r._asdict()
        row = [d["model"], d.get("kind", "n/a"), d.get("origin", "n/a"), d["corpus"],
               fmt(d["expansion_ratio"]), fmt_ci(d.get("expansion_ratio_lo"), d.get("expansion_ratio_hi")),
               fmt(d.get("expansion_ratio_norm")),
               fmt_ci(d.get("expansion_ratio_norm_lo"), d.get("expansion_ratio_norm_hi")),
               f"{d.get('peak_layer', 'n/a')} ({fmt(d.get('peak_depth'), 2)})"]
        if has_null:
            row += [fmt(d.get("expansion_ratio_null")),
                    fmt_ci(d.get("expansion_ratio_null_lo"), d.get("expansion_ratio_null_hi")),
                    _text(d.get("expansion_finding"))]
        rows.append(row)
    header = ["model", "kind", "origin", "corpus", "expansion ratio", "95% CI", "ratio (norm)", "95% CI (norm)",
              "peak layer (depth)"] + (["ratio vs null", "95% CI (vs null)", "finding"] if has_null else [])
    out = ["Expansion ratio = max over layers of H0 total persistence / the embedding layer's "
           "(norm = same with each layer's persistence divided by its scale); intervals from subsampling "
           "the probe texts (n/a for trained runs, which have no resamples):", ""]
    if has_null:
        out[0] = out[0][:-1] + (". Raw and null-adjusted side by side: 'ratio vs null' is the same maximum of "
                                "A(l) / A(embed) with A(l) = H0 total persistence over the mean of its "
                                "covariance-matched Gaussian null draws (same points, mean and covariance), so "
                                "1 = every layer as far from its null as the embedding; 'topology beyond "
                                "geometry' only where its interval lies above 1. A degenerate embedding cloud "
                                "(too few distinct points) is never a denominator: its ratios are n/a.")
    out += [md_table(header, rows), ""]
    if "expansion_ratio_note" in df:
        notes = [f"{d.model} on {d.corpus}: {d.expansion_ratio_note}" for d in df.itertuples()
                 if isinstance(d.expansion_ratio_note, str) and d.expansion_ratio_note]
        if notes:
            out += ["Undefined ratios: " + "; ".join(notes) + ".", ""]
    kinds = (aux or {}).get("pretrained_kinds")
    if kinds is not None and len(kinds):
        from toposcale.operating.pretrained import VERDICT

        require_columns(kinds, ["verdict", "confounded_by"], "pretrained_kinds.csv")
        r0 = kinds.iloc[0]
        note = power_note((aux or {}).get("operating"), VERDICT)
        aligned = _text(r0["confounded_by"])
        out += [f"Encoders vs decoders (distinct pretrained models, null-adjusted expansion ratio): "
                f"**{r0['verdict']}**" + (f" ({note})" if note else "") + ". Confounded by quantisation, instruction "
                "tuning, parameter count and tokenizer (pretrained_kinds.csv)"
                + (f"; split exactly along kind: {aligned}" if aligned != "n/a" else "") + ".", ""]
    return out


def _text(x) -> str:
    """A string cell, ``n/a`` for a missing one (NaN from a CSV)."""
    return x if isinstance(x, str) and x else "n/a"


def grokking_lines(df, aux: dict | None = None) -> list[str]:
    """Grokking section: for each progress measure, whether it separates grokked from memorised
    checkpoints by the time-matched test (``auc_matched``, ``q_matched``, ``separates``; without those
    columns, an older table, the pooled AUC is shown and nothing is called separating), the pooled AUC
    as description, and when it moves relative to test accuracy (median lead in steps over the
    grok-arm seeds, verdict), counted per kind; beside it, where ``grokking.csv`` has them, the same
    test of the measure's standardised excess over its covariance-matched Gaussian null and the finding
    in the contract's wording; then the positive control when ``grokking_control`` is given. The power
    and FPR of the separation verdict (``aux["operating"]``, verdict ``grokking separation``) are
    printed beside it."""
    require_columns(df, ["metric", "kind", "auc", "auc_lo", "auc_hi", "verdict"], "grokking.csv")
    matched = {"auc_matched", "q_matched", "separates"} <= set(df.columns)
    sep = df["separates"].fillna(False).astype(bool) if matched else pd.Series(False, index=df.index)
    has_null = matched and {"null_auc_matched", "null_q_matched", "finding"} <= set(df.columns)
    out = ["Separates = the time-matched test: the grok arm minus the control arm of the same seed at the same "
           "step, post-grok steps (grok arm test accuracy > post_grok beside a memorised control) against "
           "pre-grok steps (both arms below pre_grok); matched AUC = probability that, within a seed, the arm "
           "difference after grokking exceeds the one before (0.5 = none); p from phase-randomised surrogates "
           "of each seed's arm-difference series, q = Benjamini-Hochberg over the table; separates = q <= "
           "fdr_alpha. Pooled AUC (post- vs pre-grok checkpoints of both arms, 95% interval from resampling "
           "seeds): description, not tested; checkpoints are log-spaced, so the clock log_step reaches a high "
           "pooled AUC and never a matched one. Lead = test-accuracy crossing step minus the measure's "
           "crossing step in the grok arm (positive: the measure moves first); verdict = majority over "
           "seeds.", ""]
    if not matched:
        out[0] = ("This grokking.csv predates the time-matched test (re-run the grokking analysis): only the "
                  "pooled AUC is shown, a description that a clock passes, and no measure is called separating.")
    note = power_note((aux or {}).get("operating"), "grokking separation")
    if note:
        out[0] += f" Separation verdict: {note}."
    if has_null:
        out[0] += (" Null-adjusted: the same test of the measure's standardised excess over its covariance-matched "
                   "Gaussian null (z); 'beyond the gaussian null only' where that test separates ('topology "
                   "beyond geometry' needs the Gaussian-copula null too, issue 22), 'explained by its null "
                   "(covariance-matched Gaussian)' where only the raw measure separates; the clouds' scale is "
                   "geometric, never a topology claim.")
    counts = []
    for kind, g in df.assign(sep=sep).groupby("kind", sort=True):
        before = int((g["sep"] & (g["verdict"] == "before")).sum())
        counts.append(f"{kind}: {int(g['sep'].sum())} of {len(g)} measures separate, "
                      f"{before} of them move before test accuracy")
    out += ["; ".join(counts) + ".", ""]
    if has_null:
        topo = df[df["kind"] == "topological"]
        beyond = int((topo["finding"] == "topology beyond geometry").sum())
        gauss_only = int((topo["finding"] == "beyond the gaussian null only").sum())
        explained = int((topo["finding"] == "explained by its null (covariance-matched Gaussian)").sum())
        out += [f"Null-adjusted: {beyond} of {len(topo)} topological measures separate beyond their null "
                f"(topology beyond geometry: Gaussian and copula nulls), {gauss_only} beyond the Gaussian null "
                f"only; {explained} separate raw but are explained by their null (covariance-matched Gaussian).",
                ""]
    key = df["auc_matched"] if matched else df["auc"]
    order = df.assign(_d=-(key.astype(float) - 0.5).abs()).sort_values(["_d", "metric"])
    has_lead = {"lead_steps", "lead_min", "lead_max"} <= set(df.columns)
    rows = []
    for r in order.head(MAX_ROWS).itertuples():
        row = [r.metric, r.kind, getattr(r, "direction", "n/a")]
        if matched:
            row += [fmt(r.auc_matched), fmt(r.q_matched, 2), fmt(bool(r.separates))]
        row += [fmt(r.auc), fmt_ci(r.auc_lo, r.auc_hi)]
        if has_lead:
            row.append(f"{fmt(r.lead_steps)} {fmt_ci(r.lead_min, r.lead_max)}")
        row.append(r.verdict)
        if has_null:
            row += [fmt(r.null_auc_matched), fmt(r.null_q_matched, 2), _text(r.finding)]
        rows.append(row)
    header = ["measure", "kind", "direction"] + (["matched AUC", "q", "separates"] if matched else []) + [
        "pooled AUC (description)", "95% CI"] + (["median lead, steps [min, max]"] if has_lead else []) + [
        "verdict"] + (["matched AUC of null z", "q (null z)", "finding"] if has_null else [])
    out += [md_table(header, rows), ""]
    ctrl = (aux or {}).get("grokking_control")
    if ctrl is not None:
        out += _control_lines(ctrl)
    return out


def _control_lines(ctrl) -> list[str]:
    """The positive-control paragraph and table of :func:`grokking_lines`."""
    note = lacks_note(ctrl, ["seed", "arm", "test_acc", "plane_ratio", "dominant", "expected", "ground_truth",
                             "decided", "ok"], "grokking_positive_control.csv", "control")
    if note:
        return note
    has_null = {"loop_null_z", "loop_exceeds_null"} <= set(ctrl.columns)
    out = [f"Positive control (final checkpoint; a circle = one dominant, round H1 loop on the Fourier plane; "
           f"{GROUND_TRUTH_RULE}): {control_verdict(ctrl)}.", ""]
    if has_null:
        exceeds = ctrl["loop_exceeds_null"].astype(str).str.lower() == "true"
        parts = [f"{int(exceeds[ctrl['arm'] == arm].sum())} of {int((ctrl['arm'] == arm).sum())} {arm}-arm runs"
                 for arm in ("grok", "control")]
        z_min = f"{float(ctrl['min_null_z'].iloc[0]):g}" if "min_null_z" in ctrl else "the threshold"
        out[0] += (f" The plane's longest loop exceeds its covariance-matched Gaussian null (standardised excess "
                   f"z >= {z_min}) in {parts[0]} and {parts[1]}; the verdict does not use it (the plane is chosen for "
                   f"its strongest frequency, which the null does not repeat).")
    header = ["seed", "arm", "test accuracy", "plane H1 ratio", "dominant", "circle expected", "as expected"] + (
        ["loop null z", "exceeds null"] if has_null else [])
    rows = []
    for r in ctrl.itertuples():
        decided = str(r.decided).lower() == "true"
        expected = fmt(str(r.expected).lower() == "true") if decided else r.ground_truth
        row = [r.seed, r.arm, fmt(r.test_acc), fmt(r.plane_ratio), fmt(bool(r.dominant)), expected,
               fmt(str(r.ok).lower() == "true") if decided else "n/a"]
        if has_null:
            flag = str(r.loop_exceeds_null).lower()
            row += [fmt(r.loop_null_z), "yes" if flag == "true" else "no" if flag == "false" else "n/a"]
        rows.append(row)
    return out + [md_table(header, rows), ""]
