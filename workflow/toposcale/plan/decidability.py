"""What the data can decide: the minimum data of every verdict, and a plan of a config's verdicts.

DESIGN.md 5b: every verdict states its minimum data and, below it, says ``"cannot decide: need ..."``
instead. The thresholds live here, once; the analyses import them (:func:`fit_gate`, :data:`MIN_SEEDS`)
and :func:`plan` applies the same rules to a validated config before any training, so a grid that
cannot decide is found before it is paid for::

    python -m toposcale.plan.decidability --configfile configs/smoke.yaml     # or: make plan CONFIG=...

Rules (``have`` and ``need`` of each :func:`plan` row):

* **Scaling law** per activation: residual degrees of freedom = distinct fitted points (distinct
  non-holdout sizes for ``L(C)``; distinct (size, tokens per parameter) pairs for ``L(N, D)``) minus
  the law's parameters (3 for ``L(C)``, 5 for ``L(N, D)``); decidable at >= :data:`MIN_RESIDUAL_DOF`.
* **Activation comparison**: both activations' laws decidable (and fitted on the same law).
* **Holdout prediction** per activation: a decidable law and at least one held-out size.
* **Topology vs size** per activation and pooled: the log-log fit ``metric = k N**gamma`` has 2
  parameters, so it needs ``2 + MIN_RESIDUAL_DOF`` = 5 distinct sizes (holdout sizes included).
* **Dynamics, detrended correlation**: the detrended test removes a polynomial in log(step) of degree
  :func:`toposcale.serial.detrend_degree` (n) and tests on ``n - 2 - degree`` degrees of
  freedom; decidable when that degree is >= 1 (a trend is actually removed) and the test keeps
  >= :data:`MIN_RESIDUAL_DOF` degrees of freedom, n = checkpoints at step > 0 of the shortest run.
* **Dynamics seed spread** and the **grokking** null verdict: >= :data:`MIN_SEEDS` seeds.
* **Forecasting, leave one size out**: >= :data:`MIN_FORECAST_SIZES` distinct sizes.
* **Topology at the stage crossings** (:mod:`toposcale.analysis.alignment`), pooled over all runs: the
  swap null permutes the crossings between runs, so with ``n`` crossings its smallest p-value is
  ``1 / n!``; decidable at ``n >= crossings_for_alignment(alpha)`` (4 at alpha = 0.05) complete
  crossings of a type. Before training the plan counts every run (an upper bound: only the runs whose
  loss gets past a drop's 90% point have a complete crossing).
* **Transitions vs size** per activation: a Spearman test over the runs can reach ``p <= alpha`` only
  if its smallest achievable p, ``2 / n!`` (exact two-sided test, no ties, n runs), is <= alpha
  (``dynamics.significance``); n counts every run of the activation, an upper bound, since only runs
  with a detected transition enter the test. (:func:`toposcale.stats.spearman` is exact up to 8 runs and
  the t approximation above, whose smallest p is 0: the gate is the exact test's floor either way.)
* **Scaling law stages** per activation (printed by the command line, not part of :func:`plan`, since it
  reads files: the measured drop spans and a completed study's stage table):
  :func:`toposcale.plan.stage_rule.stage_plan` expects each run's n-gram stage at its final token count
  and warns, with the measured evidence, when the runs of an activation will not all end on one plateau.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from toposcale.serial import detrend_degree

#: Fewest residual degrees of freedom (distinct points minus fitted parameters) before a fit's
#: intervals may carry a verdict. Reason: with 1 or 2 the fit nearly interpolates its points (the
#: default grid's L(C), 4 sizes for 3 parameters, drove E to ~1e-10), the bootstrap over sizes refits
#: subsets the law passes through exactly (7 to 13 distinct exponent values out of 1000 resamples), and
#: a residual scale estimated on 1 degree of freedom has a t quantile of 12.7 (3.18 on 3): intervals are
#: then neither reliably wide nor reliably narrow. Three is the fewest at which the residual variance is
#: estimated at all usefully; it is a floor, not a guarantee of power.
MIN_RESIDUAL_DOF = 3

#: Fewest seeds for any across-seed claim (spread, sign agreement, a seed-bootstrap interval): one seed
#: has no spread, and its interval is a point.
MIN_SEEDS = 2

#: Fewest distinct sizes for leave-one-size-out forecasting: a held-out size must leave at least two
#: sizes to learn from, or the size feature (log n_nonembed) has no trend to learn.
MIN_FORECAST_SIZES = 3

#: Parameters of the topology-vs-size fit ``metric = k N**gamma`` (k and gamma).
SIZE_FIT_PARAMS = 2

#: Prefix of every undecidable verdict.
CANNOT_DECIDE = "cannot decide"

#: The reported parameters of each law the scaling grid fits (the one home: ``'chinchilla'`` =
#: ``L(N, D) = E + A / N**alpha + B / D**beta``, ``'compute'`` = ``L(C) = E + A / C**alpha``, ``'power'`` =
#: ``L = A / C**alpha``; :func:`toposcale.analysis.scaling.laws.law_parameters` reads it). It lives here,
#: in the lowest layer, because the plan counts parameters before any training and the analyses import
#: the gates from here, never the other way round.
LAW_PARAMETERS = {"chinchilla": ("E", "A", "B", "alpha", "beta"), "compute": ("E", "A", "alpha"),
                  "power": ("A", "alpha")}

#: Fewest fitted runs for the 5-parameter ``L(N, D)`` when tokens per parameter varies (:func:`choose_law`).
MIN_CHINCHILLA_RUNS = 6


def choose_law(n_tokens_per_param: int, n_fit_runs: int) -> tuple[str, str]:
    """The law the grid fits and why: ``'chinchilla'`` (``L(N, D)``) when tokens per parameter takes
    several values and there are at least :data:`MIN_CHINCHILLA_RUNS` fitted runs, else ``'compute'``
    (``L(C)``); the second item is a note when tokens per parameter varies but the runs are too few (else
    ''). The one rule, used by :func:`plan` and by :func:`toposcale.analysis.scaling.analyse_grid`."""
    if n_tokens_per_param > 1 and n_fit_runs >= MIN_CHINCHILLA_RUNS:
        return "chinchilla", ""
    if n_tokens_per_param > 1:
        return "compute", (f"tokens_per_param varies but only {n_fit_runs} runs: too few for the "
                           f"5-parameter L(N, D); fitted L(C) instead")
    return "compute", ""


def _gate(decidable: bool, have: str, need: str, message: str) -> dict:
    return {"decidable": bool(decidable), "have": have, "need": need, "message": message}


def fit_gate(n_distinct: int, n_params: int, unit: str = "sizes") -> dict:
    """Whether a fit of ``n_params`` parameters to ``n_distinct`` distinct points can decide.

    Returns ``decidable`` (``n_distinct - n_params >= MIN_RESIDUAL_DOF``), ``residual_dof``
    (``n_distinct - n_params``), ``have``, ``need`` (``n_params + MIN_RESIDUAL_DOF`` ``unit``) and
    ``message``: ``"{n} {unit} for {p} parameters: {dof} residual dof"`` when decidable, else
    ``"cannot decide: need >= {need} {unit} for {p} parameters (>= 3 residual dof), have {n}: add >= {k}"``.
    """
    n, p = int(n_distinct), int(n_params)
    need, dof = p + MIN_RESIDUAL_DOF, n - p
    have = f"{n} {unit}"
    if dof >= MIN_RESIDUAL_DOF:
        msg = f"{n} {unit} for {p} parameters: {dof} residual dof"
    else:
        msg = (f"{CANNOT_DECIDE}: need >= {need} {unit} for {p} parameters (>= {MIN_RESIDUAL_DOF} residual "
               f"dof), have {n}: add >= {need - n} {unit}")
    return {**_gate(dof >= MIN_RESIDUAL_DOF, have, f">= {need} {unit}", msg), "residual_dof": dof}


def count_gate(n: int, minimum: int, unit: str) -> dict:
    """``decidable`` when ``n >= minimum``, with the message ``"{n} {unit} (need >= {minimum})"``; else
    ``"cannot decide: need >= {minimum} {unit}, have {n}"``."""
    ok = int(n) >= int(minimum)
    msg = f"{n} {unit} (need >= {minimum})" if ok else f"{CANNOT_DECIDE}: need >= {minimum} {unit}, have {n}"
    return _gate(ok, f"{n} {unit}", f">= {minimum} {unit}", msg)


def min_spearman_p(x) -> float:
    """Smallest two-sided p-value an exact permutation test of a rank correlation with ``x`` can give.

    ``x`` is a count of runs (taken as untied) or the values themselves. With ``k`` values in tie groups of
    sizes ``t_1, t_2, ...`` (and a continuous, tie-free response), the most extreme correlation of either
    sign is reached by ``prod(t_i!)`` of the ``k!`` orderings, so ``p_min = min(1, 2 prod(t_i!) / k!)``;
    without ties ``2 / k!`` (1/3 for 3 runs, 1/12 for 4, 1/60 for 5). 1.0 for fewer than 2 values or a
    constant ``x``.

    Examples
    --------
    >>> round(min_spearman_p(5), 6), round(min_spearman_p([1, 1, 2]), 6)
    (0.016667, 0.666667)
    """
    if np.ndim(x) == 0:
        x = np.arange(int(x))
    _, counts = np.unique(np.asarray(x, dtype=float), return_counts=True)
    if len(counts) < 2:
        return 1.0
    log_p = math.log(2.0) + sum(math.lgamma(t + 1) for t in counts) - math.lgamma(int(counts.sum()) + 1)
    return min(1.0, math.exp(log_p))


def runs_for_rank_test(alpha: float) -> int:
    """Fewest runs ``n`` with :func:`min_spearman_p` (n) <= ``alpha`` (5 for alpha = 0.05)."""
    n = 2
    while min_spearman_p(n) > alpha:
        n += 1
    return n


def crossings_for_alignment(alpha: float) -> int:
    """Fewest complete crossings ``n`` of a type at which the alignment's swap null (a permutation of the
    crossings between runs) can give ``p <= alpha``: the smallest ``n`` with ``1 / n! <= alpha`` (4 for
    alpha = 0.05: 1/24).

    >>> crossings_for_alignment(0.05), crossings_for_alignment(0.01)
    (4, 5)
    """
    n = 2
    while math.lgamma(n + 1) < -math.log(alpha):
        n += 1
    return n


def detrend_checkpoints() -> int:
    """Fewest checkpoints (step > 0) at which the detrended correlation removes a trend of degree >= 1 and
    keeps >= :data:`MIN_RESIDUAL_DOF` degrees of freedom (see the module doc)."""
    n = 3
    while not (detrend_degree(n) >= 1 and n - 2 - detrend_degree(n) >= MIN_RESIDUAL_DOF):
        n += 1
    return n


def changepoint_min_points(smooth_df: int, null_df: int, widths, min_plateau: int) -> int:
    """Fewest checkpoints the change-point test (:mod:`toposcale.analysis.changepoint`) accepts: one
    candidate ramp with ``min_plateau`` points on each side, and 6 residual degrees of freedom beyond the
    larger spline."""
    return max(2 * min_plateau + max(widths) - 1, max(smooth_df, null_df) + 6)


def rebound_min_points(window: int) -> int:
    """Fewest checkpoints the rate-rebound test (:mod:`toposcale.analysis.rebound`) accepts: three rate
    windows of ``window`` points (a valley and both sides), and at least 9 points (the 5-point high-pass
    noise scale and the spline null fit)."""
    return max(int(window) + 2, 9)


def change_test_min_points(settings: dict) -> int:
    """Fewest checkpoints at which the configured change-point test (``settings``: the ``transitions`` config
    section; :mod:`toposcale.analysis.change_test`) can test a series: the ramp scan's minimum
    (:func:`changepoint_min_points`), the rebound test's (:func:`rebound_min_points`), or for
    ``ramp+rebound`` the smaller (where only one of the two can run, the series' p-value is that test's,
    doubled).

    >>> change_test_min_points({"method": "ramp+rebound", "smooth_df": 4, "null_df": 6, "ramp_widths": [1, 2, 3],
    ...                         "min_plateau": 3, "rebound_window": 2})
    9
    """
    ramp = changepoint_min_points(int(settings["smooth_df"]), int(settings["null_df"]), settings["ramp_widths"],
                                  int(settings["min_plateau"]))
    rebound = rebound_min_points(int(settings.get("rebound_window", 3)))
    by_method = {"ramp": ramp, "rebound": rebound, "ramp+rebound": min(ramp, rebound)}
    method = str(settings.get("method", "ramp"))
    if method not in by_method:
        raise ValueError(f"transitions.method={method!r}; use one of {tuple(by_method)}")
    return by_method[method]


def primary_null_draws(family_size: int, alpha: float, requested: int = 0) -> int:
    """Null draws per primary series so that the p-value floor ``1 / (B + 1)`` lies below ``alpha /
    family_size`` (BH can then confirm any member alone): ``B = floor(family_size / alpha) + 1``, or
    ``requested`` when it is at least that (a smaller request is an error naming the key and the need)."""
    need = int(math.floor(family_size / alpha + 1e-9)) + 1 if family_size > 0 else 0
    if requested and requested < need:
        raise ValueError(f"transitions.primary_n_null={requested} is too small for a primary family of "
                         f"{family_size} series at alpha {alpha:g}: the p-value floor 1/(B+1) must lie below "
                         f"alpha/{family_size}; set it to >= {need} or 0 (automatic)")
    return max(int(requested), need)


def transitions_primary_gate(config: dict, n_runs: int, n_checkpoints: int) -> dict:
    """What the pre-registered primary family of the transitions analysis needs: its size (runs x primary
    series), the null draws per member (:func:`primary_null_draws`) and enough checkpoints per run for the
    configured test (:func:`change_test_min_points`)."""
    t = config["transitions"]
    m = n_runs * len(t["primary"])
    alpha = float(t["significance"])
    try:
        b = primary_null_draws(m, alpha, int(t["primary_n_null"]))
    except ValueError as err:
        return _gate(False, f"primary_n_null {t['primary_n_null']}", "a larger primary_n_null", f"{CANNOT_DECIDE}: {err}")
    need_ck = change_test_min_points(t)
    have = f"{n_checkpoints} checkpoints per run; family {m} = {n_runs} runs x {len(t['primary'])} primary series"
    if n_checkpoints < need_ck:
        return _gate(False, have, f">= {need_ck} checkpoints", f"{CANNOT_DECIDE}: need >= {need_ck} checkpoints "
                     f"at step > 0 per run for the change-point test, have {n_checkpoints}")
    return _gate(True, have, f">= {need_ck} checkpoints", f"{have}: {b} null draws per primary series "
                 f"(p floor 1/{b + 1} < {alpha:g}/{m}); BH over the family at {alpha:g}")


def _row(analysis: str, gate: dict) -> dict:
    return {"analysis": analysis, **{k: gate[k] for k in ("decidable", "have", "need", "message")}}


def plan(config: dict) -> list[dict]:
    """Which analyses a validated config can decide, before any training (rules: module doc).

    Returns one row per (analysis, group): ``analysis`` (e.g. ``'scaling law L(C) gelu'``),
    ``decidable``, ``have``, ``need`` and ``message`` (``'cannot decide: need ...'`` when not decidable).
    """
    from toposcale.plan.study import run_checkpoint_steps, study_runs

    m = config["model"]
    runs = study_runs(config)
    tpps = sorted({float(t) for t in config["training"]["tokens_per_param"]})
    rows, laws = [], {}
    for act in m["activations"]:
        fit = [r for r in runs if r.activation == act and not r.holdout]
        law, _ = choose_law(len(tpps), len(fit))
        points = {(r.target_params, r.tokens_per_param) for r in fit} if law == "chinchilla" else \
            {r.target_params for r in fit}
        unit = "(size, tokens/param) points" if law == "chinchilla" else "sizes"
        gate = fit_gate(len(points), len(LAW_PARAMETERS[law]), unit)
        laws[act] = (law, gate)
        name = "L(N, D)" if law == "chinchilla" else "L(C)"
        rows.append(_row(f"scaling law {name} {act}", gate))
        held = {r.target_params for r in runs if r.activation == act and r.holdout}
        if not gate["decidable"]:
            hg = _gate(False, f"{len(held)} holdout sizes", "a decidable law and >= 1 holdout size",
                       f"{CANNOT_DECIDE}: the law is not decidable ({gate['have']})")
        else:
            hg = count_gate(len(held), 1, "holdout sizes")
        rows.append(_row(f"holdout prediction {act}", hg))
    base = "gelu" if "gelu" in laws else (m["activations"][0] if m["activations"] else None)
    for other in m["activations"]:
        if other == base:
            continue
        (lb, gb), (lo, go) = laws[base], laws[other]
        short = [f"{a} has {g['have']}" for a, g in ((base, gb), (other, go)) if not g["decidable"]]
        bad = [f"need {gb['need'] if not gb['decidable'] else go['need']} per activation, "
               + ", ".join(short)] if short else []
        if lb != lo:
            bad.append(f"different laws ({lb} vs {lo})")
        msg = (f"{CANNOT_DECIDE}: " + "; ".join(bad)) if bad else f"both laws decidable ({gb['have']}, {go['have']})"
        rows.append(_row(f"activation comparison {other} vs {base}",
                         _gate(not bad, f"{gb['have']} / {go['have']}", "both laws decidable", msg)))
    for group in list(m["activations"]) + ["all"]:
        sizes = {r.target_params for r in runs if group in ("all", r.activation)}
        rows.append(_row(f"topology vs size {group}", fit_gate(len(sizes), SIZE_FIT_PARAMS, "sizes")))
    n_ck = min(len([s for s in run_checkpoint_steps(r.total_steps, config["training"]) if s > 0])
               for r in runs)
    rows.append(_row("dynamics detrended correlation", count_gate(n_ck, detrend_checkpoints(), "checkpoints per run")))
    rows.append(_row("dynamics seed spread", count_gate(len(m["seeds"]), MIN_SEEDS, "seeds")))
    rows.append(_row("forecasting leave one size out",
                     count_gate(len(set(m["target_params"])), MIN_FORECAST_SIZES, "sizes")))
    alpha = float(config["dynamics"]["significance"])
    need = runs_for_rank_test(alpha)
    for act in m["activations"]:
        n = len([r for r in runs if r.activation == act])
        g = count_gate(n, need, f"runs (smallest exact Spearman p 2/n! <= {alpha:g})")
        rows.append(_row(f"transitions vs size {act}", g))
    need = crossings_for_alignment(float(config.get("alignment", {}).get("significance", alpha)))
    rows.append(_row("topology at stage crossings",
                     count_gate(len(runs), need, "runs that may complete a crossing")))
    rows.append(_row("transitions primary family", transitions_primary_gate(config, len(runs), n_ck)))
    rows.append(_row("grokking null verdict", count_gate(len(config["grokking"]["seeds"]), MIN_SEEDS, "seeds")))
    return rows


# ----------------------------------------------------------------------------- command line

def _merge(base: dict, new: dict) -> dict:
    """Recursive update, as Snakemake merges config files: mappings merge, everything else replaces."""
    out = dict(base)
    for k, v in new.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_study_config(configfiles=(), overrides=(), base="config.yaml") -> dict:
    """The validated config the Snakefile would see: ``base`` (its ``configfile:``, when it exists), then
    each ``--configfile`` merged over it, then ``--config KEY=VALUE`` overrides (VALUE parsed as YAML)."""
    import yaml

    from toposcale.config import ConfigError, validate_config

    cfg: dict = {}
    for path in ([base] if base and Path(base).exists() else []) + list(configfiles):
        if not Path(path).exists():
            raise ConfigError(f"config error: config file {path} does not exist")
        cfg = _merge(cfg, yaml.safe_load(Path(path).read_text()) or {})
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"config error: --config {item!r} is not KEY=VALUE")
        cfg = _merge(cfg, {key: yaml.safe_load(value)})
    return validate_config(cfg)


def format_plan(rows: list[dict]) -> str:
    """The plan as text: one line per row, ``ok`` or ``NO``, the analysis and its message."""
    width = max(len(r["analysis"]) for r in rows)
    lines = [f"{'ok ' if r['decidable'] else 'NO '} {r['analysis']:<{width}}  {r['message']}" for r in rows]
    n = sum(not r["decidable"] for r in rows)
    return "\n".join(lines + [f"{len(rows) - n} of {len(rows)} analyses decidable; {n} cannot decide."])


def main(argv=None) -> int:
    """``python -m toposcale.plan.decidability [--configfile FILE ...] [--config KEY=VALUE ...]``."""
    ap = argparse.ArgumentParser(description="Which analyses a config can decide, before any training.")
    ap.add_argument("--configfile", nargs="*", default=[], help="config files merged over config.yaml")
    ap.add_argument("--config", nargs="*", default=[], help="KEY=VALUE overrides (VALUE as YAML)")
    ap.add_argument("--base", default="config.yaml", help="the Snakefile's configfile (default config.yaml)")
    args = ap.parse_args(argv)
    from toposcale.config import ConfigError

    try:
        cfg = load_study_config(args.configfile, args.config, args.base)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    from toposcale.plan.stage_rule import stage_plan

    stage_rows, warnings = stage_plan(cfg)
    print(format_plan(plan(cfg) + stage_rows))
    if warnings:
        print("\n".join(["", "n-gram stages at the end of training (toposcale.plan.stage_rule): the scaling "
                          "analysis refuses a law whose runs end on different stages or inside a drop"] + warnings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
