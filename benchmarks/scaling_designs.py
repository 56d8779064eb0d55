"""One row of the README's "designs tried" table per candidate scaling design, from short pilot runs.

A design is a grid of sizes (``model.target_params``, one held out), a token budget (a fixed number of
tokens for every size, or tokens per parameter), a learning rate and seeds. For each design this script

1. trains every run with the project's own trainer (:func:`toposcale.train.train_run`, 1 thread; launch
   it under ``nice -n 19 taskset -c 1`` on a shared machine), dense loss log included; a run whose
   ``run.json`` exists is reused (``--out`` keeps them), so a design can be resumed or re-analysed;
2. reads each run's n-gram stage at its end (:mod:`toposcale.analysis.stages`, the config's ``stages``
   keys) and applies the scaling analysis's stage gate per activation
   (:func:`toposcale.analysis.scaling.stages.stage_gate`), beside the stage ``make plan`` expected
   (:func:`toposcale.plan.stage_rule.expected_stages`);
3. fits the law the study would (:func:`toposcale.analysis.analyse_grid`, final checkpoints) and reports
   per activation: alpha and its 95% interval, each holdout's relative error of the law's prediction
   and whether it lies in the 95% prediction interval, and the naive predictor's error (the naive
   prediction of a holdout run = the mean final loss of the largest fitted size of its activation);
   With one fixed token budget the fit is L(C) with C proportional to N (alpha = the exponent of N at
   fixed D);
4. states the design's cost: runs, tokens, training FLOPs (6 N D summed) and the summed training
   wall-clock seconds (``run.json``'s ``wall_seconds``; 1 thread each, on this machine, under its load).

Usage (a fixed budget of 4.5e5 tokens for every size, GELU, one seed)::

    PYTHONPATH=workflow nice -n 19 taskset -c 1 .venv/bin/python benchmarks/scaling_designs.py \\
        --name bigram-fixed-D --activations gelu --sizes 39000 56000 76000 99000 125000 154000 186000 \\
        --holdout 186000 --tokens 450000 --lr 0.003 --seeds 0 --out /tmp/designs \\
        [--data /path/to/results/data/kjv]   # reuse a prepared corpus (train.bin, val.bin, ngram_levels.json)

Output: ``{out}/{name}/design.json`` (the row and every run's numbers) and one markdown table row on stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from toposcale.analysis import analyse_grid  # noqa: E402
from toposcale.analysis.scaling.stages import final_stages, stage_gate  # noqa: E402
from toposcale.analysis.stages import stages_from_files  # noqa: E402
from toposcale.plan.decidability import load_study_config  # noqa: E402
from toposcale.plan.stage_rule import expected_stages, load_pilots  # noqa: E402
from toposcale.plan.study import study_runs  # noqa: E402


def design_config(args) -> dict:
    """The validated study config of a design: config.yaml with the design's model and training keys."""
    model = (f"model={{activations: {args.activations}, target_params: {args.sizes}, "
             f"holdout_params: [{args.holdout}], seeds: {args.seeds}, head_dim: {args.head_dim}, "
             f"max_layers: {args.max_layers}}}")
    training = f"training={{tokens_per_param: [{args.tokens_per_param or 20}], batch_size: 16, lr: {args.lr}}}"
    return load_study_config([], [model, training, f"results={args.out / args.name}"], base=str(ROOT / "config.yaml"))


def design_runs(cfg: dict, tokens: float | None) -> list:
    """The design's runs; with a fixed budget every run trains ``tokens`` tokens (tokens_per_param =
    tokens / n_nonembed, recorded in run.json)."""
    runs = study_runs(cfg)
    if not tokens:
        return runs
    out = []
    for r in runs:
        steps = max(1, math.ceil(tokens / r.tokens_per_step))
        out.append(dataclasses.replace(r, planned_tokens=int(tokens), total_steps=steps,
                                       tokens_per_param=float(tokens) / r.n_nonembed))
    return out


def ensure_data(cfg: dict, data: Path | None, out: Path) -> Path:
    """The corpus folder (train.bin, val.bin, ngram_levels.json): ``data`` when given, else prepared under
    ``out/data/{corpus}`` with the project's own corpus and n-gram code."""
    if data is not None:
        for f in ("train.bin", "val.bin", "ngram_levels.json"):
            if not (data / f).exists():
                raise SystemExit(f"--data {data}: lacks {f}; point it at a results/data/{{corpus}} folder of a study")
        return data
    from toposcale.train.corpus import load_tokens, prepare_corpus
    from toposcale.train.ngram import ngram_levels

    d = out / "data" / cfg["corpus"]["name"]
    if not (d / "train.bin").exists():
        prepare_corpus(cfg, d)
    if not (d / "ngram_levels.json").exists():
        meta = json.loads((d / "meta.json").read_text())
        lv = ngram_levels(load_tokens(d / "train.bin"), load_tokens(d / "val.bin"), int(meta["vocab_size"]),
                          int(cfg["stages"]["max_order"]), corpus=cfg["corpus"]["name"])
        (d / "ngram_levels.json").write_text(json.dumps(lv, indent=2))
    return d


def evaluate(name: str, cfg: dict, runs: list, root: Path, data: Path, lr: float, pilots=None) -> dict:
    """The design's row (module doc, steps 2-4) from its trained runs under ``root/runs``; the expected
    stages use ``pilots`` (default: the shipped table minus this design's own runs, so the rule is not
    scored on the runs it was given)."""
    if pilots is None:
        pilots = load_pilots()
        same = {(r.name, r.total_steps * r.tokens_per_step) for r in runs}
        key = zip(pilots["run"].str.split("/").str[-1], pilots["tokens_seen"].astype(int))
        pilots = pilots[[k not in same for k in key]]
    infos = [json.loads((root / "runs" / r.name / "run.json").read_text()) for r in runs]
    logs = {r.name: pd.read_csv(root / "runs" / r.name / "log.csv") for r in runs}
    stages, _ = stages_from_files([root / "runs" / r.name / "dense_log.csv" for r in runs],
                                  [root / "runs" / r.name / "run.json" for r in runs],
                                  data / "ngram_levels.json", cfg["stages"])
    final = final_stages(stages)
    expected = expected_stages(cfg, pilots=pilots, stages_csv=None, runs=runs).set_index("run")["label"].to_dict()
    # A fixed budget gives every size its own tokens/param; the analysis would then choose L(N, D). With D
    # fixed, C = 6 N D is proportional to N and L(C)'s alpha is the exponent of N at fixed D: the analysis
    # gets one nominal tokens/param (0) so it fits L(C), as a study with one tokens_per_param would.
    fixed_d = len({i["tokens_seen"] for i in infos}) == 1 and len({i["tokens_per_param"] for i in infos}) > 1
    fit_infos = [{**i, "tokens_per_param": 0.0} for i in infos] if fixed_d else infos
    res = analyse_grid(fit_infos, logs, n_bootstrap=int(cfg["scaling"]["n_bootstrap"]), seed=int(cfg["seed"]))
    row = {"design": name, "sizes": sorted({r.n_nonembed for r in runs}), "lr": lr, "activations": {},
           "runs": [{"run": i["name"], "N": i["n_nonembed"], "tokens": i["tokens_seen"],
                     "final_loss": float(logs[i["name"]]["val_loss"].dropna().iloc[-1]),
                     "stage": final.loc[i["name"], "label"], "expected_stage": expected.get(i["name"]),
                     "wall_s": i["wall_seconds"]} for i in infos]}
    per = pd.DataFrame(row["runs"])
    for act, a in res["activations"].items():
        mine = [i for i in infos if i["activation"] == act]
        gate = stage_gate(final, [i["name"] for i in mine])
        fitted = [i for i in mine if not i["holdout"]]
        largest = max(i["n_nonembed"] for i in fitted)
        naive = per[per["run"].isin([i["name"] for i in fitted if i["n_nonembed"] == largest])]["final_loss"].mean()
        fit = a.get("fit") or {}
        alpha = fit.get("params", {}).get("alpha")
        ci = fit.get("ci", {}).get("alpha")
        row["activations"][act] = {
            "stage_gate": gate["message"], "stage_gate_passes": gate["decidable"], "law": a["law"],
            "law_gate": a["gate"]["message"], "alpha": alpha, "alpha_ci": ci,
            "holdout": [{"run": h["run"], "observed": h["observed"], "predicted": h["predicted"],
                         "pi": [h["pi_lo"], h["pi_hi"]], "law_error_pct": h["rel_error_pct"],
                         "inside_pi": h["inside_interval"],
                         "naive_error_pct": 100.0 * (naive - h["observed"]) / h["observed"]} for h in a["holdout"]]}
    row["cost"] = {"runs": len(infos), "tokens": float(sum(i["tokens_seen"] for i in infos)),
                   "train_flops": float(sum(6.0 * i["n_nonembed"] * i["tokens_seen"] for i in infos)),
                   "train_wall_s": float(sum(i["wall_seconds"] for i in infos))}
    return row


def markdown(row: dict) -> str:
    """The README table row(s): design | sizes | tokens | lr | stages at the end (and how many of them
    ``make plan`` expected; with the pilot table as shipped when the design ran) | stage gate | law error
    vs naive error per holdout (PI; seed spread of the holdout loss) | alpha [95% CI] | cost."""
    per = pd.DataFrame(row["runs"])
    stages = "; ".join(f"{lab}: {', '.join(g['run'].str.split('-').str[1])}" for lab, g in per.groupby("stage", sort=False))
    toks = [f"{t:.2g}" for t in sorted(set(per["tokens"]))]
    n_unknown = int((per["expected_stage"].isna() | (per["expected_stage"] == "unknown")).sum())
    stages += (f" (make plan expected {int((per['stage'] == per['expected_stage']).sum())} of {len(per)}"
               + (f", {n_unknown} unknown" if n_unknown else "") + ")")
    lines = []
    for act, a in row["activations"].items():
        hold = "; ".join(f"{h['law_error_pct']:+.1f}% vs naive {h['naive_error_pct']:+.1f}% "
                         f"({'in' if h['inside_pi'] else 'OUT of'} PI)" for h in a["holdout"]) or "no holdout"
        obs = [h["observed"] for h in a["holdout"]]
        if len(obs) > 1:
            hold += f"; seed spread of the holdout loss {max(obs) - min(obs):.3f} nats"
        al = (f"{a['alpha']:.3f} [{a['alpha_ci'][0]:.3f}, {a['alpha_ci'][1]:.3f}]"
              if a["alpha"] is not None and a["alpha_ci"] else "not fitted")
        c = row["cost"]
        lines.append(f"| {row['design']} {act} | {len(row['sizes'])} sizes {min(row['sizes'])}-{max(row['sizes'])} | "
                     f"{', '.join(toks)} | {row['lr']:g} | {stages} | "
                     f"{'passes' if a['stage_gate_passes'] else 'refused'} | {hold} | {al} | "
                     f"{c['runs']} runs, {c['train_flops']:.2g} FLOPs, {c['train_wall_s']:.0f} s |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--activations", nargs="+", default=["gelu"])
    ap.add_argument("--sizes", nargs="+", type=int, required=True, help="target non-embedding parameter counts")
    ap.add_argument("--holdout", type=int, required=True, help="the held-out target (one of --sizes)")
    budget = ap.add_mutually_exclusive_group(required=True)
    budget.add_argument("--tokens", type=float, help="one fixed token budget for every size")
    budget.add_argument("--tokens-per-param", type=float, help="tokens = this x non-embedding parameters")
    ap.add_argument("--lr", type=float, default=0.003)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--head-dim", type=int, default=8)
    ap.add_argument("--max-layers", type=int, default=2, help="2 keeps the default study's 2-layer family")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=None, help="a prepared corpus folder to reuse (read only)")
    ap.add_argument("--analyse-only", action="store_true", help="do not train; analyse the runs present")
    args = ap.parse_args(argv)
    if args.holdout not in args.sizes:
        ap.error("--holdout must be one of --sizes")
    cfg = design_config(args)
    runs = design_runs(cfg, args.tokens)
    root = args.out / args.name
    data = ensure_data(cfg, args.data, args.out)
    from toposcale.train import train_run

    for r in runs:
        if (root / "runs" / r.name / "run.json").exists() or args.analyse_only:
            continue
        t0 = time.time()
        train_run(r.to_dict(), cfg, data, root / "runs" / r.name, threads=1, log=lambda s: None)
        print(f"[{args.name}] {r.name}: {r.total_steps} steps, {r.total_steps * r.tokens_per_step:.3g} tokens, "
              f"{time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    row = evaluate(args.name, cfg, runs, root, data, args.lr)
    (root / "design.json").write_text(json.dumps(row, indent=2, default=float))
    print(markdown(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
