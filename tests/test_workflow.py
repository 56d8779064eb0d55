"""End-to-end workflow tests on configs/smoke.yaml (and tiny variants), through the snakemake CLI."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, SNAKEMAKE, run_snakemake
from toposcale.config import load_config, validate_config
from toposcale.plan.paths import StudyPaths
from toposcale.plan.study import layer_names, run_checkpoint_steps, study_runs

pytestmark = pytest.mark.workflow


def test_default_config_dry_run(tmp_path):
    proc = run_snakemake(["-n", "--cores", "2", "--quiet", "rules", "--config", f"results={tmp_path}"], timeout=300)
    out = proc.stdout + proc.stderr
    assert "train_gelu_d64L2_s1" in out and "train_swiglu_d16L2_s0" in out   # the 28-run grid
    assert "topology_summarise" in out


def test_nested_command_line_config_values_are_typed(tmp_path):
    # Snakemake passes nested --config values as strings; the config layer turns "90" into the integer 90
    proc = run_snakemake(["-n", "--cores", "1", "--quiet", "rules", "--configfile", "configs/smoke.yaml",
                          "--config", f"results={tmp_path}", "figures={dpi: 90, n_checkpoints: 3}"],
                         check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "plot_summary" in proc.stdout


@pytest.mark.parametrize("text, message", [
    ("training:\n  lr: -0.5\n", "training.lr = -0.5 is not allowed: must be > 0"),
    ("corpus:\n  source: no/such/corpus.txt\n",
     f"config error: corpus.source = 'no/such/corpus.txt' does not exist: {ROOT / 'no/such/corpus.txt'}"),
])
def test_bad_config_key_stops_before_any_job(tmp_path, text, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    proc = run_snakemake(["-n", "--cores", "1", "--configfile", str(cfg)], check=False, timeout=120)
    assert proc.returncode != 0
    assert message in proc.stderr + proc.stdout


@pytest.mark.parametrize("granularity", ["run", "checkpoint", "layer"])
def test_persistence_jobs_write_the_null_draws_of_every_layer(tmp_path, granularity):
    """Issue 15 (d): the null draws are outputs of the persistence jobs, and their count follows the config."""
    cfg = load_config(ROOT / "configs" / "smoke.yaml")
    proc = run_snakemake(["-n", "-p", "--cores", "1", "--configfile", "configs/smoke.yaml", "--config",
                          f"results={tmp_path}", f"topology={{granularity: {granularity}, nulls: {{n_draws: 3}}}}",
                          "--", "diagrams_all"], timeout=300)
    # one block per job ("rule NAME:" ... "Shell command: ..."); grouped jobs are printed indented
    blocks = re.split(r"\n\s*rule ", proc.stdout + proc.stderr)
    # the trained runs' jobs (the smoke config's checkpoint series has persistence jobs of its own)
    jobs = [block for block in blocks if block.startswith("topology_persistence") and "/series-" not in block]
    outputs = {}
    for block in jobs:
        line = next(ln for ln in block.splitlines() if ln.strip().startswith("output:"))
        files = line.split("output:", 1)[1].strip().split(", ")
        assert "--n-draws 3 --kinds gaussian permutation copula --seed 0" in block
        for f in files:
            outputs[f] = block
    paths = StudyPaths(str(tmp_path), cfg["corpus"]["name"])
    runs = study_runs(cfg)
    n, n_ckpt = 0, 0
    for r in runs:
        for step in run_checkpoint_steps(r.total_steps, cfg["training"]):
            n_ckpt += 1
            for source in cfg["topology"]["sources"]:
                for layer in layer_names(source, r.n_layers):
                    diagram, null = paths.diagram(r.name, source, step, layer), paths.null_diagram(r.name, source,
                                                                                                 step, layer)
                    assert outputs[null] is outputs[diagram]  # written by the same job as the diagram
                    n += 1
    assert len(outputs) == 2 * n
    assert len(jobs) == {"run": len(runs), "checkpoint": n_ckpt, "layer": n}[granularity]


def test_smoke_study_outputs(smoke_results):
    out, _ = smoke_results
    cfg = yaml.safe_load((ROOT / "configs" / "smoke.yaml").read_text())
    runs = sorted(p.parent.name for p in (out / "runs").glob("*/run.json") if not p.parent.name.startswith("series-"))
    assert len(runs) == len(cfg["model"]["activations"]) * len(cfg["model"]["target_params"])
    for run in runs:
        info = json.loads((out / "runs" / run / "run.json").read_text())
        assert info["n_nonembed"] == info["n_nonembed_model"]
        log = pd.read_csv(out / "runs" / run / "log.csv")
        assert np.isfinite(log["val_loss"]).all() and np.isfinite(log["train_loss"]).all()
        assert log["val_loss"].iloc[-1] < log["val_loss"].iloc[0] - 1.0, run
        assert len(list((out / "runs" / run / "checkpoints").glob("step*.safetensors"))) == len(log)
        m = pd.read_parquet(out / "metrics" / f"{run}.parquet")
        assert set(m["source"]) == {"weights", "activations"}
        assert set(m["step"]) == set(log["step"])
        n_layers = info["n_layers"]
        assert len(m) == len(log) * ((n_layers + 1) + (n_layers + 2))
        assert (m["h0_total_persistence"] > 0).all()
        assert m.loc[m.source == "weights", "neural_persistence"].between(0, 1).all()
        for col in ("h0_total_persistence_norm_null_z", "h1_max_lifetime_null_mean", "scale_null_sd",
                    "h0_total_persistence_perm_z", "n_distinct", "effective_rank", "degenerate"):
            assert col in m.columns, col
        assert (m["n_null_draws"] == validate_config(cfg)["topology"]["nulls"]["n_draws"]).all()
        assert (m["h0_total_persistence_null_sd"] > 0).all()
        nulls = sorted((out / "nulls" / run).rglob("*.npz"))
        assert len(nulls) == len(m)
        boots = sorted((out / "bootstrap" / run).glob("step*.csv"))
        assert len(boots) == cfg["topology"]["bootstrap"]["n_checkpoints"]
        b = pd.read_csv(boots[-1])
        sub = b[b.metric == "h0_total_persistence_norm"]
        assert (sub["lo"] <= sub["hi"]).all()


def check_smoke_provenance(out):
    """Every kind of output of a finished smoke study records one config hash, the package version and a git
    revision, and summary.md prints them (issue 24 item 5)."""
    from toposcale.io import read_provenance
    from toposcale.provenance import package_version

    md = (out / "report" / "summary.md").read_text()
    sec = md[md.index("## Provenance"):]
    own = re.search(r"- config SHA-256: `([0-9a-f]{64})`", sec).group(1)
    assert f"- toposcale version: `{package_version()}`" in sec
    assert re.search(r"- git revision: `([0-9a-f]{40}(\+dirty)?|unknown)`", sec)
    run = sorted((out / "runs").glob("*/run.json"))[0].parent
    written = [out / "report" / "summary.md", out / "analysis" / "dynamics.csv", out / "analysis" / "scaling.json",
               run / "run.json", run / "log.csv", sorted((out / "metrics").glob("*.parquet"))[0],
               out / "figures" / "summary.png", sorted((out / "figures").glob("*.png"))[-1]]
    for path in written:
        rec = read_provenance(path)
        assert rec is not None, f"{path} records no provenance"
        assert rec["config_sha256"] == own and rec["toposcale_version"] == package_version(), path
        assert rec["git_revision"], path
    pd.read_csv(out / "analysis" / "dynamics.csv")   # the tables themselves still read as before


def test_smoke_outputs_record_provenance(smoke_results):
    check_smoke_provenance(smoke_results[0])


def test_smoke_series_runs_the_whole_series_path(smoke_results):
    """Issue 24: the fixture series (a tiny GPT-NeoX trained in the study) runs as series-tiny_neox: loss per
    byte falling with training, metrics with nulls for every layer and checkpoint, in dynamics and
    transitions and named in summary.md, and never in the scaling fits."""
    out, _ = smoke_results
    run = "series-tiny_neox"
    info = json.loads((out / "runs" / run / "run.json").read_text())
    assert info["is_series"] and info["stages_applicable"] is False and info["model_type"] == "gpt_neox"
    log = pd.read_csv(out / "runs" / run / "log.csv")
    assert list(log["step"]) == [0, 1, 2, 3, 6, 10, 20, 30, 60, 100, 200]
    assert log["val_loss"].iloc[-1] < log["val_loss"].iloc[0] - 0.5  # nats per byte: ~2.5 at init, ~1.56 at 200
    m = pd.read_parquet(out / "metrics" / f"{run}.parquet")
    assert len(m) == len(log) * ((2 + 1) + (2 + 2))
    assert m["h0_total_persistence_null_z"].notna().all()
    assert set(m.loc[(m.source == "weights") & (m.layer == "block00"), "n_points"]) == {128}
    for table in ("dynamics.csv", "transitions.csv"):
        assert run in set(pd.read_csv(out / "analysis" / table)["run"]), table
    for table in ("forecast.csv", "scaling.csv"):
        assert run not in set(pd.read_csv(out / "analysis" / table).get("run", pd.Series(dtype=str))), table
    scaling = json.dumps(json.loads((out / "analysis" / "scaling.json").read_text()))
    assert run not in scaling
    md = (out / "report" / "summary.md").read_text()
    assert "1 checkpoint series: series-tiny_neox" in md and f"{run} (series)" in md


def test_smoke_summary_says_cannot_decide(smoke_results):
    """The smoke grid (4 sizes, 1 held out, 1 seed) is too small for any scaling or size verdict: summary.md
    says "cannot decide: need ..." where a verdict would be, and quotes none built on <= 2 residual dof."""
    from toposcale.plan.decidability import load_study_config, plan

    out, _ = smoke_results
    md = (out / "report" / "summary.md").read_text()
    scaling = md.split("## Scaling laws")[1].split("\n## ")[0]
    need = [ln for ln in scaling.splitlines() if "cannot decide: need" in ln]
    assert any(ln.startswith("- gelu L(C): cannot decide: need >= 6 sizes") for ln in need), scaling
    assert any("cannot decide: need >= 5 sizes" in ln for ln in need)          # topology vs size
    assert any(ln.startswith("- gelu pure power law: cannot decide: need >= 5 sizes") for ln in need)
    # no verdict where one would stand: table cells, the comparison line, the size-verdict tally
    verdict_lines = [ln for ln in scaling.splitlines()
                     if ln.startswith(("|", "Activation comparison:", "Size verdicts:"))]
    assert any(ln.startswith("Size verdicts: cannot decide: need >= 5 sizes:") for ln in verdict_lines)
    for verdict in ("exponent shift", "offset only", "not distinguishable", "topology beyond geometry",
                    "explained by its null", "no size trend", "| True |", "| False |"):
        assert not any(verdict in ln for ln in verdict_lines), verdict
    table = pd.read_csv(out / "analysis" / "scaling.csv")
    fits = table[table["section"].isin(["fit", "holdout", "comparison", "topology"])]
    assert len(fits) and not fits["decidable"].astype(bool).any()
    assert fits["needs"].str.startswith("cannot decide: need").all()
    # the plan said so before training
    rows = {r["analysis"]: r for r in plan(load_study_config([ROOT / "configs" / "smoke.yaml"],
                                                             base=ROOT / "config.yaml"))}
    assert not rows["scaling law L(C) gelu"]["decidable"] and not rows["topology vs size all"]["decidable"]


def test_smoke_study_is_then_up_to_date(smoke_results):
    out, _ = smoke_results
    proc = run_snakemake(["-n", "--cores", "2", "--configfile", "configs/smoke.yaml", "--config", f"results={out}"],
                         timeout=300)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def _tiny_config(tmp_path, results):
    cfg = yaml.safe_load((ROOT / "configs" / "smoke.yaml").read_text())
    cfg["model"]["activations"] = ["gelu"]
    cfg["model"]["target_params"] = [6000]
    cfg["model"]["holdout_params"] = []
    cfg["training"]["tokens_per_param"] = [60]
    cfg["results"] = str(results)
    path = tmp_path / f"{Path(results).name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _group_processes(pgid, needle):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if os.getpgid(int(entry)) == pgid and needle in cmd and "snakemake " not in cmd:
                pids.append(int(entry))
        except (OSError, ProcessLookupError):
            continue
    return pids


def test_killed_training_resumes_to_same_loss(tmp_path):
    """Kill snakemake (and its training job) mid-run, rerun the same command: it resumes, same final loss."""
    ref_cfg = _tiny_config(tmp_path, tmp_path / "ref")
    run_snakemake(["train_all", "--cores", "1", "--configfile", str(ref_cfg)], timeout=600)
    ref = json.loads(next((tmp_path / "ref" / "runs").glob("*/run.json")).read_text())

    cfg = _tiny_config(tmp_path, tmp_path / "killed")
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    proc = subprocess.Popen([SNAKEMAKE, "train_all", "--cores", "1", "--configfile", str(cfg)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    partial = tmp_path / "killed" / "runs" / ref["name"] / ".partial" / "checkpoints"
    deadline = time.time() + 300
    try:
        while time.time() < deadline and len(list(partial.glob("*.safetensors"))) < 5:
            time.sleep(0.05)
        assert len(list(partial.glob("*.safetensors"))) >= 5, "training never reached its 5th checkpoint"
        victims = _group_processes(proc.pid, "train.py")
        assert victims, "no training process found"
        for pid in victims:  # kill the training job only, as an OOM killer or a preemption would
            os.kill(pid, signal.SIGKILL)
        assert proc.wait(timeout=120) != 0  # snakemake reports the failed job and exits
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert not (tmp_path / "killed" / "runs" / ref["name"] / "run.json").exists()
    done = run_snakemake(["train_all", "--cores", "1", "--configfile", str(cfg)], timeout=600)
    log = (tmp_path / "killed" / "logs" / "train" / f"{ref['name']}.log").read_text()
    assert "resuming from step" in log
    got = json.loads((tmp_path / "killed" / "runs" / ref["name"] / "run.json").read_text())
    assert got["final_val_loss"] == pytest.approx(ref["final_val_loss"], abs=1e-4)
    assert done.returncode == 0


def test_corrupt_checkpoint_is_named(tmp_path):
    cfg = _tiny_config(tmp_path, tmp_path / "corrupt")
    run_snakemake(["train_all", "--cores", "1", "--configfile", str(cfg)], timeout=600)
    ckpt = sorted((tmp_path / "corrupt" / "runs").glob("*/checkpoints/*.safetensors"))[-1]
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    proc = run_snakemake(["metrics_all", "--cores", "1", "--configfile", str(cfg)], check=False, timeout=600)
    assert proc.returncode != 0
    logs = "".join(p.read_text() for p in (tmp_path / "corrupt" / "logs" / "extract").glob("*.log"))
    text = proc.stdout + proc.stderr + logs
    assert f"corrupt or truncated checkpoint {ckpt}" in text and f"rerun `snakemake --cores 1 {ckpt}`" in text


def _dry_run_jobs(out, *args):
    proc = run_snakemake(["-n", "--cores", "1", "--configfile", "configs/smoke.yaml", "--config", f"results={out}",
                          *args], timeout=300)
    text = proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return {}
    jobs, started = {}, False
    for line in text.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            started = True
            continue
        if started and len(parts) == 2 and parts[1].isdigit():
            if parts[0] == "total":
                break
            jobs[parts[0]] = int(parts[1])
    return jobs


def test_redraw_one_figure_runs_one_job(smoke_results):
    out, _ = smoke_results
    target = out / "figures" / "forecast.png"
    target.unlink()
    assert _dry_run_jobs(out, "--", str(target)) == {"plot_forecast": 1}
    run_snakemake(["--cores", "1", "--configfile", "configs/smoke.yaml", "--config", f"results={out}", "--",
                   str(target)], timeout=300)
    assert target.stat().st_size > 10_000


def test_figure_param_change_reruns_only_that_figure(smoke_results):
    out, _ = smoke_results
    jobs = _dry_run_jobs(out, "figures={baseline: frobenius_norm}")
    assert set(jobs) - {"all"} == {"plot_metric_evolution"}, jobs


def test_figure_run_choice_reruns_only_its_figures(smoke_results):
    out, _ = smoke_results
    jobs = _dry_run_jobs(out, "figures={run: swiglu-d16L1-s0}")
    assert set(jobs) - {"all"} == {"plot_diagrams", "plot_betti_curves"}, jobs


def test_grokking_threshold_change_reruns_only_its_analysis(smoke_results):
    """grokking.positive_control and grokking.accuracy are read by the analysis (and the figure), not by
    training or measuring: changing one must not retrain or remeasure a grokking run."""
    out, _ = smoke_results
    jobs = _dry_run_jobs(out, "grokking={positive_control: {min_loop_size: 1.5}, accuracy: {pre_grok: 0.1}}")
    assert "grokking_analyse" in jobs and "plot_grokking" in jobs, jobs
    assert not {"grokking_train", "grokking_measure"} & set(jobs), jobs


def test_every_verdict_in_the_smoke_summary_has_its_operating_characteristics(smoke_results):
    """Issue 22's done-when on the smoke study: every verdict summary.md prints has a row of the operating-
    characteristics table beside it (``power_note`` writes "power not measured" where a row is missing)."""
    out, _ = smoke_results
    md = (out / "report" / "summary.md").read_text()
    assert "power not measured" not in md, [ln for ln in md.splitlines() if "power not measured" in ln]
    oc = pd.read_csv(out / "analysis" / "operating_characteristics.csv")
    notes = [ln for ln in md.splitlines() if "FPR" in ln and "power" in ln]
    assert len(notes) >= 5, notes
    assert {"scaling", "pretrained", "transitions", "size"} <= set(oc["family"])
