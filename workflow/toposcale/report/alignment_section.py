"""The alignment section of summary.md: does each headline topology series mark the loss's stage crossings?

Reads ``analysis/alignment.csv`` (:func:`toposcale.analysis.alignment.align`); every verdict is quoted
from its ``verdict`` column, and the operating characteristics of the verdict
(:data:`toposcale.analysis.alignment.VERDICT_KEY`) are printed beside each series' line.
"""

from __future__ import annotations

from toposcale.analysis.alignment import VERDICT_KEY
from toposcale.report.operating import power_note
from toposcale.report.text import fmt, fmt_ci, md_table, require_columns

_REQUIRED = ("source", "layer", "metric", "variant", "crossing", "n_runs", "n_crossings", "statistic", "ci_low",
             "ci_high", "p_random", "p_swap", "lag", "lag_ci_low", "lag_ci_high", "verdict")


def _series(r) -> str:
    return f"{r['source']} {r['layer']} {r['metric']}"


def _detail(r) -> str:
    """``raw: VERDICT (rate 1.6 [1.4, 1.8], p_random 0.002, p_swap 0.004; lag -0.3 [-0.6, 0.0])``."""
    if r["verdict"].startswith("cannot decide"):
        return f"{r['variant']}: {r['verdict']}"
    return (f"{r['variant']}: {r['verdict']} (rate {fmt(r['statistic'])} {fmt_ci(r['ci_low'], r['ci_high'])} "
            f"x typical; random-position null p {fmt(r['p_random'])}, swap null p {fmt(r['p_swap'])}; lag "
            f"{fmt(r['lag'], 2)} {fmt_ci(r['lag_ci_low'], r['lag_ci_high'], 2)} checkpoints)")


def alignment_lines(df, aux: dict | None = None) -> list[str]:
    """Per (headline series, crossing type) one line: the raw and null_z verdicts with the pooled rate and
    its interval, both null p-values and the lag with its interval; right below them the verdict's power
    and FPRs (:func:`toposcale.report.operating.power_note`; every line shares the verdict key
    :data:`VERDICT_KEY`, so it is printed once); then the full table."""
    require_columns(df, _REQUIRED, "alignment.csv")
    out = ["Does each headline topology series change at the loss's stage crossings? Rate = the series' mean "
           "absolute change per checkpoint interval over the crossing's drop (widened by one checkpoint each "
           "side), in units of its median change per interval over the run, averaged over the runs that "
           "completed the crossing. Nulls: the same window at random positions of the same run, and the "
           "crossings swapped between runs in training-fraction units (crossings cluster at a training "
           "fraction, so a series that moves at a fixed fraction does not beat it). A verdict needs both "
           "p-values below alpha (after Benjamini-Hochberg within a variant). Lag = the checkpoint interval "
           "of the largest change relative to the one where the loss crosses (negative: topology first). "
           "Intervals: 95% bootstrap over runs clustered by size.", ""]
    if df.empty:
        return out + ["No stage crossing in this study (the stage-crossings table is empty): cannot decide: "
                      "need runs whose loss completes a stage crossing.", ""]
    note = power_note((aux or {}).get("operating"), VERDICT_KEY)
    for (key, crossing), g in df.groupby([df.apply(_series, axis=1), "crossing"], sort=False):
        parts = "; ".join(_detail(r) for _, r in g.iterrows())
        n = int(g["n_crossings"].max())
        out.append(f"- **{key}** at {crossing} ({n} complete crossings): {parts}.")
    out.append("")
    if note:       # one verdict key for every line above, so its power is printed once, right below them
        out += [f"_Power of these verdicts at this design: {note}._", ""]
    rows = [[_series(r), r["variant"], r["crossing"], r["n_runs"], fmt(r["statistic"]),
             fmt_ci(r["ci_low"], r["ci_high"]), fmt(r["p_random"]), fmt(r["p_swap"]), fmt(r["lag"], 2),
             fmt_ci(r["lag_ci_low"], r["lag_ci_high"], 2), r["verdict"]] for _, r in df.iterrows()]
    out += [md_table(["series", "variant", "crossing", "runs", "rate", "95% CI", "p random", "p swap", "lag",
                      "lag 95% CI", "verdict"], rows), ""]
    return out
