"""toposcale.plan.paths, .targets and .resources: what the rule files call instead of inline formulas."""
import re
from types import SimpleNamespace

import pytest

from conftest import ROOT
from toposcale.config import load_config, validate_config
from toposcale.plan.paths import StudyPaths, step_name, wildcard_constraints
from toposcale.plan.resources import (grokking_measure_runtime, grokking_seconds, grokking_train_runtime,
                                      pretrained_resamples, train_mem_mb, train_runtime)
from toposcale.plan.study import bootstrap_steps, run_checkpoint_steps, study_runs
from toposcale.plan.targets import (analysis_tables, default_targets, external_log_inputs, external_targets,
                                    grokking_runs, grokking_targets, pretrained_targets, resolve_external_logs,
                                    study_paths)


@pytest.fixture(scope="module", params=["config.yaml", "configs/smoke.yaml"])
def cfg(request):
    return load_config(ROOT / request.param)


def test_run_wildcard_matches_every_planned_run_and_nothing_else(cfg):
    c = wildcard_constraints(cfg["model"]["activations"])
    for run in study_runs(cfg):
        assert re.fullmatch(c["run"], run.name), run.name
    assert not re.fullmatch(c["run"], "relu-d16L1-s0")
    only_gelu = wildcard_constraints(["gelu"])["run"]
    assert not re.fullmatch(only_gelu, "swiglu-d16L1-s0")


def test_step_template_and_wildcard_agree():
    assert re.fullmatch(wildcard_constraints(["gelu"])["step"], step_name(4336)[len("step"):])
    assert step_name(0) == "step0000000" and step_name("{step}") == "step{step}"
    p = StudyPaths("my results", "kjv")
    assert p.checkpoint("r", 5) == "my results/runs/r/checkpoints/step0000005.safetensors"
    assert p.grokking_checkpoint("grok-s0", 5) == "my results/grokking/grok-s0/checkpoints/step0000005.safetensors"
    assert p.diagram("r", "activations", 7, "final") == f"{p.diagrams_root('r')}/activations/step0000007/final.npz"
    assert p.null_diagram("r", "activations", 7, "final") == f"{p.nulls_root('r')}/activations/step0000007/final.npz"
    assert p.nulls_root("r") == "my results/nulls/r"


def test_default_targets_of_the_smoke_study():
    cfg = load_config(ROOT / "configs" / "smoke.yaml")
    cfg["results"] = "out"
    targets = default_targets(cfg)
    assert len(targets) == len(set(targets))
    runs = study_runs(cfg)
    n_boot = sum(len(bootstrap_steps(run_checkpoint_steps(r.total_steps, cfg["training"]),
                                     cfg["topology"]["bootstrap"]["n_checkpoints"])) for r in runs)
    assert sum(t.endswith("/run.json") for t in targets) == len(runs) + 1 == 9  # 8 trained runs and 1 series
    assert "out/runs/series-tiny_neox/run.json" in targets and "out/metrics/series-tiny_neox.parquet" in targets
    assert [t for t in targets if t.startswith("out/analysis/probes/")] == [f"out/analysis/probes/{r.name}.csv"
                                                                              for r in runs]
    assert sum(t.startswith("out/bootstrap/") for t in targets) == n_boot == 16
    # the bootstrap tables are opt-in: none without topology.bootstrap.n_checkpoints
    off = load_config(ROOT / "configs" / "smoke.yaml")
    off["results"] = "out"
    off["topology"]["bootstrap"]["n_checkpoints"] = 0
    assert not any(t.startswith("out/bootstrap/") for t in default_targets(off))
    assert load_config(ROOT / "config.yaml")["topology"]["bootstrap"]["n_checkpoints"] == 0
    assert "out/report/summary.md" in targets and "out/figures/grokking.png" in targets
    assert "out/analysis/external_demo_claims.csv" in targets and "out/figures/external_own_runs.png" in targets
    assert not any("pretrained" in t for t in targets)
    assert sorted(t for t in targets if t.endswith(".png")) == sorted(
        f"out/figures/{n}.png" for n in ("training_curves", "metric_evolution", "diagrams", "betti_curves", "summary", "probes",
                                         "dynamics_heatmap", "forecast", "transitions", "scaling_loss",
                                         "scaling_topology", "alignment", "grokking", "external_own_runs", "external_demo"))
    cfg["grokking"]["enabled"] = False
    assert not [t for t in default_targets(cfg) if "grokking" in t]


def test_grokking_and_pretrained_targets():
    cfg = validate_config({"results": "r", "grokking": {"seeds": [3, 1]}})
    paths = study_paths(cfg)
    assert grokking_runs(cfg["grokking"], ["grok", "control"]) == ["grok-s3", "control-s3", "grok-s1", "control-s1"]
    assert grokking_targets(cfg, paths)[0] == "r/analysis/grokking.csv"
    assert pretrained_targets(paths, []) == []
    pt = pretrained_targets(paths, [("m", "c")])
    assert "r/report/pretrained.md" in pt and "r/figures/pretrained/m/c/h0h1.png" in pt
    assert external_targets(paths, ["x"]) == ["r/analysis/external_x.csv", "r/analysis/external_x_claims.csv",
                                              "r/analysis/external_x_series.csv", "r/analysis/external_x_issues.csv",
                                              "r/figures/external_x.png"]


def test_external_log_inputs(tmp_path):
    results = str(tmp_path / "res")
    own = {"name": "own", "path": f"{results}/runs", "schema": "toposcale_log"}
    assert external_log_inputs(own, results, ["a-s0", "b-s0"]) == [f"{results}/runs/a-s0/log.csv",
                                                                   f"{results}/runs/b-s0/log.csv"]
    assert external_log_inputs({**own, "path": results}, results, ["a-s0"]) == [f"{results}/runs/a-s0/log.csv"]
    other = tmp_path / "other"
    for run in ("y-s0", "x-s0"):
        (other / "runs" / run).mkdir(parents=True)
        (other / "runs" / run / "log.csv").write_text("step\n0\n")
    folder = {"name": "other", "path": str(other), "schema": "toposcale_log"}
    assert external_log_inputs(folder, results, []) == [str(other / "runs" / r / "log.csv") for r in ("x-s0", "y-s0")]
    assert external_log_inputs({**folder, "path": str(other / "runs")}, results, []) == \
        [str(other / "runs" / r / "log.csv") for r in ("x-s0", "y-s0")]
    csv = {"name": "demo", "path": "some/demo.csv", "schema": "beta_trajectory"}
    assert external_log_inputs(csv, results, ["a-s0"]) == ["some/demo.csv"]


def test_resolve_external_logs_fills_in_the_results_folder():
    cfg = validate_config({"results": "my results", "external": {
        "logs": [{"name": "own", "path": "{results}/runs", "schema": "toposcale_log"}]}})
    assert resolve_external_logs(cfg) == [{"name": "own", "path": "my results/runs", "schema": "toposcale_log"}]
    assert cfg["external"]["logs"][0]["path"] == "{results}/runs"  # the config itself is left alone


def test_analysis_tables_follow_the_config_and_the_pretrained_table(tmp_path):
    cfg = validate_config({"results": str(tmp_path)})
    paths = study_paths(cfg)
    tables = analysis_tables(cfg, paths)
    assert "pretrained" not in tables and tables["grokking"] == f"{tmp_path}/analysis/grokking.csv"
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "pretrained.csv").write_text("model\n")
    assert analysis_tables(cfg, paths)["pretrained"] == f"{tmp_path}/analysis/pretrained.csv"
    cfg["grokking"]["enabled"] = False
    assert not [k for k in analysis_tables(cfg, paths) if k.startswith("grokking")]


def test_resources_keep_the_formulas_of_the_rule_files(cfg):
    for r in study_runs(cfg):
        assert train_mem_mb(r) == 1500 + r.n_total // 100
        assert train_runtime(r) == 10 + int(r.total_steps * r.tokens_per_step / 3e5 / 60 * 4)
    g = cfg["grokking"]
    assert grokking_seconds(g) == pytest.approx(3e-5 * g["steps"] * g["p"] ** 2 * g["train_fraction"]
                                                * (4 * g["d_model"] ** 2 + 2 * g["d_model"] * g["d_mlp"])
                                                / (4 * 128 ** 2 + 2 * 128 * 512), rel=1e-12)
    assert grokking_train_runtime(g) == 10 + int(4 * grokking_seconds(g) / 60)
    assert grokking_measure_runtime(9) == 10 and grokking_measure_runtime(30) == 13
    assert grokking_measure_runtime(30, n_null_draws=4) == 25
    assert train_mem_mb(SimpleNamespace(n_total=0)) == 1500


def test_pretrained_resamples_default_to_200_independent_of_the_bootstrap_setting():
    assert pretrained_resamples(validate_config({"topology": {"bootstrap": {"n_resamples": 30}}})) == 200
    assert pretrained_resamples(validate_config({"pretrained": {"n_resamples": 0}})) == 0
    assert pretrained_resamples(validate_config({"pretrained": {"n_resamples": 250}})) == 250
