"""Recall of the complete unigram->bigram crossings of a finished study by the change-point test on the
checkpoint val-loss series (issue 21's done-when: >= 90%, located within one checkpoint).

Reads ``{results}/runs/*/log.csv`` (checkpoint val_loss), ``dense_log.csv`` and ``run.json`` per run and
``{results}/data/{corpus}/ngram_levels.json``; the crossings are
:func:`toposcale.analysis.stages.stages_from_files` with the schema's ``stages`` defaults; each run's loss
series (steps > 0, x = log step) is tested with :func:`toposcale.analysis.change_test.change_points`
(``--method``, the schema's ``transitions`` defaults otherwise; one-sided for the loss) and scored by
:func:`toposcale.analysis.stage_recall.crossing_detection` / ``recall_table``.

Usage::

    PYTHONPATH=workflow .venv/bin/python benchmarks/changepoint_real_recall.py --results results [--method ramp]
        [--window 3] [--allowance 0.2] [--noise spline|sup] [--anneal]   (rebound settings; defaults: the schema's)
        [--no-ramp-after-warmup] [--anneal-max-share 0.2]
"""
import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from toposcale.analysis.change_test import METHODS, change_points
from toposcale.analysis.lr_schedule import anneal_covariate, warmup_points
from toposcale.analysis.stage_recall import crossing_detection, recall_table
from toposcale.analysis.stages import stages_from_files
from toposcale.analysis.transitions import DEFAULT_SETTINGS

STAGES = dict(max_order=5, margin=0.05, drop_fraction=0.1, smoothing_window=5)     # schema defaults


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--corpus", default="kjv")
    ap.add_argument("--method", choices=METHODS, default=DEFAULT_SETTINGS["method"])
    ap.add_argument("--n-null", type=int, default=999)
    ap.add_argument("--window", type=int, default=DEFAULT_SETTINGS["rebound_window"])
    ap.add_argument("--allowance", type=float, default=DEFAULT_SETTINGS["rebound_allowance"])
    ap.add_argument("--noise", choices=("spline", "sup"), default=DEFAULT_SETTINGS["rebound_noise"])
    ap.add_argument("--anneal", action=argparse.BooleanOptionalAction, default=DEFAULT_SETTINGS["anneal"],
                    help="rebound: the schedule's lr decay in the null (run.json total_steps, schema's train defaults)")
    ap.add_argument("--sigma-quantile", type=float, default=DEFAULT_SETTINGS["rebound_sigma_quantile"],
                    help="rebound: also null draws at this upper confidence quantile of the noise sd (max p; 0 off)")
    ap.add_argument("--anneal-max-share", type=float, default=DEFAULT_SETTINGS["anneal_max_share"]["loss"],
                    help="rebound: the largest share of the series' range the schedule term may explain "
                         "(transitions.anneal_max_share.loss; negative: unbounded)")
    ap.add_argument("--ramp-after-warmup", action=argparse.BooleanOptionalAction,
                    default=DEFAULT_SETTINGS["ramp_after_warmup"],
                    help="the ramp scan skips ramps that rise in the warmup (transitions.ramp_after_warmup)")
    a = ap.parse_args()
    logs = sorted(Path(a.results).glob("runs/*/log.csv"))
    if not logs:
        raise SystemExit(f"no runs/*/log.csv under {a.results}")
    _, cr = stages_from_files([p.parent / "dense_log.csv" for p in logs], [p.parent / "run.json" for p in logs],
                              Path(a.results) / "data" / a.corpus / "ngram_levels.json", STAGES)
    cr = cr[cr["crossing"] == "unigram->bigram"]
    st = DEFAULT_SETTINGS
    rows, steps_of = [], {}
    for p in logs:
        g = pd.read_csv(p)
        g = g[g["step"] > 0]
        step, y = g["step"].to_numpy(float), g["val_loss"].to_numpy(float)
        steps_of[p.parent.name] = step
        total = json.loads((p.parent / "run.json").read_text())["total_steps"]
        r = change_points(y[None], np.log(step), a.method, n_null=a.n_null, seed=0,
                          anneal=anneal_covariate(step, total) if a.anneal else None,
                          significance=st["significance"], smooth_df=st["smooth_df"], null_df=st["null_df"],
                          widths=tuple(st["ramp_widths"]), min_plateau=st["min_plateau"],
                          max_change_points=st["max_change_points"], window=a.window,
                          allowance=a.allowance, noise=a.noise, sigma_quantile=a.sigma_quantile or None,
                          anneal_max_share=None if a.anneal_max_share < 0 else a.anneal_max_share,
                          warmup_points=warmup_points(step, total) if a.ramp_after_warmup else 0)[0]
        rows += [dict(run=p.parent.name, source="loss", metric="val_loss", variant="raw", step=step[c],
                      significant=True) for c in r["change_points"]]
        print(f"{p.parent.name}: p {r['p_value']:.4f}, change points at steps {[int(step[c]) for c in r['change_points']]}")
    det = crossing_detection(cr, pd.DataFrame(rows, columns=["run", "source", "metric", "variant", "step",
                                                             "significant"]), steps_of)
    print(det.to_markdown(index=False))
    print(recall_table(det).to_markdown(index=False))


if __name__ == "__main__":
    main()
