"""The decidability plan (toposcale.plan.decidability): gates, the per-config plan and its command line."""

import subprocess
import sys
from pathlib import Path

import pytest

from toposcale.plan import decidability as DEC

ROOT = Path(__file__).resolve().parents[1]


def _rows(cfg):
    return {r["analysis"]: r for r in DEC.plan(cfg)}


def test_fit_gate_boundary():
    assert DEC.fit_gate(6, 3)["decidable"] and DEC.fit_gate(6, 3)["residual_dof"] == 3
    g = DEC.fit_gate(4, 3)
    assert not g["decidable"] and g["residual_dof"] == 1
    assert g["message"] == ("cannot decide: need >= 6 sizes for 3 parameters (>= 3 residual dof), have 4: "
                            "add >= 2 sizes")
    assert DEC.fit_gate(5, 2)["decidable"] and not DEC.fit_gate(4, 2)["decidable"]


def test_rank_test_runs():
    assert DEC.min_spearman_p(4) == pytest.approx(2 / 24)
    assert DEC.runs_for_rank_test(0.05) == 5 and DEC.runs_for_rank_test(0.01) == 6
    # the exact test really reaches 2 / n! for a perfect rank correlation
    from toposcale.stats import spearman

    assert spearman(range(5), range(5))[1] == pytest.approx(DEC.min_spearman_p(5))


def test_detrend_checkpoints_follows_detrend_degree():
    from toposcale.analysis.dynamics import detrend_degree

    n = DEC.detrend_checkpoints()
    assert detrend_degree(n) >= 1 and n - 2 - detrend_degree(n) >= DEC.MIN_RESIDUAL_DOF
    assert not (detrend_degree(n - 1) >= 1 and n - 3 - detrend_degree(n - 1) >= DEC.MIN_RESIDUAL_DOF)


def test_smoke_config_cannot_decide():
    cfg = DEC.load_study_config([ROOT / "configs" / "smoke.yaml"], base=ROOT / "config.yaml")
    rows = _rows(cfg)
    law = rows["scaling law L(C) gelu"]
    assert not law["decidable"] and law["have"] == "3 sizes"
    assert law["message"].startswith("cannot decide: need >= 6 sizes")
    assert not rows["activation comparison swiglu vs gelu"]["decidable"]
    assert not rows["topology vs size all"]["decidable"] and rows["topology vs size all"]["have"] == "4 sizes"
    assert not rows["dynamics seed spread"]["decidable"]
    assert rows["forecasting leave one size out"]["decidable"]
    assert rows["grokking null verdict"]["decidable"]                      # smoke groks with 2 seeds
    assert all(r["message"].startswith("cannot decide") for r in rows.values() if not r["decidable"])


def test_seven_sizes_two_seeds_decidable():
    sizes = [3000, 6000, 9000, 12000, 16000, 20000, 25000]
    cfg = DEC.load_study_config([ROOT / "configs" / "smoke.yaml"], base=ROOT / "config.yaml",
                                overrides=[f"model={{target_params: {sizes}, holdout_params: [25000], seeds: [0, 1]}}"])
    rows = _rows(cfg)
    for act in ("gelu", "swiglu"):
        assert rows[f"scaling law L(C) {act}"]["decidable"], rows[f"scaling law L(C) {act}"]
        assert rows[f"scaling law L(C) {act}"]["message"] == "6 sizes for 3 parameters: 3 residual dof"
        assert rows[f"holdout prediction {act}"]["decidable"]
        assert rows[f"topology vs size {act}"]["decidable"]
        assert rows[f"transitions vs size {act}"]["decidable"]             # 14 runs
    assert rows["activation comparison swiglu vs gelu"]["decidable"]
    assert rows["topology vs size all"]["decidable"] and rows["dynamics seed spread"]["decidable"]


def test_two_variable_law_counts_size_budget_points():
    cfg = DEC.load_study_config([], base=ROOT / "config.yaml",
                                overrides=["training={tokens_per_param: [10, 20]}"])
    law = _rows(cfg)["scaling law L(N, D) gelu"]
    assert law["have"] == "12 (size, tokens/param) points" and law["decidable"]  # 6 fitted sizes x 2 budgets, 5 params


def test_cli_prints_plan_and_rejects_bad_config(tmp_path):
    env = {"PYTHONPATH": str(ROOT / "workflow"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "toposcale.plan.decidability", "--configfile", "configs/smoke.yaml"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    assert "NO  scaling law L(C) gelu" in out and "cannot decide: need >= 6 sizes" in out
    assert out.strip().splitlines()[-1].endswith("cannot decide.")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {target_params: [1000], holdout_params: [1000]}\n")
    res = subprocess.run([sys.executable, "-m", "toposcale.plan.decidability", "--configfile", str(bad)],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    assert res.returncode == 1 and "holds out every size" in res.stderr


def test_plan_imports_nothing_from_the_analyses():
    """Layering (issue 22): the gates are the lowest layer; the analyses import them. The plan of a config,
    including its choice of scaling law, must not import any toposcale.analysis module (the law rule and
    the laws' parameter names live in plan.decidability; analysis.scaling re-uses them)."""
    code = ("import sys; from toposcale.plan import decidability as D; "
            "rows = D.plan(D.load_study_config(['configs/smoke.yaml'], base='config.yaml')); "
            "bad = sorted(m for m in sys.modules if m.startswith('toposcale.analysis')); "
            "print(len(rows), bad); sys.exit(1 if bad else 0)")
    env = {"PYTHONPATH": str(ROOT / "workflow"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    from toposcale.analysis.scaling import grid, laws
    assert grid.choose_law is DEC.choose_law
    assert laws.law_parameters("compute") == DEC.LAW_PARAMETERS["compute"] == ("E", "A", "alpha")
