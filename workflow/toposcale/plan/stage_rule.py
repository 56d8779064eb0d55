"""Before training: the n-gram stage each planned run is expected to end on, and whether the law will be refused.

A byte-level model's loss descends a staircase of n-gram plateaus (:mod:`toposcale.analysis.stages`); the
scaling analysis refuses a law whose runs end on different stages or inside a drop
(:func:`toposcale.analysis.scaling.stages.stage_gate`). This module applies the same gate before any
training, from drop spans **measured** in pilot runs, so ``make plan`` can warn that a budget ends
mid-staircase.

Measured spans (:data:`PILOT_TABLE`, ``pilot_crossings.csv`` beside this module; its header states the
pilots' commit, config and command). One row per (pilot run, crossing it entered): the pilot's activation,
``n_nonembed``, schedule (``lr``, ``warmup_frac``, ``min_lr_frac``, ``tokens_per_step``), its final tokens
``tokens_seen`` and the drop's ``tokens_start`` / ``tokens_cross`` / ``tokens_end`` = ``step_start`` /
``step_cross`` / ``step_end`` of ``analysis/stage_crossings.csv`` times ``tokens_per_step`` (NaN where the
pilot stopped before that point). A crossing a pilot has no row for was not entered by its
``tokens_seen``. :func:`pilot_table` builds this table from any completed study.

The rule, for a planned run of activation ``a``, non-embedding size ``N`` and final tokens ``D``:

1. **Bracket**: the pilots of activation ``a`` with the largest measured size <= N and the smallest >= N
   (one pilot size when N is measured or lies outside the measured range: then ``extrapolated``); of the
   pilots of one size, those whose run length ``tokens_seen`` is nearest to D (in log): the warmup +
   cosine schedule stretches with the run, and a shorter run crosses later in tokens (measured: gelu
   d40 entered the unigram->bigram drop at 1.6e5 tokens in a 7.8e5-token run, at 2.7e5 in a 4.5e5-token
   run, and had not finished it at 4.5e5).
2. **State of one pilot at D**, per crossing k -> k+1: *before* the drop when ``D < tokens_start``, or when
   the pilot never entered it and ``D <= tokens_seen``; *in* the drop when ``tokens_start <= D <=
   tokens_end`` (or ``D <= tokens_seen`` for a drop the pilot did not finish); *past* it when ``D >
   tokens_end``; *unknown* when D lies beyond the pilot's ``tokens_seen`` and the pilot had not finished
   (or entered) the drop. The expected stage is the plateau after the last drop passed, ``'in drop to
   X'`` when the next drop is *in*, ``'unknown'`` when *unknown*.
3. **Run**: the set of the bracket pilots' expected stages; one label when they agree, else the run is
   *near* a drop (its stage depends on where between the two measured sizes the drop falls).
4. **Gate** per activation over its fitted and held-out runs (as the analysis does): passes when every
   run has one label, the same for all, not in a drop and not unknown.

Spans are measured at the pilots' schedule (a warmup + cosine decay to ``min_lr_frac`` over the run's own
length); a run of another length reaches a given token count at another point of its cosine. The rule
takes drops at fixed tokens; a planned schedule that differs from the pilots' in ``lr``, ``warmup_frac``,
``min_lr_frac`` or ``tokens_per_step`` is named in the warning (its spans are unmeasured). When a completed
study's ``analysis/stages.csv`` exists under the config's results folder, the runs it holds take their
measured final stage from it instead of the rule (:func:`expected_stages`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from toposcale.plan.decidability import CANNOT_DECIDE

#: The shipped table of measured drop spans (module doc; header lines start with '#').
PILOT_TABLE = Path(__file__).with_name("pilot_crossings.csv")

PILOT_COLUMNS = ["run", "activation", "n_nonembed", "lr", "warmup_frac", "min_lr_frac", "tokens_per_step",
                 "tokens_seen", "crossing", "to_order", "tokens_start", "tokens_cross", "tokens_end"]
SCHEDULE_KEYS = ("lr", "warmup_frac", "min_lr_frac", "tokens_per_step")
PLATEAUS = {1: "unigram", 2: "bigram", 3: "trigram", 4: "4-gram", 5: "5-gram", 6: "6-gram"}


def _plateau(order: int) -> str:
    return PLATEAUS.get(order, f"order {order}")


def load_pilots(path=PILOT_TABLE) -> pd.DataFrame:
    """The measured drop spans (columns :data:`PILOT_COLUMNS`); an error naming the file when it is malformed."""
    df = pd.read_csv(path, comment="#")
    missing = [c for c in PILOT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: pilot table lacks columns {missing}; rebuild it with "
                         f"python -m toposcale.plan.stage_rule --from-study RESULTS")
    return df


def pilot_table(crossings: pd.DataFrame, infos: dict[str, dict]) -> pd.DataFrame:
    """The pilot table (:data:`PILOT_COLUMNS`) of a completed study: ``crossings`` is its
    ``analysis/stage_crossings.csv``, ``infos`` run name -> ``runs/{run}/run.json``. Every run gets its
    schedule and ``tokens_seen``; a run without crossing rows keeps one row with ``crossing`` empty, so its
    ``tokens_seen`` still bounds the first drop."""
    rows = []
    for name, info in sorted(infos.items()):
        t = info.get("config", {}).get("training", {})
        base = {"run": name, "activation": info["activation"], "n_nonembed": int(info["n_nonembed"]),
                "lr": t.get("lr", math.nan), "warmup_frac": t.get("warmup_frac", math.nan),
                "min_lr_frac": t.get("min_lr_frac", math.nan), "tokens_per_step": int(info["tokens_per_step"]),
                "tokens_seen": int(info["tokens_seen"])}
        mine = crossings[crossings["run"] == name] if len(crossings) else crossings
        if mine is None or not len(mine):
            rows.append({**base, "crossing": "", "to_order": math.nan, "tokens_start": math.nan,
                         "tokens_cross": math.nan, "tokens_end": math.nan})
        for c in (mine.itertuples(index=False) if mine is not None and len(mine) else ()):
            tps = base["tokens_per_step"]
            rows.append({**base, "crossing": c.crossing, "to_order": int(c.to_order),
                         "tokens_start": float(c.step_start) * tps, "tokens_cross": float(c.step_cross) * tps,
                         "tokens_end": float(c.step_end) * tps})
    return pd.DataFrame(rows, columns=PILOT_COLUMNS)


def pilot_state(pilot: pd.DataFrame, tokens: float, max_order: int) -> tuple[str, int, bool]:
    """Expected stage of one pilot's size after ``tokens`` tokens (rule step 2).

    ``pilot`` holds that pilot run's rows. Returns ``(label, plateau order, in_drop)``; label ``'unknown'``
    (order -1) when the pilot does not tell.

    >>> p = pd.DataFrame({"tokens_seen": [1e6, 1e6], "to_order": [2, 3], "tokens_start": [1e5, 6e5],
    ...                   "tokens_end": [2e5, np.nan]})
    >>> [pilot_state(p, d, 5)[0] for d in (5e4, 1.5e5, 4e5, 8e5, 2e6)]
    ['unigram', 'in drop to bigram', 'bigram', 'in drop to trigram', 'unknown']
    """
    seen = float(pilot["tokens_seen"].iloc[0])
    order = 1
    for k in range(2, max_order + 1):
        row = pilot[pilot["to_order"] == k]
        start = float(row["tokens_start"].iloc[0]) if len(row) else math.nan
        end = float(row["tokens_end"].iloc[0]) if len(row) else math.nan
        if math.isnan(start):                       # never entered by tokens_seen
            return (_plateau(order), order, False) if tokens <= seen else ("unknown", -1, False)
        if tokens < start:
            return _plateau(order), order, False
        if not math.isnan(end) and tokens > end:
            order = k
            continue
        if tokens <= (end if not math.isnan(end) else seen):
            return f"in drop to {_plateau(k)}", order, True
        return "unknown", -1, False
    return _plateau(order), order, False


def bracket(sizes, n: float) -> tuple[list, bool]:
    """The measured sizes bracketing ``n`` (rule step 1) and whether ``n`` lies outside their range.

    >>> bracket([10, 20, 40], 30), bracket([10, 20, 40], 20), bracket([10, 20, 40], 80)
    (([20, 40], False), ([20], False), ([40], True))
    """
    s = sorted(set(sizes))
    below = [x for x in s if x <= n]
    above = [x for x in s if x >= n]
    if below and above:
        return sorted({below[-1], above[0]}), False
    return ([below[-1]] if below else [above[0]]), True


def rule_stage(pilots: pd.DataFrame, activation: str, n: float, tokens: float) -> dict:
    """Expected final stage of a run (rule steps 1-3): ``labels`` (sorted set of the bracket pilots'
    labels), ``label`` (the single label, ``'near the drop to X'`` when they differ by one drop,
    ``'unknown'`` when no pilot tells), ``in_drop``, ``extrapolated``, ``evidence`` (text naming the
    pilots and their measured spans)."""
    mine = pilots[pilots["activation"] == activation]
    if not len(mine):
        return {"labels": ["unknown"], "label": "unknown", "in_drop": False, "extrapolated": True,
                "evidence": f"no pilot of activation {activation}"}
    max_order = int(np.nanmax(mine["to_order"].to_numpy(float), initial=1)) + 1
    sizes, extrap = bracket(mine["n_nonembed"], n)
    states, parts = [], []
    for s in sizes:
        at = mine[mine["n_nonembed"] == s]
        dist = (np.log(at["tokens_seen"].astype(float)) - math.log(max(tokens, 1.0))).abs()
        at = at[np.isclose(dist, dist.min())]                  # the runs of the nearest length
        for run, p in at.groupby("run"):
            states.append(pilot_state(p, tokens, max_order))
            spans = ", ".join(f"{r.crossing} {r.tokens_start:.2g}-"
                              + (f"{r.tokens_end:.2g}" if not math.isnan(r.tokens_end) else "(unfinished)")
                              for r in p.itertuples() if isinstance(r.crossing, str) and r.crossing)
            parts.append(f"{run} ({s} params, {p['tokens_seen'].iloc[0]:.2g} tokens: {spans or 'no drop entered'})")
    labels = sorted({st[0] for st in states})
    if len(labels) == 1:
        label = labels[0]
    elif "unknown" in labels:
        label = "unknown"
    else:
        label = f"near the drop to {_plateau(max(o + 1 if d else o for _, o, d in states))}"
    return {"labels": labels, "label": label, "in_drop": any(st[2] for st in states) or len(labels) > 1,
            "extrapolated": extrap, "evidence": "; ".join(parts)}


def common_windows(pilots: pd.DataFrame, activation: str, sizes) -> list[str]:
    """For each plateau k, the one token budget B that ends every planned size of ``activation`` on it,
    from the bracket pilots of those sizes (rule step 1): ``B >= X``, X = the latest measured end of the
    drop into plateau k, and ``B <= Y``, Y = the earliest measured start of the drop out of it. Text lines;
    a pilot that did not finish the drop into k makes X unmeasured (only ``X > its tokens_seen`` is
    known), a pilot that never entered the drop out of k bounds nothing; ``'no common budget'`` when X > Y.

    >>> p = pd.DataFrame({"run": ["a", "b", "b"], "activation": "g", "n_nonembed": [10, 20, 20],
    ...     "tokens_seen": [4e5, 9e5, 9e5], "to_order": [2, 2, 3], "tokens_start": [1e5, 5e4, 6e5],
    ...     "tokens_end": [3e5, 2e5, np.nan]})
    >>> common_windows(p, "g", [10, 20])[0]
    'g bigram plateau: every size ends on it for a budget B with 3e+05 <= B <= 6e+05 tokens'
    """
    mine = pilots[pilots["activation"] == activation]
    if not len(mine):
        return []
    used = sorted({s for n in sizes for s in bracket(mine["n_nonembed"], n)[0]})
    sub = mine[mine["n_nonembed"].isin(used)]
    max_order = int(np.nanmax(sub["to_order"].to_numpy(float), initial=1)) + 1
    runs = set(sub["run"])
    out = []
    for k in range(2, max_order):
        into, outof = sub[sub["to_order"] == k], sub[sub["to_order"] == k + 1]
        finished = set(into.loc[into["tokens_end"].notna(), "run"])
        if not finished:
            continue
        lo = float(into["tokens_end"].max())
        unfinished = sorted(runs - finished)
        hi = float(outof["tokens_start"].min()) if len(outof) else math.inf
        names = ", ".join(unfinished) if len(unfinished) <= 3 else f"{len(unfinished)} pilots ({unfinished[0]}, ...)"
        lo_txt = (f"B > {sub[sub['run'].isin(unfinished)]['tokens_seen'].max():.2g} (unmeasured: "
                  f"{names} had not finished the drop into it)" if unfinished else f"{lo:.2g} <= B")
        hi_txt = f"B <= {hi:.2g} tokens" if math.isfinite(hi) else "B (no measured drop out of it)"
        if unfinished:
            line = f"{lo_txt}, {hi_txt}"
        else:
            line = f"{lo:.2g} <= {hi_txt}"
        if not unfinished and lo > hi:
            line += ": no common budget (the sizes' drops overlap)"
        out.append(f"{activation} {_plateau(k)} plateau: every size ends on it for a budget B with {line}")
    return out


def _schedule_note(pilots: pd.DataFrame, activation: str, training: dict, tokens_per_step: int) -> str:
    mine = pilots[pilots["activation"] == activation]
    plan = {"lr": training["lr"], "warmup_frac": training["warmup_frac"], "min_lr_frac": training["min_lr_frac"],
            "tokens_per_step": tokens_per_step}
    diff = [f"{k} {plan[k]:g} (pilots {', '.join(f'{v:g}' for v in sorted(set(mine[k])))})"
            for k in SCHEDULE_KEYS if len(mine) and not np.allclose(mine[k].to_numpy(float), float(plan[k]))]
    return ("; schedule differs from the pilots': " + ", ".join(diff) + ", spans unmeasured at this schedule"
            if diff else "")


def expected_stages(config: dict, pilots: pd.DataFrame | None = None, stages_csv=None, runs=None) -> pd.DataFrame:
    """Expected final stage of every planned run: columns run, activation, n_nonembed, tokens, holdout,
    label, in_drop, source (``'stage table'`` = measured in a completed study's ``stages.csv``, else
    ``'rule'`` / ``'rule (extrapolated)'``), evidence. ``stages_csv`` defaults to
    ``{results}/analysis/stages.csv`` when it exists; ``runs`` (RunSpecs) defaults to the config's
    :func:`toposcale.plan.study.study_runs` (a design with its own token budgets passes its runs)."""
    from toposcale.analysis.scaling.stages import final_stages
    from toposcale.plan.study import study_runs

    pilots = load_pilots() if pilots is None else pilots
    if stages_csv is None:
        cand = Path(config.get("results", "results")) / "analysis" / "stages.csv"
        stages_csv = cand if cand.exists() else None
    final = final_stages(pd.read_csv(stages_csv)) if stages_csv is not None else None
    rows = []
    for r in (study_runs(config) if runs is None else runs):
        base = {"run": r.name, "activation": r.activation, "n_nonembed": r.n_nonembed,
                "tokens": r.total_steps * r.tokens_per_step, "holdout": r.holdout}
        if final is not None and r.name in final.index:
            f = final.loc[r.name]
            rows.append({**base, "label": f["label"], "in_drop": bool(f["in_drop"]), "source": "stage table",
                         "evidence": f"measured: {stages_csv}"})
            continue
        s = rule_stage(pilots, r.activation, r.n_nonembed, base["tokens"])
        rows.append({**base, "label": s["label"], "in_drop": s["in_drop"],
                     "source": "rule (extrapolated)" if s["extrapolated"] else "rule", "evidence": s["evidence"]})
    return pd.DataFrame(rows)


def stage_plan(config: dict, pilots: pd.DataFrame | None = None, stages_csv=None) -> tuple[list[dict], list[str]]:
    """Plan rows (one per activation, ``analysis`` = ``'scaling law stages {act}'``, gate keys as
    :func:`toposcale.plan.decidability.plan`) and warning lines for the runs expected to end off the
    common stage (with the measured evidence and the token windows of :func:`common_windows`)."""
    pilots = load_pilots() if pilots is None else pilots
    exp = expected_stages(config, pilots, stages_csv)
    t = config["training"]
    tps = t["batch_size"] * t["grad_accum"] * config["corpus"]["seq_len"]
    rows, warnings = [], []
    for act, g in exp.groupby("activation", sort=False):
        groups = {lab: list(sub["run"]) for lab, sub in g.groupby("label", sort=False)}
        bad = g[g["in_drop"] | (g["label"] == "unknown")]
        ok = len(groups) == 1 and bad.empty
        listing = "; ".join(f"{lab}: {len(v)} runs" for lab, v in groups.items())
        src = ", ".join(sorted(set(g["source"])))
        if ok:
            msg = f"every run expected to end on the {next(iter(groups))} stage ({src})"
        elif set(groups) == {"unknown"}:
            msg = f"{CANNOT_DECIDE}: no measured drop spans cover these runs ({src}); run pilots"
        else:
            msg = f"{CANNOT_DECIDE}: the law will be refused, runs expected to end on different stages ({listing}; {src})"
        rows.append({"analysis": f"scaling law stages {act}", "decidable": ok, "have": listing,
                     "need": "every run on one stage, none in a drop", "message": msg})
        if ok:
            continue
        note = _schedule_note(pilots, act, t, tps) if (g["source"] != "stage table").any() else ""
        for size, sub in g.groupby("n_nonembed"):
            r = sub.iloc[0]
            if len(groups) == 1 and not r["in_drop"] and r["label"] != "unknown":
                continue
            warnings.append(f"WARNING: {act} {r['run'].split('-')[1]} ({size} params): final tokens "
                            f"{r['tokens']:.2g} -> {r['label']} [{r['source']}: {r['evidence']}]")
        warnings += [f"  {w}" for w in common_windows(pilots, act, sorted(set(g["n_nonembed"])))]
        if note:
            warnings.append(f"  {act}{note}")
    return rows, warnings


def main(argv=None) -> int:
    """``python -m toposcale.plan.stage_rule --from-study RESULTS``: print the pilot table of a completed study."""
    import argparse
    import json

    ap = argparse.ArgumentParser(description="Pilot drop spans (tokens) from a completed study.")
    ap.add_argument("--from-study", required=True, help="results folder with runs/*/run.json and analysis/stage_crossings.csv")
    args = ap.parse_args(argv)
    root = Path(args.from_study)
    infos = {p.parent.name: json.loads(p.read_text()) for p in sorted(root.glob("runs/*/run.json"))}
    cross = pd.read_csv(root / "analysis" / "stage_crossings.csv")
    print(pilot_table(cross, infos).to_csv(index=False, float_format="%.10g"), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
