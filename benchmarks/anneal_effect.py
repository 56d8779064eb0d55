"""How much of a run's loss curve the learning-rate anneal explains: the measurement behind
``transitions.anneal_max_share`` (toposcale.analysis.lr_schedule.anneal_bound).

Compares a study trained with the default warmup + cosine schedule with the same study retrained with a
constant rate after the warmup (``training.min_lr_frac: 1.0``)::

    snakemake --cores 2 --config results=/tmp/const/results 'training={min_lr_frac: 1.0}' -- train_all
    PYTHONPATH=workflow .venv/bin/python benchmarks/anneal_effect.py --cosine results --constant /tmp/const/results

For every run in both folders it prints:

* ``gain``: the annealing speed-up, the constant-rate run's val loss at the same *forward area* (the
  cumulative learning rate, in lr_max-steps; Tissue et al. 2024) minus the cosine run's, averaged over the last
  10% of training (dense logs, running median of 9 points). It is what the anneal buys beyond the progress the
  lower rate costs; at equal *steps* the constant-rate run is ahead in every run of the default study.
* ``share``: ``gain`` over the range of the cosine run's checkpoint val-loss series (steps > 0), the unit of
  ``anneal_max_share``.
* ``cross_cos`` / ``cross_const``: the unigram->bigram crossing step of the two runs (the stage table's rule,
  schema defaults): a drop the schedule caused would move with it.

``--series SOURCE/METRIC`` (e.g. ``weights/h1_total_persistence_norm``) measures a headline topology
series instead (block mean, raw, from ``metrics/{run}.parquet`` of both folders, at the checkpoints): ``gain``
is the constant-rate run's value minus the cosine run's at the cosine run's last checkpoint, at equal forward
area (linear interpolation between the constant-rate run's checkpoints), ``share`` its absolute value over the
cosine series' range. For weight clouds the schedule acts directly (the decoupled weight decay of each step
is lr x weight_decay), so their share can exceed the loss's.
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from toposcale.analysis.metrics_table import load_metrics
from toposcale.analysis.stages import smooth_loss, stages_from_files
from toposcale.analysis.transitions import trajectory

STAGES = dict(max_order=5, margin=0.05, drop_fraction=0.1, smoothing_window=5)     # schema defaults


def gain(cos: pd.DataFrame, const: pd.DataFrame, tail: float = 0.1) -> float:
    """Mean over the last ``tail`` of the cosine run's dense steps of ``L_const(S) - L_cos(S)`` at equal
    forward area ``S`` (``lr`` of a dense row: the rate of the update that produced its step)."""
    cos, const = (d.dropna(subset=["val_loss"]) for d in (cos, const))
    lr_max = float(const["lr"].max())
    s_cos, s_const = (np.cumsum(d["lr"].to_numpy()) / lr_max for d in (cos, const))
    l_cos, l_const = (smooth_loss(d["val_loss"].to_numpy(), 9) for d in (cos, const))
    diff = np.interp(s_cos, s_const, l_const) - l_cos
    return float(diff[int((1.0 - tail) * len(diff)):].mean())


def forward_area(dense: pd.DataFrame, lr_max: float) -> pd.Series:
    """Cumulative learning rate in lr_max-steps at each dense step (index: step)."""
    return pd.Series(np.cumsum(dense["lr"].to_numpy()) / lr_max, index=dense["step"].to_numpy())


def series_gain(root_cos: Path, root_const: Path, run: str, source: str, metric: str) -> tuple[float, float]:
    """(gain, range) of one headline topology series (``--series``)."""
    vals = []
    for root in (root_cos, root_const):
        t = trajectory(load_metrics([root / "metrics" / f"{run}.parquet"]), source, "blocks", metric)
        vals.append(t.sort_values("step"))
    dense = [pd.read_csv(root / "runs" / run / "dense_log.csv") for root in (root_cos, root_const)]
    lr_max = float(dense[1]["lr"].max())
    s_cos, s_const = (forward_area(d, lr_max).reindex(v["step"]).to_numpy() for d, v in zip(dense, vals))
    at = float(np.interp(s_cos[-1], s_const, vals[1]["value"].to_numpy()))
    return at - float(vals[0]["value"].iloc[-1]), float(np.ptp(vals[0]["value"]))


def crossings(results: Path, runs: list[str], levels: Path) -> dict[str, float]:
    _, cr = stages_from_files([results / "runs" / r / "dense_log.csv" for r in runs],
                              [results / "runs" / r / "run.json" for r in runs], levels, STAGES)
    cr = cr[cr["crossing"] == "unigram->bigram"]
    return dict(zip(cr["run"], cr["step_cross"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cosine", required=True, type=Path, help="results folder of the default schedule")
    ap.add_argument("--constant", required=True, type=Path, help="results folder with training.min_lr_frac 1.0")
    ap.add_argument("--series", help="SOURCE/METRIC of a headline topology series instead of the val loss")
    a = ap.parse_args()
    if a.series:
        source, metric = a.series.split("/")
        runs = sorted(p.stem for p in (a.cosine / "metrics").glob("*.parquet")       # trained runs in both
                      if (a.constant / "metrics" / p.name).exists()
                      and all((root / "runs" / p.stem / "dense_log.csv").exists() for root in (a.cosine, a.constant)))
        rows = [dict(zip(("run", "gain", "range"), (r, *series_gain(a.cosine, a.constant, r, source, metric))))
                for r in runs]
        df = pd.DataFrame(rows).assign(share=lambda d: d["gain"].abs() / d["range"])
        print(df.to_markdown(index=False, floatfmt=".3f"))
        print(f"\n|share| of the range: median {df['share'].median():.3f}, max {df['share'].max():.3f} "
              f"({df.loc[df['share'].idxmax(), 'run']}); above 0.2 (the bound): {int((df['share'] > 0.2).sum())} "
              f"of {len(df)}")
        return
    runs = sorted(p.parent.name for p in (a.cosine / "runs").glob("*/dense_log.csv")
                  if (a.constant / "runs" / p.parent.name / "dense_log.csv").exists())
    if not runs:
        raise SystemExit(f"no run has a dense_log.csv under both {a.cosine}/runs and {a.constant}/runs")
    levels = a.cosine / "data" / "kjv" / "ngram_levels.json"        # the same corpus: the default schedule's
    cc, ck = crossings(a.cosine, runs, levels), crossings(a.constant, runs, levels)
    rows = []
    for r in runs:
        g = gain(*(pd.read_csv(root / "runs" / r / "dense_log.csv") for root in (a.cosine, a.constant)))
        ck_log = pd.read_csv(a.cosine / "runs" / r / "log.csv")
        span = float(np.ptp(ck_log.loc[ck_log["step"] > 0, "val_loss"]))
        rows.append(dict(run=r, gain=g, range=span, share=g / span, cross_cos=cc.get(r, np.nan),
                         cross_const=ck.get(r, np.nan)))
    df = pd.DataFrame(rows)
    print(df.to_markdown(index=False, floatfmt=".3f"))
    both = df.dropna(subset=["cross_cos", "cross_const"])
    print(f"\nshare of the range: min {df['share'].min():.3f}, median {df['share'].median():.3f}, "
          f"max {df['share'].max():.3f} ({df.loc[df['share'].idxmax(), 'run']}); gain {df['gain'].min():.3f}-"
          f"{df['gain'].max():.3f} nats")
    if len(both):
        shift = np.log(both["cross_const"] / both["cross_cos"])
        print(f"unigram->bigram crossing in both schedules: {len(both)} runs; step ratio constant / cosine "
              f"{np.exp(shift.min()):.2f}-{np.exp(shift.max()):.2f} (median {np.exp(shift.median()):.2f})")


if __name__ == "__main__":
    main()
