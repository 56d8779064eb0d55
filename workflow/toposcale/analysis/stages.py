"""n-gram stages of each run's loss curve: the stage of every dense step and the stage crossings.

Ground truth for the transitions analyses: the corpus's n-gram loss levels L_1 > L_2 > ... > L_K
(``data/{corpus}/ngram_levels.json``, :mod:`toposcale.train.ngram`) mark the plateaus a small language
model passes through; a run's dense validation loss (``runs/{run}/dense_log.csv``) tells when it crosses
from one to the next.

Definitions (thresholds are config keys ``stages.*``, fixed before any run is looked at):

* **Smoothed loss.** The dense rows with a validation loss (NaN rows dropped), smoothed by a centred
  running median of ``w = stages.smoothing_window`` points (raised to odd; shrinking windows at the
  ends). A running median leaves a monotone curve unchanged, and the first step at which the smoothed
  loss is below a threshold is never more than ``(w - 1) / 2`` points earlier than the first raw point
  below it (at least half of the window must be below the threshold); single-point spikes of the fixed
  validation batch do not move it at all.
* **Stage** of a step: the highest order k whose ``L_k + stages.margin`` the smoothed loss has reached
  at this step or before (0 until it first falls to ``L_1 + margin``, i.e. before the unigram plateau),
  so the stage never goes back when the loss rises again.
* **Drop** from order k-1 to k (crossing ``'{name_{k-1}}->{name_k}'``), with ``D = L_{k-1} - L_k`` and
  ``f = stages.drop_fraction``: it starts at the first step whose smoothed loss is ``<= L_{k-1} - f D``
  (``step_start``), crosses at the first step ``<= (L_{k-1} + L_k) / 2`` (``step_cross``) and ends at
  the first step ``<= L_k + f D`` (``step_end``); ``complete`` is whether the run reached that end (the
  drop's 90% point for f = 0.1). An incomplete drop gets ``step_end`` = NaN (and ``step_cross`` = NaN
  when the midpoint was not reached either); its checkpoints are counted up to the run's last step. A
  crossing a run never entered (its loss stayed above ``L_{k-1} - f D``) has no row. Crossings start at
  k = 2 (unigram -> bigram): the fall from the initial loss (about log V) to the unigram level has no
  plateau before it.
* ``in_drop`` of a step: it lies inside ``[step_start, step_end]`` (or after ``step_start`` of an
  incomplete drop) of some crossing of its run.
* ``n_checkpoints_in_drop``: the run's checkpoint steps (``run.json``'s ``checkpoint_steps``) inside the
  same interval; a complete drop with fewer than :data:`MIN_CHECKPOINTS_IN_DROP` cannot be located by a
  test run on the checkpoint series (:func:`coverage_warnings`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from toposcale.train.ngram import order_name

STAGE_COLUMNS = ["run", "step", "frac", "loss", "stage", "in_drop"]
CROSSING_COLUMNS = ["run", "activation", "n_nonembed", "seed", "crossing", "from_order", "to_order", "level_from",
                    "level_to", "step_start", "step_cross", "step_end", "frac_cross", "complete",
                    "n_checkpoints_in_drop", "margin"]
#: Checkpoints a drop needs inside it for a change-point test on the checkpoint series to locate it.
MIN_CHECKPOINTS_IN_DROP = 3


def smooth_loss(loss: np.ndarray, window: int) -> np.ndarray:
    """Centred running median of ``window`` points (an even window is raised by one; 1 = unchanged).

    Near the ends the window shrinks symmetrically (the first and last points stay as they are), so a
    monotone curve is returned unchanged.

    Examples
    --------
    >>> smooth_loss(np.array([3.0, 3.0, 9.0, 2.0, 2.0]), 3).tolist()
    [3.0, 3.0, 3.0, 2.0, 2.0]
    """
    x = np.asarray(loss, dtype=float)
    half = int(window) // 2
    if half == 0 or len(x) < 3:
        return x.copy()
    out = pd.Series(x).rolling(2 * half + 1, center=True).median().to_numpy().copy()
    for i in list(range(min(half, len(x)))) + list(range(max(len(x) - half, 0), len(x))):
        h = min(half, i, len(x) - 1 - i)
        out[i] = np.median(x[i - h:i + h + 1])
    return out


def stage_of(loss: np.ndarray, levels: list[float], margin: float) -> np.ndarray:
    """Highest order k (1-based) with ``loss <= levels[k-1] + margin``; 0 where none.

    Examples
    --------
    >>> stage_of(np.array([5.0, 3.0, 2.3, 1.0]), [3.02, 2.26, 1.73], 0.05).tolist()
    [0, 1, 2, 3]
    """
    loss = np.asarray(loss, dtype=float)
    reached = loss[:, None] <= np.asarray(levels, dtype=float)[None, :] + margin
    highest = np.where(reached, np.arange(1, len(levels) + 1)[None, :], 0)
    return highest.max(axis=1) if len(levels) else np.zeros(len(loss), dtype=int)


def _first_at_or_below(steps: np.ndarray, loss: np.ndarray, threshold: float, after: float = -np.inf) -> float:
    hit = np.flatnonzero((loss <= threshold) & (steps >= after))
    return float(steps[hit[0]]) if len(hit) else math.nan


def run_crossings(steps, loss, levels: list[float], drop_fraction: float, checkpoint_steps=(),
                  names: list[str] | None = None) -> list[dict]:
    """The crossings one run entered, from its (smoothed) loss at ``steps`` (see the module docstring).

    Returns dicts with ``crossing``, ``from_order``, ``to_order``, ``level_from``, ``level_to``,
    ``step_start``, ``step_cross``, ``step_end``, ``complete`` and ``n_checkpoints_in_drop``.
    """
    steps = np.asarray(steps, dtype=float)
    loss = np.asarray(loss, dtype=float)
    ck = np.asarray(sorted(checkpoint_steps), dtype=float)
    names = names or [order_name(k) for k in range(1, len(levels) + 1)]
    out = []
    for k in range(2, len(levels) + 1):
        hi, lo = float(levels[k - 2]), float(levels[k - 1])
        gap = hi - lo
        start = _first_at_or_below(steps, loss, hi - drop_fraction * gap)
        if math.isnan(start):
            continue
        cross = _first_at_or_below(steps, loss, 0.5 * (hi + lo), after=start)
        end = _first_at_or_below(steps, loss, lo + drop_fraction * gap, after=start)
        last = end if not math.isnan(end) else steps[-1]
        out.append({"crossing": f"{names[k - 2]}->{names[k - 1]}", "from_order": k - 1, "to_order": k,
                    "level_from": hi, "level_to": lo, "step_start": start, "step_cross": cross, "step_end": end,
                    "complete": not math.isnan(end),
                    "n_checkpoints_in_drop": int(np.sum((ck >= start) & (ck <= last)))})
    return out


def run_stages(run: str, dense: pd.DataFrame, info: dict, levels: list[dict], cfg: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage rows and crossing rows of one run.

    Parameters
    ----------
    run : str
        Run name.
    dense : DataFrame
        The run's ``dense_log.csv`` (``step``, ``val_loss``; NaN val rows are skipped).
    info : dict
        The run's ``run.json`` (``activation``, ``n_nonembed``, ``seed``, ``total_steps``, ``checkpoint_steps``).
    levels : list of dict
        ``levels`` of ``ngram_levels.json`` (``order``, ``name``, ``nats``), orders 1..K.
    cfg : dict
        The config's ``stages`` section (``margin``, ``drop_fraction``, ``smoothing_window``).
    """
    missing = {"step", "val_loss"} - set(dense.columns)
    if missing:
        raise ValueError(f"dense log of {run} lacks columns {sorted(missing)}; retrain with this version "
                         f"(toposcale.train.trainer.DENSE_COLUMNS)")
    d = dense.dropna(subset=["val_loss"]).sort_values("step")
    if d.empty:
        raise ValueError(f"dense log of {run} has no validation loss; check training.dense_val_every")
    steps = d["step"].to_numpy(dtype=float)
    loss = smooth_loss(d["val_loss"].to_numpy(), cfg["smoothing_window"])
    nats = [float(lv["nats"]) for lv in levels]
    names = [str(lv["name"]) for lv in levels]
    rows = run_crossings(steps, loss, nats, cfg["drop_fraction"], info.get("checkpoint_steps", ()), names)
    total = float(info["total_steps"])
    in_drop = np.zeros(len(steps), dtype=bool)
    for r in rows:
        last = r["step_end"] if r["complete"] else np.inf
        in_drop |= (steps >= r["step_start"]) & (steps <= last)
    stages = pd.DataFrame({"run": run, "step": steps.astype(int), "frac": steps / total, "loss": loss,
                           "stage": np.maximum.accumulate(stage_of(loss, nats, cfg["margin"])).astype(int), "in_drop": in_drop})
    cross = pd.DataFrame([{"run": run, "activation": info["activation"], "n_nonembed": int(info["n_nonembed"]),
                           "seed": int(info["seed"]), **r, "frac_cross": r["step_cross"] / total,
                           "margin": float(cfg["margin"])} for r in rows], columns=CROSSING_COLUMNS)
    return stages[STAGE_COLUMNS], cross[CROSSING_COLUMNS]


def study_stages(runs: dict[str, tuple[pd.DataFrame, dict]], levels: list[dict], cfg: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`run_stages` of every run (``runs``: name -> (dense log, run.json)), concatenated in name order."""
    parts = [run_stages(name, dense, info, levels, cfg) for name, (dense, info) in sorted(runs.items())]
    stages = pd.concat([p[0] for p in parts], ignore_index=True) if parts else pd.DataFrame(columns=STAGE_COLUMNS)
    cross = [p[1] for p in parts if not p[1].empty]
    crossings = pd.concat(cross, ignore_index=True) if cross else pd.DataFrame(columns=CROSSING_COLUMNS)
    return stages, crossings


def coverage_warnings(crossings: pd.DataFrame, minimum: int = MIN_CHECKPOINTS_IN_DROP) -> list[str]:
    """One line per complete crossing with fewer than ``minimum`` checkpoints inside its drop."""
    lines = []
    for r in crossings.itertuples(index=False):
        if r.complete and r.n_checkpoints_in_drop < minimum:
            lines.append(f"WARNING: {r.run} {r.crossing}: {r.n_checkpoints_in_drop} checkpoints inside its drop "
                         f"(steps {r.step_start:.0f}-{r.step_end:.0f}), fewer than {minimum}; a test on the "
                         f"checkpoint series cannot locate it: raise training.n_linear_checkpoints")
    return lines


def stages_from_files(dense_paths, run_json_paths, levels_path, cfg: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`study_stages` from the files: ``runs/{run}/dense_log.csv`` and ``runs/{run}/run.json``
    (paired by folder) and ``data/{corpus}/ngram_levels.json``."""
    import json
    from pathlib import Path

    from toposcale.train.ngram import load_levels

    infos = {Path(p).parent.name: json.loads(Path(p).read_text()) for p in run_json_paths}
    runs = {}
    for p in dense_paths:
        name = Path(p).parent.name
        if name not in infos:
            raise ValueError(f"{p}: no run.json beside it; the stage table needs both files of run {name}")
        runs[name] = (pd.read_csv(p), infos[name])
    return study_stages(runs, load_levels(levels_path), cfg)
