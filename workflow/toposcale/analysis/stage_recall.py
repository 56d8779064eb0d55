"""Does the change-point test find the stage crossings the corpus predicts? (issue 21's ground truth)

The loss of a small byte-level model descends a staircase of plateaus at the corpus's n-gram levels;
``analysis/stage_crossings.csv`` (:mod:`toposcale.analysis.stages`) gives, per run, each crossing
from the order-(k-1) level to the order-k level as seen on the *dense* loss curve. The transitions
analysis runs its change-point test on the *checkpoint* series (``analysis/change_points.csv``,
:mod:`toposcale.analysis.transitions`) with the same settings as for every topology series. This module
scores the second against the first:

* the crossing checkpoint of a complete crossing is the checkpoint (at step > 0) nearest to
  ``step_cross`` (ties: the earlier);
* the crossing is **detected** when the loss series (``source == 'loss'``, ``metric == 'val_loss'``,
  ``variant == 'raw'``) has a significant change point (``significant``) whose checkpoint lies within
  ``tolerance`` checkpoints (default 1) of the crossing checkpoint; ``offset`` is the signed distance in
  checkpoints to the nearest significant change point (positive: detected late);
* **recall** per crossing type = detected / complete crossings, with the target ``MIN_RECALL`` (0.9) of
  the issue; an incomplete crossing (the run ended inside the drop or before it) is not scored;
* ``detected_at_level`` / ``recall_at_level``: the same with every loss change point of the table, i.e. at
  the test's own level (each change point has ``p < alpha`` at its step of the sequential scan) before
  Benjamini-Hochberg over the primary family; ``detected`` requires the series to pass BH as well. The two
  differ where a series' evidence for the crossing alone does not survive the family (issue 21 session 13:
  swiglu-d40L2, p 0.03-0.044, q 0.08-0.105).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The recall the change-point test must reach on the loss's complete stage crossings.
MIN_RECALL = 0.9

_LOSS = {"source": "loss", "metric": "val_loss", "variant": "raw"}


def nearest_index(steps, step: float) -> int:
    """Index of the value of sorted ``steps`` nearest to ``step`` (the earlier on ties).

    >>> nearest_index([1, 2, 4, 8, 16], 12), nearest_index([1, 2, 4, 8, 16], 12.1)
    (3, 4)
    """
    s = np.asarray(steps, float)
    i = int(np.searchsorted(s, step))
    if i == 0:
        return 0
    if i >= len(s):
        return len(s) - 1
    return i - 1 if step - s[i - 1] <= s[i] - step else i


def crossing_detection(crossings: pd.DataFrame, change_points: pd.DataFrame, checkpoints: dict,
                       tolerance: int = 1) -> pd.DataFrame:
    """One row per complete crossing: run, crossing, step_cross, crossing_index, n_checkpoints_in_drop,
    detected_step (nearest significant loss change point, NaN if none), offset (checkpoints), detected.

    ``checkpoints`` maps run -> its checkpoint steps (log.csv's ``step``); steps <= 0 are dropped.
    """
    at_level = change_points
    for k, v in _LOSS.items():
        at_level = at_level[at_level[k] == v]
    cp = at_level[at_level["significant"].astype(bool)]
    rows = []
    for r in crossings[crossings["complete"].astype(bool)].itertuples(index=False):
        steps = np.asarray(sorted(s for s in checkpoints.get(r.run, []) if s > 0), float)
        if steps.size == 0:
            raise ValueError(f"no checkpoints known for run {r.run!r}: give its log.csv steps")
        c = nearest_index(steps, r.step_cross)
        off = _nearest_offset(steps, c, cp.loc[cp["run"] == r.run, "step"])
        off_level = _nearest_offset(steps, c, at_level.loc[at_level["run"] == r.run, "step"])
        rows.append({"run": r.run, "crossing": r.crossing, "step_cross": r.step_cross, "crossing_index": c,
                     "n_checkpoints_in_drop": getattr(r, "n_checkpoints_in_drop", np.nan),
                     "detected_step": float(steps[c + off]) if off is not None else np.nan,
                     "offset": off if off is not None else np.nan,
                     "detected": off is not None and abs(off) <= tolerance,
                     "detected_at_level": off_level is not None and abs(off_level) <= tolerance})
    return pd.DataFrame(rows, columns=["run", "crossing", "step_cross", "crossing_index", "n_checkpoints_in_drop",
                                       "detected_step", "offset", "detected", "detected_at_level"])


def _nearest_offset(steps, c: int, found_steps):
    """Signed distance in checkpoints from checkpoint ``c`` to the nearest of ``found_steps`` (None: none)."""
    found = [nearest_index(steps, s) for s in found_steps]
    return min((f - c for f in found), key=abs) if found else None


#: Columns of ``analysis/stage_recall.csv``.
RECALL_COLUMNS = ("crossing", "n_complete", "n_detected", "recall", "min_checkpoints_in_drop", "meets_target",
                  "n_detected_at_level", "recall_at_level")


def recall_table(detection: pd.DataFrame) -> pd.DataFrame:
    """Per crossing type: n_complete, n_detected, recall, min_checkpoints_in_drop, meets_target (recall >=
    ``MIN_RECALL``), n_detected_at_level and recall_at_level (before BH; module docstring)."""
    if detection.empty:
        return pd.DataFrame(columns=list(RECALL_COLUMNS))
    g = detection.groupby("crossing", sort=False)
    out = pd.DataFrame({"n_complete": g.size(), "n_detected": g["detected"].sum().astype(int),
                        "min_checkpoints_in_drop": g["n_checkpoints_in_drop"].min(),
                        "n_detected_at_level": g["detected_at_level"].sum().astype(int)}).reset_index()
    out["recall"] = out["n_detected"] / out["n_complete"]
    out["recall_at_level"] = out["n_detected_at_level"] / out["n_complete"]
    out["meets_target"] = out["recall"] >= MIN_RECALL
    return out[list(RECALL_COLUMNS)]
