"""summary.md section: change points of the training series (primary family, exploratory counts, headline
transitions per run, and the size trends of their timing)."""

from __future__ import annotations

import numpy as np

from toposcale.analysis.transitions import HEADLINE_SERIES, family_counts
from toposcale.report.operating import power_note
from toposcale.report.text import (count_share, fmt, is_finite, lacks_note, md_table, require_columns, run_label,
                                   runs_phrase)
from toposcale.report.variants import NO_NULL_NOTE, variant_label

#: The verdict key of the change-point test in the operating-characteristics table
#: (:data:`toposcale.operating.transitions.VERDICT`).
TRANSITION_VERDICT = "transition (change point) in a series"
#: The verdict key of the size trend of transition timing ('decreases / increases with size' on both clocks)
#: (:data:`toposcale.operating.transition_sizes.VERDICT`).
SIZE_TREND_VERDICT = "transition timing moves with size (both clocks)"


def transitions_lines(df, aux: dict | None = None) -> list[str]:
    """Transitions section: per multiple-testing family (source, variant) the series tested, the count
    expected by chance (alpha x tests), the count with raw p < alpha and the Benjamini-Hochberg count
    (:func:`toposcale.analysis.transitions.family_counts`; an old table without q-values gets the
    uncorrected share per source, so labelled); then per run the training fraction (and p-value) of the
    transition (most significant change point of a series significant after BH) of the validation loss
    and of the block-mean scale-normalised H0/H1 total persistence, raw and null_z, and the
    diminishing-returns fraction of the loss; with ``transition_sizes``, the trends of transition timing
    with model size, tested only where the runs can reach the significance level."""
    require_columns(df, ["run", "source", "layer", "metric", "significant", "transition_frac"], "transitions.csv")
    if "method" in df.columns and df["method"].notna().any():     # the test that wrote the table names itself
        method = "; ".join(dict.fromkeys(df["method"].dropna().astype(str)))
    else:
        method = ("a ramp scan on a regression spline in log(step), tested against the fitted smooth plus AR(1) "
                  "noise" if "phi" in df.columns else "piecewise-linear PELT with a permutation null")
    out = [f"{runs_phrase(df['run'])}, {len(df)} series tested for change points over log(step) ({method}).", ""]
    if "p_value" in df and "n_points" in df and not np.isfinite(df["p_value"].to_numpy(float)).any():
        out += [f"Transitions: cannot decide: every series is shorter than the change-point test needs "
                f"(at most {int(df['n_points'].max())} checkpoints at step > 0; `make plan` states the "
                f"minimum for the configured test).", ""]
    if {"q_value", "alpha", "p_min", "variant"} <= set(df.columns):
        out += _transition_family_lines(family_counts(df))
        note = power_note((aux or {}).get("operating"), TRANSITION_VERDICT)
        if note:
            out += [f"Operating characteristics of the change-point test at this design: {note}.", ""]
    else:
        label = df["source"] + (df["variant"].map(variant_label) if "variant" in df else "")
        rows = [[src, len(g), count_share(g["significant"])] for src, g in df.groupby(label, sort=True)]
        out += ["'significant' = at least one change point at the per-series level, not corrected for the "
                "number of series (a table written before issue 16):", "",
                md_table(["source", "series", "with a significant change point"], rows), ""]
    if "variant" not in df or not (df["variant"] == "null_z").any():
        out += [NO_NULL_NOTE, ""]
    series = []
    for variant in ("raw", "null_z"):
        vrows = df[df["variant"] == variant] if "variant" in df else df if variant == "raw" else df.iloc[:0]
        for src, layer, metric in HEADLINE_SERIES:
            m = (vrows["source"] == src) & (vrows["metric"] == metric)
            if src != "loss":
                m &= vrows["layer"] == layer
            if m.any():
                series.append((src, layer, metric + ("" if variant == "raw" else " (null_z)"), vrows[m]))
    if not series:
        return out
    header = ["run"] + [("val_loss" if s == "loss" else f"{s} {l} {mt}") for s, l, mt, _ in series]
    has_dr = "diminishing_returns_frac" in df
    if has_dr:
        header.append("val_loss diminishing returns")
    rows, in_warmup = [], []
    for run in sorted(df["run"].unique()):
        row = [run_label(run)]
        for src, _, _, sub in series:
            r = sub[sub["run"] == run]
            if r.empty:
                row.append("n/a")
            elif not bool(r["significant"].iloc[0]):
                row.append("none")
            else:
                pv = r["transition_p"].iloc[0] if "transition_p" in r else None
                warm = _in_warmup(r)
                if warm is not None:
                    in_warmup.append((src, warm))
                notes = ([f"p {fmt(pv, 2)}"] if is_finite(pv) else []) + (["warmup"] if warm else [])
                row.append(f"{fmt(r['transition_frac'].iloc[0], 2)}" + (f" ({'; '.join(notes)})" if notes else ""))
        if has_dr:
            loss = df[(df["run"] == run) & (df["source"] == "loss") & (df["metric"] == "val_loss")]
            row.append(fmt(loss["diminishing_returns_frac"].iloc[0], 2) if len(loss) else "n/a")
        rows.append(row)
    null_note = ("; '(null_z)' = the same series as standardised excess over its covariance-matched Gaussian "
                 "null: a transition there is topology beyond geometry, one in the raw series only is explained "
                 "by its null" if any(mt.endswith("(null_z)") for _, _, mt, _ in series) else "")
    out += ["Training fraction (step / total steps) of each run's transition; 'none' = no significant "
            f"change point (after BH where the table has q-values){null_note}:", "", md_table(header, rows), ""]
    out += _warmup_lines(in_warmup)
    out += _transition_size_lines((aux or {}).get("transition_sizes"), (aux or {}).get("operating"))
    return out


def _in_warmup(r) -> bool | None:
    """Whether the row's transition lies in its run's learning-rate warmup (None: unknown, e.g. a table
    written before the column, or a checkpoint series of another model)."""
    if "transition_in_warmup" not in r:
        return None
    v = r["transition_in_warmup"].iloc[0]
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return str(v).strip().lower() in ("true", "1", "1.0")


def _warmup_lines(in_warmup: list[tuple[str, bool]]) -> list[str]:
    """The sentence under the transition table: how many of its transitions lie in the warmup, and why that
    matters (:mod:`toposcale.analysis.transitions`, "Transitions in the warmup")."""
    if not in_warmup:
        return []
    k = sum(w for _, w in in_warmup)
    loss = [w for s, w in in_warmup if s == "loss"]
    return [f"{k} of the {len(in_warmup)} transitions in this table (val_loss: {sum(loss)} of {len(loss)}) lie in "
            f"their run's learning-rate warmup (marked 'warmup': at or before its last warmup step). There a "
            f"series that is smooth in the cumulative learning rate starts flat and then moves, which the ramp "
            f"scan takes for a change unless it skips the warmup (`transitions.ramp_after_warmup`, the default; "
            f"the rebound test still looks there; README, *Change-point test*): these transitions say the "
            f"series moved while the rate rose, not that a stage began (the loss's stage crossings are scored "
            f"under *The n-gram staircase of the loss*).", ""]


def _transition_family_lines(fam) -> list[str]:
    """The multiplicity table of :func:`toposcale.analysis.transitions.family_counts` and its sentence."""
    alpha = float(fam["alpha"].iloc[0])
    a = f"{alpha:g}"
    primary = fam["primary"].astype(bool) if "primary" in fam else np.zeros(len(fam), dtype=bool)
    rows = [[("primary (pre-registered)" if p else f"{r.source} ({r.variant}), exploratory"), r.n_tests,
             fmt(r.expected_null), r.n_raw, (r.n_bh if p else "not tested for significance"),
             f"{r.min_bh_discoveries} (p_min {fmt(r.p_min, 2)})"] for p, r in zip(primary, fam.itertuples())]
    prim, expl = fam[primary.to_numpy()], fam[~primary.to_numpy()]
    lines = [f"Each series is one test at level {a}, so about {a} x (series tested) pass by chance alone."]
    if len(prim):
        lines[0] += (f" Only the pre-registered primary series (transitions.primary, all runs) form a "
                     f"Benjamini-Hochberg family whose members can be called significant: "
                     f"{int(prim['n_bh'].sum())} of {int(prim['n_tests'].sum())} have q < {a}.")
    if len(expl):
        lines[0] += (f" Exploratory series are counted, never called significant: {int(expl['n_raw'].sum())} "
                     f"of {int(expl['n_tests'].sum())} have p < {a} where {fmt(expl['expected_null'].sum())} "
                     f"are expected by chance.")
    return lines + ["", md_table(["family", "series tested", f"expected by chance ({a} x tests)", f"raw p < {a}",
                                  f"BH q < {a}", "fewest series BH can confirm (p floor)"], rows), ""]


def _transition_size_lines(sizes, oc=None) -> list[str]:
    if sizes is None:
        return []
    note = lacks_note(sizes, ["source", "layer", "metric", "quantity", "n_runs", "rho", "p", "q"],
                  "transition_sizes.csv", "size trends")
    if note:
        return note
    if sizes.empty:
        return ["No series had a transition in enough runs to test a trend with model size.", ""]
    keys = (["activation"] if "activation" in sizes else []) + ["source", "layer", "metric", "quantity"]
    if "verdict" not in sizes:                       # a table written before issue 16: no gating
        sig = sizes[sizes["q"] <= 0.05]
        top = sizes.sort_values("p").head(10)
        return [f"Do transitions move with model size? Spearman rho across runs of the fraction with "
                f"non-embedding parameters: {len(sig)} of {len(sizes)} trends have q <= 0.05 (Benjamini-Hochberg "
                f"within each quantity); the {len(top)} smallest p-values:", "",
                md_table(keys + ["runs", "rho", "p", "q"],
                         [[getattr(r, k) for k in keys] + [r.n_runs, fmt(r.rho), fmt(r.p), fmt(r.q)]
                          for r in top.itertuples()]), ""]
    keys += ["variant"] if "variant" in sizes else []
    blocked = sizes[sizes["verdict"].astype(str).str.startswith("cannot decide")]
    tested = sizes.drop(blocked.index)
    found = tested[tested["verdict"].str.endswith("with size")]
    why = (f" ({blocked['verdict'].iloc[0].removeprefix('cannot decide: ')}: with fewer the exact test cannot "
           f"reach the level)" if len(blocked) else "")
    clocks = "rho_step" in sizes
    clock_dep = tested[tested["verdict"].astype(str).str.startswith("depends on the clock")] if clocks else tested[:0]
    both = (" on both clocks (training fraction and steps: total steps grow with size, so a trend on one clock "
            f"alone may be training length; {len(clock_dep)} trends hold on one clock only)") if clocks else ""
    out = [f"Do transitions move with model size? Spearman rho across runs of the fraction with non-embedding "
           f"parameters, tested only where the exact permutation test can reach the significance level: "
           f"{len(tested)} of {len(sizes)} trends tested, {len(found)} with q below it{both} (Benjamini-Hochberg "
           f"within each quantity); {len(blocked)} cannot be decided{why}.", ""]
    note = power_note(oc, SIZE_TREND_VERDICT)
    if note:
        out += [f"Operating characteristics of '{SIZE_TREND_VERDICT}' at this design: {note}.", ""]
    if tested.empty:
        return out
    top = tested.sort_values(["p", "n_runs"], ascending=[True, False]).head(10)
    step_cols = ["rho (steps)", "q (steps)"] if clocks else []
    return out + [f"The {len(top)} smallest p-values:", "",
                  md_table(keys + ["runs", "rho", "smallest possible p", "p", "q"] + step_cols + ["verdict"],
                           [[getattr(r, k) for k in keys] + [r.n_runs, fmt(r.rho), fmt(r.min_p), fmt(r.p), fmt(r.q)]
                            + ([fmt(r.rho_step), fmt(r.q_step)] if clocks else []) + [r.verdict]
                            for r in top.itertuples()]), ""]


#: Section key -> its builder.
