"""Scaling analysis of the trained grid: per-activation fits, holdout prediction, activation comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toposcale.analysis.scaling.bootstrap import (CI_LEVEL, bootstrap_fit, bootstrap_predictions,
                                                  prediction_interval, size_draws, wide_exponents,
                                                  width_notes)
from toposcale.analysis.scaling.compare import COMPARISON_INTERVAL, compare_activations, leave_one_size_out
from toposcale.analysis.scaling.holdout import holdout_verdict, naive_prediction
from toposcale.analysis.scaling.compute import compute_optimal_summary
from toposcale.analysis.scaling.laws import (fit_chinchilla, fit_compute_law, fit_power_law, law_parameters, predict,
                                             single_thread)
from toposcale.analysis.scaling.outputs import flat_table, jsonable
from toposcale.analysis.scaling.size import topology_vs_size
from toposcale.analysis.scaling.tables import fit_tables
from toposcale.analysis.scaling.stages import final_stages, stage_gate
from toposcale.plan.decidability import choose_law, fit_gate
from toposcale.stats import percentile_ci

_RUN_KEYS = ("name", "activation", "n_nonembed", "tokens_seen", "holdout")


def _final_loss(run: dict, log) -> float:
    if log is not None and "val_loss" in log:
        v = np.asarray(log.sort_values("step")["val_loss"], dtype=float) if "step" in log else \
            np.asarray(log["val_loss"], dtype=float)
        v = v[np.isfinite(v)]
        if v.size:
            return float(v[-1])
    v = run.get("final_val_loss")
    if v is None or not np.isfinite(float(v)):
        raise ValueError(f"run {run.get('name')!r} has no final validation loss: its log.csv has no "
                         f"finite val_loss and run.json no final_val_loss; rerun or drop the run")
    return float(v)


def grid_table(runs: list[dict], logs: dict | None = None):
    """One row per run: run, activation, size, seed, target, N, D, C, tokens_per_param, loss, holdout.

    ``target`` = the run's ``target_params`` (its size on the config's grid, shared by the activations;
    ``N`` when run.json lacks it), ``N`` = n_nonembed, ``D`` = tokens_seen, ``C`` = flops from run.json
    (``6 N D`` if absent),
    ``loss`` = the last finite val_loss of log.csv (run.json's final_val_loss when the log is absent).
    """
    if not runs:
        raise ValueError("no runs given; the scaling analysis needs run.json files of trained runs")
    rows = []
    for r in runs:
        missing = [k for k in _RUN_KEYS if k not in r]
        if missing:
            raise ValueError(f"run.json of {r.get('name', '?')!r} lacks {missing}; retrain with the "
                             f"current toposcale so run.json follows the contract")
        N, D = float(r["n_nonembed"]), float(r["tokens_seen"])
        rows.append({"run": r["name"], "activation": r["activation"], "size": r.get("size"),
                     "seed": r.get("seed"), "target": float(r.get("target_params") or N),
                     "N": N, "D": D,
                     "C": float(r.get("flops") or 6.0 * N * D),
                     "tokens_per_param": float(r.get("tokens_per_param", D / N)),
                     "loss": _final_loss(r, (logs or {}).get(r["name"])),
                     "holdout": bool(r["holdout"])})
    return pd.DataFrame(rows)


def _curve(fit: dict, boot: dict, C_grid: np.ndarray, tpp: float | None) -> dict:
    if fit["law"] == "chinchilla":
        N = np.sqrt(C_grid / (6.0 * tpp))
        kw = {"N": N, "D": tpp * N}
    else:
        kw = {"C": C_grid}
    pred = predict(fit, **kw)
    draws = bootstrap_predictions(fit, boot, **kw)
    lo, hi = zip(*(percentile_ci(draws[:, j]) for j in range(draws.shape[1])))
    return {"tokens_per_param": tpp, "C": C_grid.tolist(), "loss": pred.tolist(),
            "lo": list(lo), "hi": list(hi)}


def _law_gate(g, law: str) -> dict:
    """:func:`~toposcale.plan.decidability.fit_gate` of a fit to the rows ``g``: distinct sizes for L(C),
    distinct (size, tokens per parameter) pairs for L(N, D)."""
    if law == "chinchilla":
        n = len(g[["target", "tokens_per_param"]].round(6).drop_duplicates())
        return fit_gate(n, len(law_parameters(law)), "(size, tokens/param) points")
    return fit_gate(g["target"].nunique(), len(law_parameters(law)), "sizes")


def _fit_law(g, delta, grid) -> dict:
    """Choose and fit one activation's law on its non-holdout runs (no bootstrap yet)."""
    fit_rows = g[~g["holdout"]]
    out = {"n_fit": int(len(fit_rows)), "fit_runs": fit_rows["run"].tolist(),
           "points": g[["run", "N", "D", "C", "tokens_per_param", "loss", "holdout"]].to_dict("records"),
           "notes": []}
    tpps = sorted(fit_rows["tokens_per_param"].round(6).unique())
    law, note = choose_law(len(tpps), len(fit_rows))
    out["notes"] += [note] if note else []
    out["law"], out["tpps"] = law, tpps
    out["gate"] = _law_gate(fit_rows, law)
    out["power_law_gate"] = fit_gate(fit_rows["target"].nunique(), len(law_parameters("power")), "sizes")
    out["_fit"] = out["_pl"] = None
    try:
        if law == "chinchilla":
            out["_fit"] = fit_chinchilla(fit_rows["N"], fit_rows["D"], fit_rows["loss"], delta=delta,
                                         grid=None if grid is None else grid.get("chinchilla"))
        else:
            out["_fit"] = fit_compute_law(fit_rows["C"], fit_rows["loss"], delta=delta,
                                          grid=None if grid is None else grid.get("compute"))
    except ValueError as err:
        out["notes"].append(f"{law} law not fitted: {err}")
    try:
        out["_pl"] = fit_power_law(fit_rows["C"], fit_rows["loss"])
    except ValueError as err:
        out["notes"].append(f"pure power law not fitted: {err}")
    return out


def _bootstrap_activation(out: dict, g, rows, seed, C_grid, jack_rows=None) -> dict:
    """Bootstrap one activation's fits on the paired resamples ``rows``, refit its law on the paired
    leave-one-size-out subsets ``jack_rows`` (:func:`leave_one_size_out`; stored as ``_jack``, None
    without them) and predict its holdout runs."""
    fit, pl = out.pop("_fit"), out.pop("_pl")
    tpps = out.pop("tpps")
    law = out["law"]
    if pl is not None:
        pboot = bootstrap_fit(pl, resamples=rows)
        out["power_law"] = {"params": pl["params"], "ci": pboot["ci"], "r2": pl["r2"],
                            "decidable": out["power_law_gate"]["decidable"]}
    out["fit"] = None
    out["holdout"] = []
    if fit is None:
        return out
    boot = bootstrap_fit(fit, resamples=rows)
    # the leave-one-size-out refits: the same refit as a bootstrap resample (bootstrap_fit), one per left-out size
    out["_jack"] = None if jack_rows is None else bootstrap_fit(fit, resamples=jack_rows)
    out["fit"] = {"params": fit["params"], "ci": boot["ci"], "objective": fit["objective"],
                  "converged": fit["converged"], "n_starts": fit["n_starts"],
                  "n_converged": fit["n_converged"], "n_redrawn": boot["n_redrawn"],
                  "n_failed": boot["n_failed"], "wide_ci": wide_exponents(fit, boot),
                  "decidable": out["gate"]["decidable"], "residual_dof": out["gate"]["residual_dof"]}
    out["notes"].extend(width_notes(fit, boot))
    if law == "chinchilla":
        out["compute_optimal"] = compute_optimal_summary(fit["params"], boot)
    out["curves"] = [_curve(fit, boot, C_grid, t if law == "chinchilla" else None)
                     for t in (tpps if law == "chinchilla" else [None])]
    naive = naive_prediction(g[~g["holdout"]])
    for i, row in enumerate(g[g["holdout"]].itertuples()):
        pi = prediction_interval(fit, boot, N=[row.N], D=[row.D], C=[row.C], seed=seed + i)
        pred = pi["predicted"][0]
        h = {"run": row.run, "N": row.N, "D": row.D, "C": row.C, "observed": row.loss,
             "predicted": pred, "pi_lo": pi["lo"][0], "pi_hi": pi["hi"][0],
             "rel_error_pct": 100.0 * (pred - row.loss) / row.loss,
             "inside_interval": bool(pi["lo"][0] <= row.loss <= pi["hi"][0]),
             "decidable": out["gate"]["decidable"], "naive_predicted": naive,
             "naive_rel_error_pct": 100.0 * (naive - row.loss) / row.loss}
        h["verdict"] = holdout_verdict(h)
        if pl is not None:
            pp = float(predict(pl, C=[row.C])[0])
            h["power_law_predicted"] = pp
            h["power_law_rel_error_pct"] = 100.0 * (pp - row.loss) / row.loss
        out["holdout"].append(h)
    out["_fit"], out["_boot"] = fit, boot
    return out


def _apply_stage_gates(acts: dict, df, stages) -> None:
    """Make each activation's law gates undecidable where its runs end on different n-gram stages or mid-drop."""
    final = final_stages(stages)
    for act, v in acts.items():
        sg = stage_gate(final, df.loc[df["activation"] == act, "run"])
        v["stage_gate"] = sg
        if not sg["decidable"]:
            for key in ("gate", "power_law_gate"):
                if not v[key]["decidable"]:     # too few sizes already: keep that message, add the stages
                    v[key] = {**v[key], "message": f"{v[key]['message']}; and {sg['message']}"}
                    continue
                v[key] = {**v[key], "decidable": False, "have": "runs ending on different n-gram stages",
                          "need": "every fitted and held-out run ending on one stage, none inside a drop",
                          "message": sg["message"], "stage": True}


@single_thread
def analyse_grid(runs: list[dict], logs: dict | None = None, metrics=None, n_bootstrap: int = 1000,
                 delta: float = 1e-3, seed: int = 0, grid: dict | None = None,
                 tables: list[dict] | None = None, stages=None) -> dict:
    """Scaling analysis of the trained grid (JSON-serialisable result).

    Parameters
    ----------
    runs : list of dict
        Contents of ``results/runs/{run}/run.json``.
    logs : dict, optional
        Run name -> DataFrame of its log.csv; the final loss is the last finite val_loss.
    metrics : DataFrame, optional
        Concatenated ``results/metrics/{run}.parquet`` tables, for topology vs size.
    n_bootstrap, delta, seed
        Bootstrap resamples, Huber threshold, random seed.
    grid : dict, optional
        Start grids per law: {'compute': ..., 'chinchilla': ...} (see :func:`~toposcale.analysis.scaling.start_grid`).
    tables : list of dict, optional
        External tables (config ``scaling.tables``: {name, path}) fitted with
        :func:`~toposcale.analysis.scaling.fit_table` into ``tables``.
    stages : DataFrame, optional
        ``analysis/stages.csv`` (:mod:`toposcale.analysis.stages`). When given, an activation whose fitted
        and held-out runs end on different n-gram stages, or inside a drop, gets an undecidable ``gate``
        and ``power_law_gate`` (:func:`toposcale.analysis.scaling.stages.stage_gate`, stored as
        ``stage_gate``): a smooth law fitted across the staircase cannot extrapolate.

    Returns
    -------
    dict
        ``settings``; ``activations`` (per activation: law, fit params and 95% CIs, pure power
        law, holdout predictions with prediction intervals and relative error %, the naive prediction
        (``naive_predicted``: the largest fitted size's mean loss) and its error, and the holdout
        ``verdict`` (:func:`~toposcale.analysis.scaling.holdout.holdout_verdict`), fitted curves
        with confidence bands, notes); ``comparisons`` (each activation against the baseline,
        'gelu' when present: exponent differences, compute multiplier, kind, verdict);
        ``verdict`` (text of the first comparison, or why there is none); ``topology`` (raw and
        null-adjusted exponents and a
        size verdict per metric, see
        :func:`~toposcale.analysis.scaling.topology_vs_size`); ``tables`` (external tables, name ->
        :func:`~toposcale.analysis.scaling.fit_table` result); ``table`` (flat rows, see
        :func:`~toposcale.analysis.scaling.flat_table`); ``notes``.

    The fit uses the non-holdout runs of each activation, the law chosen by :func:`~toposcale.plan.decidability.choose_law`. Each
    activation's ``gate`` (:func:`~toposcale.plan.decidability.fit_gate`: distinct fitted sizes minus the
    law's parameters must reach 3 residual degrees of freedom) is stored with it, copied as ``decidable``
    into its fit and holdout predictions, and a comparison of an undecidable fit says 'cannot decide'
    (:func:`compare_activations`). Every fit is bootstrapped on one set of paired size draws
    (:func:`~toposcale.analysis.scaling.bootstrap.size_draws`; ``settings.resampling``).
    """
    df = grid_table(runs, logs)
    C_all = df["C"].to_numpy(float)
    C_grid = np.geomspace(C_all.min() / 1.5, C_all.max() * 1.5, 60)
    res = {"settings": {"n_bootstrap": int(n_bootstrap), "huber_delta": float(delta), "seed": int(seed),
                        "ci_level": CI_LEVEL, "loss": "final val_loss, nats/token",
                        "compute": "C = 6 * n_nonembed * tokens_seen FLOPs",
                        "topology": "each metric at a run's final checkpoint, mean over layers (equal "
                                    "weights; degenerate clouds excluded), per source; metric = k * "
                                    "N**gamma by log-log least squares, N = n_nonembed; null-adjusted: "
                                    "layer mean of metric / layer mean of its null mean = k' * "
                                    "N**gamma_adj (covariance-matched Gaussian null; entry-permutation "
                                    "null for weights: gamma_perm_adj); 95% interval of gamma: jackknife-t over "
                                    "sizes (leave one size out, t on sizes - 2 dof)"},
           "activations": {}, "comparisons": [], "verdict": None, "topology": [], "notes": []}
    acts = {a: _fit_law(df[df["activation"] == a], delta, grid) for a in sorted(df["activation"].unique())}
    if stages is not None:
        _apply_stage_gates(acts, df, stages)
    fits = {a: v for a, v in acts.items() if v["_fit"] is not None or v["_pl"] is not None}
    if fits:
        params = {a: len(law_parameters(v["law"] if v["_fit"] is not None else "power")) for a, v in fits.items()}
        fit_sizes = {a: df[(df["activation"] == a) & ~df["holdout"]]["target"].to_numpy() for a in fits}
        paired = size_draws(fit_sizes, params, n_bootstrap, seed)
        jack = leave_one_size_out(fit_sizes, params)
        res["settings"]["resampling"] = ("paired cluster bootstrap over sizes: each resample draws the fitted "
                                         "sizes with replacement, the same sizes for every activation, and "
                                         "takes every run of each drawn size; the activation comparison's "
                                         "intervals: " + COMPARISON_INTERVAL)
    for act, v in acts.items():
        rows = paired["rows"][act] if act in fits else None
        jrows = jack["rows"][act] if act in fits else None
        res["activations"][act] = _bootstrap_activation(v, df[df["activation"] == act], rows, seed, C_grid, jrows)
        if res["activations"][act].get("_jack") is not None:
            res["activations"][act]["_jack"]["levels"] = jack["levels"]
        if res["activations"][act].get("_boot") is not None:
            res["activations"][act]["_boot"]["size_draws"] = paired["draws"]
            res["activations"][act]["fit"]["n_redrawn"] = paired["n_redrawn"]   # redrawn for every fit at once
    fitted = [a for a, v in res["activations"].items() if v["fit"] is not None]
    base = "gelu" if "gelu" in fitted else (fitted[0] if fitted else None)
    for other in fitted:
        if other == base:
            continue
        A, B = res["activations"][base], res["activations"][other]
        if A["law"] != B["law"]:
            res["notes"].append(f"{other} and {base} were fitted with different laws; not compared")
            continue
        res["comparisons"].append(compare_activations(base, A, other, B))
    if res["comparisons"]:
        res["verdict"] = res["comparisons"][0]["verdict"]
    else:
        gates = [f"{a}: {v['gate']['message']}" for a, v in res["activations"].items() if not v["gate"]["decidable"]]
        res["verdict"] = ("no activation comparison: needs two activations with a fitted law "
                          f"(fitted: {fitted or 'none'})" + "".join(f"; {g}" for g in gates))
    if metrics is not None and len(metrics):
        res["topology"] = topology_vs_size(metrics, df, n_bootstrap=n_bootstrap, seed=seed)
    for v in res["activations"].values():
        v.pop("_fit", None)
        v.pop("_boot", None)
        v.pop("_jack", None)
    res["tables"] = fit_tables(tables, delta=delta, n_bootstrap=n_bootstrap, seed=seed) if tables else {}
    res["table"] = flat_table(res)
    return jsonable(res)
