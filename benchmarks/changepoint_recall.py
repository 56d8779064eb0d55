"""Issue 21's done-when check: is each run's unigram->bigram crossing found by the change-point test?

For every run of a finished study (``<study>/runs/{run}/dense_log.csv``, ``run.json``, ``log.csv`` and
``<study>/data/<corpus>/ngram_levels.json``), the crossings come from the stage table
(:func:`toposcale.analysis.stages.stages_from_files` with the ``stages`` settings given here, defaults as in
the schema) and the test (:func:`toposcale.analysis.changepoint.change_points_batch`, the ``transitions``
defaults of :data:`toposcale.analysis.transitions.DEFAULT_SETTINGS`, as for the topology series) runs on the
run's checkpoint ``val_loss`` (``log.csv``, step > 0, x = log step). A crossing is *found* when a change point
lies within one checkpoint of the first checkpoint at or past its ``step_cross``. Prints one line per run and
the recall over the complete crossings.

Usage::

    PYTHONPATH=workflow .venv/bin/python benchmarks/changepoint_recall.py --study results [--crossing unigram->bigram]
"""
import argparse
import glob
from pathlib import Path

import numpy as np
import pandas as pd

from toposcale.analysis.changepoint import change_points_batch
from toposcale.analysis.stages import stages_from_files
from toposcale.analysis.transitions import DEFAULT_SETTINGS as ST


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", required=True, help="results folder of a finished study (runs/, data/)")
    ap.add_argument("--crossing", default="unigram->bigram")
    ap.add_argument("--margin", type=float, default=0.05)
    ap.add_argument("--drop-fraction", type=float, default=0.1)
    ap.add_argument("--smoothing-window", type=int, default=5)
    a = ap.parse_args()
    root = Path(a.study)
    dense = sorted(glob.glob(str(root / "runs/*/dense_log.csv")))
    levels = sorted(glob.glob(str(root / "data/*/ngram_levels.json")))
    if not dense or not levels:
        raise SystemExit(f"{root}: need runs/*/dense_log.csv and data/*/ngram_levels.json (run the study first)")
    rj = [str(Path(p).parent / "run.json") for p in dense]
    cfg = dict(margin=a.margin, drop_fraction=a.drop_fraction, smoothing_window=a.smoothing_window)
    _, cross = stages_from_files(dense, rj, levels[0], cfg)
    kw = dict(significance=ST["significance"], smooth_df=ST["smooth_df"], null_df=ST["null_df"],
              widths=tuple(ST["ramp_widths"]), min_plateau=ST["min_plateau"], max_change_points=ST["max_change_points"])
    hits = n = 0
    for p in dense:
        run = Path(p).parent.name
        log = pd.read_csv(Path(p).parent / "log.csv").dropna(subset=["val_loss"])
        log = log[log["step"] > 0].drop_duplicates("step").sort_values("step")
        step, y = log["step"].to_numpy(float), log["val_loss"].to_numpy(float)
        r = change_points_batch(y[None], np.log(step), n_null=ST["n_null"], seed=0, **kw)[0]
        found = [int(step[i]) for i in r["change_points"]]
        c = cross[(cross["run"] == run) & (cross["crossing"] == a.crossing)]
        if c.empty or not bool(c["complete"].iloc[0]):
            print(f"{run}: {a.crossing} not complete; p {r['p_value']:.4f}, change points at steps {found}")
            continue
        ic = int(np.searchsorted(step, float(c["step_cross"].iloc[0])))
        ok = any(abs(i - ic) <= 1 for i in r["change_points"])
        hits, n = hits + ok, n + 1
        print(f"{run}: {len(step)} checkpoints, crossing at step {c['step_cross'].iloc[0]:.0f} (checkpoint {ic}, "
              f"{int(c['n_checkpoints_in_drop'].iloc[0])} in its drop); p {r['p_value']:.4f}, phi {r['phi']:.2f}; "
              f"change points at checkpoints {r['change_points']} (steps {found}) -> {'found' if ok else 'missed'}")
    print(f"recall {hits}/{n} complete {a.crossing} crossings")


if __name__ == "__main__":
    main()
