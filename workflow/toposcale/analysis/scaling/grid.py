"""Scaling analysis of the trained grid: per-activation fits, holdout prediction, activation comparison."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from toposcale.analysis.scaling.bootstrap import (CI_LEVEL, bootstrap_fit, bootstrap_predictions,
                                                  prediction_interval, sample_params, size_draws, wide_exponents,
                                                  width_notes)
from toposcale.analysis.scaling.holdout import holdout_verdict, naive_prediction
from toposcale.analysis.scaling.compute import compute_for_loss, compute_optimal_summary, loss_at_compute
from toposcale.analysis.scaling.laws import (fit_chinchilla, fit_compute_law, fit_power_law, law_parameters, predict,
                                             single_thread)
from toposcale.analysis.scaling.outputs import flat_table, jsonable
from toposcale.analysis.scaling.size import topology_vs_size
from toposcale.analysis.scaling.tables import fit_tables
from toposcale.analysis.scaling.stages import final_stages, stage_gate
from toposcale.plan.decidability import CANNOT_DECIDE, MIN_RESIDUAL_DOF, choose_law, fit_gate
from toposcale.stats import CLUSTER_INTERVAL, jackknife_t_ci, percentile_ci

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


def leave_one_size_out(row_sizes: dict, n_params: dict) -> dict | None:
    """Paired leave-one-size-out subsets of every fit's rows (the jackknife of :func:`compare_activations`).

    ``row_sizes``: fit name -> the size label of each of its rows; ``n_params``: fit name -> parameters of
    its law. Returns ``levels`` (the sorted union of the sizes) and ``rows`` (fit name -> one row-index
    array per level: every row whose size is not that level; the same size is left out of every fit;
    None for a fit where some subset would keep fewer distinct sizes than its law has parameters: no
    refit possible, and such a fit is below its decidability gate anyway).

    >>> j = leave_one_size_out({"a": [1, 1, 2, 2, 3, 3, 4, 4], "b": [1, 2, 3]}, {"a": 3, "b": 3})
    >>> j["levels"].tolist(), j["rows"]["a"][0].tolist(), j["rows"]["b"]
    ([1, 2, 3, 4], [2, 3, 4, 5, 6, 7], None)
    """
    sizes = {k: np.asarray(v) for k, v in row_sizes.items()}
    levels = np.unique(np.concatenate(list(sizes.values())))
    rows = {}
    for k, s in sizes.items():
        rows[k] = [np.flatnonzero(s != lv) for lv in levels]
        if any(len(np.unique(s[r])) < int(n_params[k]) for r in rows[k]):
            rows[k] = None
    return {"levels": levels, "rows": rows}


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


#: ``interval`` of :func:`compare_activations`: how its two verdict intervals are made.
COMPARISON_INTERVAL = (f"{CLUSTER_INTERVAL} over sizes (paired leave-one-size-out refits of both laws, "
                       f"t on sizes - 1 dof)")


def _log_multiplier(law: str, base_params: dict, other_params: dict, L0: float) -> float:
    """``log(C_base(L0) / C_other(L0))``; +-inf where one law cannot reach ``L0``, nan where neither can."""
    cb, co = compute_for_loss(law, base_params, L0), compute_for_loss(law, other_params, L0)
    if math.isinf(cb) and math.isinf(co):
        return math.nan
    with np.errstate(divide="ignore"):
        return float(np.log(cb) - np.log(co))


def compare_activations(base_name: str, base: dict, other_name: str, other: dict) -> dict:
    """Exponent difference and compute-efficiency multiplier of ``other`` relative to ``base``.

    ``base``/``other`` hold ``_fit``, ``_boot``, ``_jack`` and ``gate`` (from the grid analysis:
    ``_jack`` = the law refitted with each size's runs left out, :func:`leave_one_size_out`).

    Definitions. Exponent differences are ``other - base`` of the full-data fits. The reference loss
    ``L0`` is ``base``'s fitted loss at the largest compute among its fitted runs (on the compute-optimal
    frontier for the two-variable law); the multiplier is ``C_base(L0) / C_other(L0)``: > 1 means
    ``other`` reaches ``L0`` with less compute.

    Intervals of the verdict (``interval`` = :data:`COMPARISON_INTERVAL`). Both are **jackknife-t
    intervals over sizes** (:func:`toposcale.stats.jackknife_t_ci`, :data:`toposcale.stats.CLUSTER_INTERVAL`),
    the interval of the size verdicts: for each fitted size ``g`` in turn, both activations' laws are
    refitted without ``g``'s runs (paired: the *same* size is left out of both), giving a leave-one-out
    exponent difference and log multiplier; the interval is ``estimate +- t * se_J`` on ``G - 1`` degrees
    of freedom (``G`` fitted sizes). The multiplier's interval is made on the log scale and
    exponentiated; it is undefined (nan, so it never decides) when a leave-one-out law cannot reach
    ``L0`` at all (multiplier 0 or inf). Why not the percentile interval of the paired cluster bootstrap
    over sizes (used here before): over 6 sizes it is anti-conservative (the general reason:
    :data:`toposcale.stats.CLUSTER_INTERVAL`; here besides, each resample must keep 4 distinct sizes for 3
    parameters and refits a law to 4-5 points). With both activations on GELU's observed law it called
    'activations differ' in 0.38 +- 0.08 and 'exponent shift' in 0.18 +- 0.06 of simulated default
    studies (``toposcale.operating.scaling``, 40 studies, 40 resamples; 0.26 +- 0.04 and 0.10 +- 0.03 with
    200 resamples, 100 studies), against 0.05 nominal; the jackknife-t: 0.08 +- 0.03 and 0.02 +- 0.01 on
    the same 100 studies (0.025 +- 0.025 and 0.075 +- 0.042 in ``benchmarks/operating_characteristics.py
    --family scaling``, 40 studies). Its price is power: on the observed GELU vs SwiGLU laws (alpha
    difference +0.064) 'exponent shift' 0.43 +- 0.05 and 'activations differ' 0.77 +- 0.04 (bootstrap,
    200 resamples: 0.62, 0.90; the benchmark: 0.53 +- 0.08 and 0.85 +- 0.06, was 0.85 and 1.00):
    the leave-one-size-out refits of a 3-parameter law over 6 sizes overstate the difference's standard
    error (median jackknife SE 0.026 against a simulated sampling sd of 0.014), as the jackknife does at
    high-leverage points (the end sizes).

    Paired design: the two activations' runs at one size share the corpus, the seed, the size target and
    the tokens-per-parameter budget, so whatever a size contributes to both losses (its data order, its
    shape's quirks) cancels in the difference; leaving the same size out of both keeps that cancellation.

    The bootstrap draws ``_boot`` stay for the other outputs (parameter intervals, fitted-curve bands,
    holdout prediction intervals); they must be the same paired size draws
    (:func:`~toposcale.analysis.scaling.bootstrap.size_draws`; checked here, a ValueError otherwise), and
    the percentile interval of the per-draw differences is kept as ``bootstrap_ci`` (exponents) and
    ``compute_multiplier_bootstrap_ci``, for reference only: no verdict reads them.

    ``kind`` is ``'cannot decide'`` (``verdict`` ``'... cannot decide: need ...'``) unless both fits are
    decidable (:func:`~toposcale.plan.decidability.fit_gate`); else 'exponent shift' when some
    exponent difference's interval (``ci``) excludes 0, 'offset only' when the multiplier's interval
    (``compute_multiplier_ci``) excludes 1, else 'not distinguishable'.
    """
    draws = base["_boot"].get("size_draws")
    if draws is None or not np.array_equal(draws, other["_boot"].get("size_draws")):
        raise ValueError(f"compare_activations: {base_name} and {other_name} were not bootstrapped on the same "
                         f"size draws; bootstrap both with bootstrap_fit(resamples=size_draws(...)['rows'][name])")
    jb, jo = base.get("_jack"), other.get("_jack")
    if jb is not None and jo is not None and not np.array_equal(jb.get("levels"), jo.get("levels")):
        raise ValueError(f"compare_activations: {base_name} and {other_name} were not refitted leaving out the "
                         f"same sizes; refit both with bootstrap_fit(resamples=leave_one_size_out(...)['rows'][name])")
    fb, fo, bb, bo = base["_fit"], other["_fit"], base["_boot"], other["_boot"]
    law = fb["law"]
    exps = [k for k in ("alpha", "beta") if k in fb["params"]]
    n = min(bb["n_bootstrap"], bo["n_bootstrap"])
    paired_jack = jb is not None and jo is not None
    G = len(jb["levels"]) if paired_jack else 0
    res = {"baseline": base_name, "other": other_name, "law": law, "exponents": {},
           "interval": COMPARISON_INTERVAL, "n_sizes": G}
    nan2 = (math.nan, math.nan)
    for k in exps:
        d = bo["samples"][k][:n] - bb["samples"][k][:n]
        diff = fo["params"][k] - fb["params"][k]
        ci = jackknife_t_ci(diff, jo["samples"][k] - jb["samples"][k], df=G - 1) if paired_jack else nan2
        res["exponents"][k] = {"baseline": fb["params"][k], "other": fo["params"][k],
                               "difference": diff, "ci": list(ci), "bootstrap_ci": percentile_ci(d)}
    c_max = max(fb["data"]["C"]) if "C" in fb["data"] else max(6.0 * np.multiply(fb["data"]["N"],
                                                                                   fb["data"]["D"]))
    L0 = float(loss_at_compute(law, fb["params"], c_max))
    mult = compute_for_loss(law, fb["params"], L0) / compute_for_loss(law, fo["params"], L0)
    ms = []
    for b in range(n):
        cb = compute_for_loss(law, sample_params(bb, b), L0)
        co = compute_for_loss(law, sample_params(bo, b), L0)
        ms.append(np.nan if math.isinf(cb) and math.isinf(co) else cb / co)
    m_ci = nan2
    if paired_jack:
        log_m = _log_multiplier(law, fb["params"], fo["params"], L0)
        loo = [_log_multiplier(law, sample_params(jb, g), sample_params(jo, g), L0) for g in range(G)]
        lo, hi = jackknife_t_ci(log_m, loo, df=G - 1)
        m_ci = (math.exp(lo), math.exp(hi)) if np.isfinite(lo) and np.isfinite(hi) else nan2
    res.update({"ref_loss": L0, "ref_compute": float(c_max), "compute_multiplier": float(mult),
                "compute_multiplier_ci": list(m_ci), "compute_multiplier_bootstrap_ci": percentile_ci(ms)})
    shifted = [k for k in exps if _excludes(res["exponents"][k]["ci"], 0.0)]
    short = [(name, a["gate"]) for name, a in ((base_name, base), (other_name, other)) if not a["gate"]["decidable"]]
    res["paired"] = True
    res["decidable"] = not short
    res["needs"] = "; ".join(f"{name}: {g['message']}" for name, g in short)
    if short and any(g.get("stage") for _, g in short):
        res["kind"] = CANNOT_DECIDE
        res["verdict"] = f"{other_name} vs {base_name}: " + "; ".join(f"{n}: {g['message']}" for n, g in short)
        return res
    if short:
        g = short[0][1]
        res["kind"] = CANNOT_DECIDE
        res["verdict"] = (f"{other_name} vs {base_name}: {CANNOT_DECIDE}: need {g['need']} fitted per activation "
                          f"(the {law} law has {len(law_parameters(law))} parameters; >= {MIN_RESIDUAL_DOF} residual "
                          f"dof); " + ", ".join(f"{n} has {x['have']}" for n, x in short) + ".")
        return res
    if shifted:
        kind = "exponent shift"
    elif _excludes(res["compute_multiplier_ci"], 1.0):
        kind = "offset only"
    else:
        kind = "not distinguishable"
    res["kind"] = kind
    res["verdict"] = _verdict_text(res, base, other, shifted)
    return res


def _excludes(ci, value: float) -> bool:
    """Whether the finite interval ``ci`` lies wholly above or below ``value`` (a nan interval never does)."""
    lo, hi = ci
    return bool(np.isfinite(lo) and np.isfinite(hi) and (lo > value or hi < value))


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


def _verdict_text(res: dict, base: dict, other: dict, shifted: list[str]) -> str:
    b, o = res["baseline"], res["other"]
    parts = []
    for k, e in res["exponents"].items():
        lo, hi = e["ci"]
        parts.append(f"{k} {e['other']:.3f} ({o}) vs {e['baseline']:.3f} ({b}), difference "
                     f"{e['difference']:+.3f} [95% jackknife-t CI {lo:+.3f}, {hi:+.3f}] "
                     f"{'excludes' if k in shifted else 'includes'} 0")
    m, (mlo, mhi) = res["compute_multiplier"], res["compute_multiplier_ci"]
    at = f"at {b}'s loss {res['ref_loss']:.3f} nats (its fit at C = {res['ref_compute']:.2e} FLOPs)"
    if m == 0:
        eff = f"{at} {o} cannot reach it (its fitted irreducible loss E is higher)"
    elif math.isinf(m):
        eff = f"{at} {o} reaches it while {b}'s own fit cannot (inconsistent fit)"
    else:
        eff = f"{at} {o} is {m:.2f}x as compute-efficient [95% jackknife-t CI {mlo:.2f}, {mhi:.2f}]"
    if res["kind"] == "exponent shift":
        head = f"{o} vs {b}: exponent shift"
    elif res["kind"] == "offset only":
        head = (f"{o} vs {b}: offset only (exponents not distinguishable, "
                f"compute efficiency at equal loss differs)")
    else:
        head = f"{o} vs {b}: not distinguishable (neither exponents nor compute efficiency)"
    wide = [f"{k} of {name}" for name, a in ((b, base), (o, other)) for k in a["fit"]["wide_ci"]]
    tail = f"; CIs are wide ({', '.join(wide)}): few runs per fit" if wide else ""
    return f"{head}: {'; '.join(parts)}; {eff}{tail}."


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
