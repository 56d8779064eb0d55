"""The scaling analysis on disk: its flat table, JSON conversion, atomic writes and the grid's inputs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from toposcale.analysis.metrics_table import load_metrics
from toposcale.io import read_run_info, read_run_log, write_csv_atomic, write_json_atomic

TABLE_COLUMNS = ("section", "activation", "law", "subject", "quantity", "estimate", "ci_lo", "ci_hi",
                 "observed", "rel_error_pct", "p_value", "n", "verdict", "decidable", "needs")


def _row(**kw) -> dict:
    return {c: kw.get(c) for c in TABLE_COLUMNS}


def _gate(gate) -> dict:
    """``decidable`` and ``needs`` columns of a :func:`toposcale.plan.decidability.fit_gate` result (None: unknown)."""
    if not gate:
        return {}
    return {"decidable": gate["decidable"], "needs": "" if gate["decidable"] else gate["message"]}


def flat_table(res: dict) -> list[dict]:
    """Flatten :func:`~toposcale.analysis.scaling.analyse_grid` output into rows with :data:`TABLE_COLUMNS`.

    Sections: 'fit' (one row per parameter), 'table' (external tables; activation = table name),
    'power_law', 'holdout' (quantity 'loss': predicted
    estimate, prediction interval, observed value, relative error %), 'comparison' (exponent
    differences and 'compute_multiplier'), 'topology' (quantity 'gamma' with CI and 'spearman_rho'
    with its p-value; 'gamma_null' (exponent of the Gaussian null's mean), 'gamma_adj' (of metric /
    Gaussian null mean; ``verdict`` holds the size verdict, named by the nulls it beats), 'gamma_perm_adj'
    (of metric / permutation null mean; ``verdict`` that null's own verdict) and 'gamma_copula_adj' (of
    metric / copula null mean; likewise), each with its CI; subject = 'source/metric',
    activation = group). ``verdict`` is empty on the other rows except 'comparison' (its ``kind``:
    'exponent shift', 'offset only', 'not distinguishable' or 'cannot decide') and 'holdout' (the holdout
    verdict, :func:`toposcale.analysis.scaling.holdout.holdout_verdict`).

    ``decidable`` says whether the row's fit has the minimum data for a verdict
    (:mod:`toposcale.plan.decidability`: >= 3 residual degrees of freedom) and ``needs`` is then empty,
    else the 'cannot decide: need ...' message: on 'fit', 'holdout' and 'comparison' rows the law's gate,
    on 'power_law' rows the pure power law's, on 'topology' rows the size fit's (whether its verdict is
    a 'cannot decide' one).
    """
    rows = []
    for act, a in res["activations"].items():
        gate = _gate(a.get("gate"))
        if a.get("fit"):
            for k, v in a["fit"]["params"].items():
                lo, hi = a["fit"]["ci"][k]
                rows.append(_row(section="fit", activation=act, law=a["law"], quantity=k, estimate=v,
                                 ci_lo=lo, ci_hi=hi, n=a["n_fit"], **gate))
        if a.get("power_law"):
            for k, v in a["power_law"]["params"].items():
                lo, hi = a["power_law"]["ci"][k]
                rows.append(_row(section="power_law", activation=act, law="power", quantity=k,
                                 estimate=v, ci_lo=lo, ci_hi=hi, n=a["n_fit"], **_gate(a.get("power_law_gate"))))
        for h in a.get("holdout", []):
            rows.append(_row(section="holdout", activation=act, law=a["law"], subject=h["run"],
                             quantity="loss", estimate=h["predicted"], ci_lo=h["pi_lo"],
                             ci_hi=h["pi_hi"], observed=h["observed"],
                             rel_error_pct=h["rel_error_pct"], n=a["n_fit"], verdict=h.get("verdict", ""), **gate))
    for c in res["comparisons"]:
        pair = f"{c['other']} - {c['baseline']}"
        gate = {"decidable": c.get("decidable"), "needs": c.get("needs") or ""}
        for k, e in c["exponents"].items():
            rows.append(_row(section="comparison", law=c["law"], subject=pair,
                             quantity=f"delta_{k}", estimate=e["difference"], ci_lo=e["ci"][0],
                             ci_hi=e["ci"][1], verdict=c.get("kind"), **gate))
        rows.append(_row(section="comparison", law=c["law"], subject=pair, quantity="compute_multiplier",
                         estimate=c["compute_multiplier"], ci_lo=c["compute_multiplier_ci"][0],
                         ci_hi=c["compute_multiplier_ci"][1], observed=c["ref_loss"], verdict=c.get("kind"),
                         **gate))
    for name, t in res.get("tables", {}).items():
        for k, v in t["params"].items():
            rows.append(_row(section="table", activation=name, law=t["law"], quantity=k, estimate=v,
                             ci_lo=t["ci"][k][0], ci_hi=t["ci"][k][1], n=t["n_points"]))
    for t in res["topology"]:
        subj = f"{t['source']}/{t['metric']}"
        gate = _gate(t.get("gate"))
        rows.append(_row(section="topology", activation=t["group"], law="power", subject=subj,
                         quantity="gamma", estimate=t["gamma"], ci_lo=t["gamma_ci"][0],
                         ci_hi=t["gamma_ci"][1], n=t["n"], **gate))
        rows.append(_row(section="topology", activation=t["group"], subject=subj,
                         quantity="spearman_rho", estimate=t["spearman_rho"], p_value=t["spearman_p"],
                         n=t["n"], **gate))
        for q, verdict in (("gamma_null", None), ("gamma_adj", "verdict"), ("gamma_perm_adj", "verdict_perm"),
                           ("gamma_copula_adj", "verdict_copula")):
            if q in t:
                rows.append(_row(section="topology", activation=t["group"], law="power", subject=subj,
                                 quantity=q, estimate=t[q], ci_lo=t[f"{q}_ci"][0], ci_hi=t[f"{q}_ci"][1],
                                 n=t["n"], verdict=t.get(verdict) if verdict else None, **gate))
    return rows


def jsonable(obj):
    """Recursively convert numpy scalars/arrays to Python types and NaN/inf floats to None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj


def write_outputs(res: dict, json_path, csv_path) -> None:
    """Write the analysis JSON and its flat table CSV atomically (temporary name + rename), each with its
    provenance sidecar (:func:`toposcale.io.write_json_atomic`, :func:`toposcale.io.write_csv_atomic`)."""
    write_json_atomic(res, json_path, indent=1, allow_nan=False)
    write_csv_atomic(pd.DataFrame(res.get("table", []), columns=list(TABLE_COLUMNS)), csv_path)


def read_grid(run_paths, log_paths=(), metric_paths=()):
    """Load the scaling analysis inputs from disk.

    ``run_paths``: run.json files; ``log_paths``: ``results/runs/{run}/log.csv`` files (the run
    name is the parent folder); ``metric_paths``: ``results/metrics/{run}.parquet`` (or .csv).
    Returns ``(runs, logs, metrics)`` with ``metrics`` None when no metric file is given.
    """
    runs = [read_run_info(p) for p in run_paths]
    logs = {Path(p).parent.name: read_run_log(p) for p in log_paths}
    metrics = load_metrics(metric_paths) if len(metric_paths) else None
    return runs, logs, metrics
