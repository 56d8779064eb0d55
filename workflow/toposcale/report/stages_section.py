"""summary.md section: the n-gram staircase of the loss, and whether the change-point test finds it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toposcale.analysis.stage_recall import MIN_RECALL
from toposcale.report.text import md_table, require_columns


def stages_lines(crossings: pd.DataFrame, aux: dict | None = None) -> list[str]:
    """Per crossing type: the two levels, runs that entered / completed it, the training fraction of the
    crossing, the fewest checkpoints inside a completed drop, and (with ``aux['stage_recall']``) how many
    complete crossings the change-point test on the loss checkpoints found within one checkpoint."""
    require_columns(crossings, ["run", "crossing", "level_from", "level_to", "complete", "frac_cross",
                                "n_checkpoints_in_drop"], "stage_crossings.csv")
    aux = aux or {}
    out = ["Ground truth from the corpus: the loss levels an order-k n-gram model reaches on the validation "
           "split (held-out Kneser-Ney, `data/{corpus}/ngram_levels.json`); a run crosses from level k-1 to k "
           "where its dense validation loss (`runs/{run}/dense_log.csv`, smoothed) passes the midpoint "
           "(`analysis/stage_crossings.csv`).", ""]
    if crossings.empty:
        return out + ["No run entered a drop between two levels: cannot decide whether the change-point test "
                      "finds the staircase (need runs that cross a level; train longer or larger).", ""]
    rec = aux.get("stage_recall")
    rec = rec.set_index("crossing") if isinstance(rec, pd.DataFrame) and not rec.empty else None
    rows = []
    for name, g in crossings.groupby("crossing", sort=False):
        done = g[g["complete"].astype(bool)]
        frac = done["frac_cross"].to_numpy(float)
        cell = "-"
        if rec is not None and name in rec.index:
            r = rec.loc[name]
            level = int(r["n_detected_at_level"]) if "n_detected_at_level" in r and pd.notna(
                r["n_detected_at_level"]) else int(r["n_detected"])
            cell = (f"{int(r['n_detected'])} of {int(r['n_complete'])} ({float(r['recall']):.0%}; target "
                    f"{MIN_RECALL:.0%}: {'met' if bool(r['meets_target']) else 'NOT met'}"
                    + (f"; {level} at the test's own level, before Benjamini-Hochberg" if level != int(r["n_detected"])
                       else "") + ")")
        rows.append([name, f"{g['level_from'].iloc[0]:.3f} -> {g['level_to'].iloc[0]:.3f}",
                     f"{len(g)} / {len(done)}",
                     f"{np.median(frac):.2f} ({frac.min():.2f}-{frac.max():.2f})" if frac.size else "-",
                     int(done["n_checkpoints_in_drop"].min()) if len(done) else "-", cell])
    out += [md_table(["crossing", "levels (nats)", "runs entered / completed", "training fraction at crossing",
                      "fewest checkpoints in a completed drop", "found by the change-point test (within 1 ckpt)"],
                     rows), ""]
    if rec is None:
        out += ["_No stage_recall.csv: the change-point test's recall on the crossings is not shown._", ""]
    return out
