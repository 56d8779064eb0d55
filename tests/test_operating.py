"""The operating-characteristics framework: the design read off a config, rates and the registry."""
import numpy as np
import pytest

from toposcale.operating import COLUMNS, Characteristic, Design, proportion, register, run_checks
from toposcale.operating import characteristics as oc
from toposcale.plan.decidability import load_study_config
from toposcale.plan.study import run_checkpoint_steps, study_runs


def test_design_matches_the_plan_of_the_default_config(tmp_path):
    cfg = load_study_config(["config.yaml"])
    d = Design.from_config(cfg)
    runs = study_runs(cfg)
    acts = sorted({r.activation for r in runs})
    assert sorted(d.activations) == acts
    per_act = [r for r in runs if r.activation == acts[0]]
    assert len(d.sizes) + len(d.holdout_sizes) == len({r.target_params for r in per_act})
    assert d.seeds == len(cfg["model"]["seeds"])
    assert d.k_nulls == cfg["topology"]["nulls"]["n_draws"]
    shortest = min(runs, key=lambda r: r.total_steps)
    assert d.n_checkpoints == len([s for s in run_checkpoint_steps(shortest.total_steps, cfg["training"])
                                   if s > 0])
    assert d.checkpoint_fracs[-1] == 1.0 and np.all(np.diff(d.checkpoint_fracs) > 0)
    assert d.n_runs * len(d.activations) == len(runs)
    assert d.extra["stages"] == cfg["stages"]      # the scaling checks' stage thresholds


def test_proportion_and_its_monte_carlo_error():
    assert proportion(45, 50) == pytest.approx((0.9, np.sqrt(0.9 * 0.1 / 50)))
    assert proportion(0, 10) == (0.0, 0.0)
    assert np.isnan(proportion(0, 0)[0])


def test_registered_check_rows_and_decidability(monkeypatch):
    oc.checks()            # import the real check modules first, so that they register outside the toy registry
    monkeypatch.setattr(oc, "_REGISTRY", {})
    monkeypatch.setattr(oc, "CHECK_MODULES", ())      # only the toy check below: the real ones have tests of their own

    @register("toy")
    def _toy(design, n_sim, seed):
        rng = np.random.default_rng(seed)
        hits = int((rng.random(n_sim) < 0.95).sum())
        fakes = int((rng.random(n_sim) < 0.05).sum())
        p, pse = proportion(hits, n_sim)
        f, fse = proportion(fakes, n_sim)
        return [Characteristic("toy verdict", "toy", design.describe(), "coin with p = 0.95", p, pse,
                               "coin with p = 0.05", f, fse, n_sim)]

    d = Design(("gelu",), (1, 2, 3), (4,), 2, (0.5, 1.0), 4, 199, 999)
    t = run_checks(d, n_sim=400, seed=1, families=["toy"])   # the registered modules import into this registry too
    assert list(t.columns) == list(COLUMNS) and len(t) == 1
    row = t.iloc[0]
    assert abs(row["power"] - 0.95) < 4 * row["power_mcse"] and abs(row["fpr"] - 0.05) < 4 * row["fpr_mcse"] + 0.01
    assert bool(row["decidable"])
    low = Characteristic("v", "f", "d", "p", 0.5, 0.05, "c", 0.0, 0.0, 10)
    assert not low.decidable


def test_summary_prints_power_beside_a_verdict_and_the_table(tmp_path):
    import pandas as pd

    from toposcale.report import build_summary
    from toposcale.report.operating import power_note

    oc = pd.DataFrame([Characteristic("clock verdict", "toy", "d", "planted x", 0.91, 0.02, "clock", 0.04, 0.01,
                                      200).row(),
                       Characteristic("clock verdict", "toy", "d", "planted x", 0.91, 0.02, "trend", 0.06, 0.02,
                                      200).row(),
                       Characteristic("weak verdict", "toy", "d", "planted y", 0.40, 0.03, "clock", 0.05, 0.02,
                                      200).row()])
    note = power_note(oc, "clock verdict")
    assert "power 0.91 ± 0.02" in note and "FPR 0.04 ± 0.01 (clock)" in note and "(trend)" in note
    assert "cannot decide" in power_note(oc, "weak verdict")
    assert power_note(oc, "unknown") == "power not measured"
    path = tmp_path / "operating_characteristics.csv"
    oc.to_csv(path, index=False)
    text = build_summary({"operating": str(path)})
    assert "## Operating characteristics of the verdicts" in text
    assert "| weak verdict | planted y | 0.40 ± 0.03 | clock | 0.05 ± 0.02 |" in text
