"""The Snakemake profiles under profiles/: which jobs ask for a GPU, and that the GPU profile runs on CPU."""
import json
import re

import pytest

from conftest import ROOT, run_snakemake

pytestmark = pytest.mark.workflow

GPU_PROFILE = str(ROOT / "profiles" / "gpu")


def dry_run_resources(args):
    """{job's rule name: [resources line as dict, one per job]} from a non-quiet dry run."""
    proc = run_snakemake(["-n", *args], timeout=300)
    jobs = {}
    rule = None
    for line in proc.stdout.splitlines():
        m = re.match(r"^(?:local)?rule (\S+):$", line.strip())
        if m:
            rule = m.group(1)
        elif line.strip().startswith("resources:") and rule:
            pairs = (kv.split("=", 1) for kv in line.split(":", 1)[1].split(", "))
            jobs.setdefault(rule, []).append({k.strip(): v.strip() for k, v in pairs})
            rule = None
    assert jobs, f"no jobs with resources in the dry run:\n{proc.stdout[-3000:]}"
    return jobs


def test_gpu_profile_gives_a_gpu_to_training_and_extraction_only(tmp_path):
    jobs = dry_run_resources(["--workflow-profile", GPU_PROFILE, "--configfile", "configs/smoke.yaml",
                              "--config", f"results={tmp_path}"])
    gpu = {rule: {int(r.get("gpu", 0)) for r in res} for rule, res in jobs.items()}
    train = [r for r in gpu if r.startswith("train_")]
    extract = [r for r in gpu if r.startswith("topology_extract_")]
    assert len(train) == len(extract) == 8, sorted(gpu)
    for rule in train + extract + ["series_extract_series_tiny_neox"]:  # the checkpoint-series job too
        assert gpu[rule] == {1}, (rule, gpu[rule])
    cpu_only = [r for r in gpu if r.startswith(("topology_persistence_", "topology_summarise", "topology_bootstrap",
                                                "plot_", "analysis_", "data_corpus", "report"))]
    assert len(cpu_only) >= 8
    for rule in cpu_only:
        assert gpu[rule] == {0}, (rule, gpu[rule])


def test_default_profile_has_no_gpu_resource(tmp_path):
    jobs = dry_run_resources(["--cores", "2", "--configfile", "configs/smoke.yaml", "--config",
                              f"results={tmp_path}"])
    assert all("gpu" not in r for res in jobs.values() for r in res)


def test_gpu_profile_runs_training_and_extraction_on_a_cpu_machine(tmp_path):
    """On a machine without CUDA the GPU profile still runs (device auto -> cpu), one GPU job at a time."""
    from toposcale.config import load_config
    from toposcale.plan.study import run_map

    runs = run_map(load_config(ROOT / "configs" / "smoke.yaml"))
    run = min(runs.values(), key=lambda r: r.n_nonembed)
    target = tmp_path / "clouds" / run.name
    proc = run_snakemake(["--workflow-profile", GPU_PROFILE, "--cores", "2", "--configfile",
                          "configs/smoke.yaml", "--config", f"results={tmp_path}", "--", str(target / "step0000000.npz")],
                         timeout=600)
    assert (target / "step0000000.npz").stat().st_size > 0, proc.stdout[-2000:]
    info = json.loads((tmp_path / "runs" / run.name / "run.json").read_text())
    import torch

    assert info["device"] == ("cuda" if torch.cuda.is_available() else "cpu"), info.get("device")
