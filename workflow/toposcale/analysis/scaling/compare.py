"""The GELU vs SwiGLU comparison of the scaling laws (:func:`compare_activations`) and the paired
leave-one-size-out refits its intervals rest on (:func:`leave_one_size_out`)."""

from __future__ import annotations

import math

import numpy as np

from toposcale.analysis.scaling.bootstrap import sample_params
from toposcale.analysis.scaling.compute import compute_for_loss, loss_at_compute
from toposcale.analysis.scaling.laws import law_parameters
from toposcale.plan.decidability import CANNOT_DECIDE, MIN_RESIDUAL_DOF
from toposcale.stats import CLUSTER_INTERVAL, jackknife_t_ci, percentile_ci


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
