"""The workflow on a real SLURM cluster: a private single-node cluster and profiles/slurm.

The session fixture starts the cluster with tools/slurm/start_cluster.sh (installing slurm and munge
through apt-get when they are missing) and stops it afterwards; a cluster that was already running is
reused and left running. The tests are skipped only where SLURM cannot be started at all (not root, so
nothing can be installed or slurmd cannot run); everywhere else a failure is a failure.

What is checked:
- the cluster itself: the node offers the CPUs asked for (:data:`NODE_CPUS`, twice the machine's), a batch
  job with a job step runs, MinJobAge keeps finished jobs visible to squeue, and `sacct` (no accounting
  database) answers at once instead of hanging;
- a throwaway workflow through ``--workflow-profile profiles/slurm``: every job of the ``persistence`` group
  ran inside a SLURM job, ``--group-components`` turned 4 layer jobs into exactly 2 submissions, and a
  failing job fails the whole run within two minutes;
- the real smoke study (when configs/smoke.yaml dry-runs): per-layer persistence jobs of one checkpoint
  redone through SLURM as one group give the same diagrams as the local run (``TOPOSCALE_SLURM_SMOKE=full``:
  the whole study, with final losses and metrics tables compared too).

Every subprocess has a hard timeout and every test a pytest-timeout mark. Per-job costs are printed
(``pytest -s``) and attached to the test report as properties.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

ROOT = Path(__file__).resolve().parents[1]
START = ROOT / "tools" / "slurm" / "start_cluster.sh"
STOP = ROOT / "tools" / "slurm" / "stop_cluster.sh"
PROFILE = ROOT / "profiles" / "slurm"
STATE_DIR = Path(os.environ.get("TOPOSCALE_SLURM_DIR", "/tmp/toposcale-slurm"))
BIN = Path(sys.executable).parent

# Settings layered over profiles/slurm for a 2-core test node: one CPU per group job (two groups run side
# by side), a first status check after 1 s instead of 40 s, short latency wait, no account (there is no
# accounting), SLURM logs of successful jobs kept so the tests can read them.
TEST_OVERRIDES = [
    "--cores", "1",
    "--jobs", "4",
    "--slurm-init-seconds-before-status-checks", "1",
    "--seconds-between-status-checks", "1",
    "--latency-wait", "5",
    "--slurm-no-account",
    "--slurm-keep-successful-logs",
    "--default-resources", "mem_mb=200", "runtime=10",
]

TINY_SNAKEFILE = r'''
# Throwaway workflow for tests/test_slurm.py: N independent "layer" jobs in the group "persistence"
# (like the real per-layer rule) and a local summary. Layer FAIL exits with status 3.
N = int(config["n_layers"])
FAIL = str(config.get("fail_layer", "none"))

localrules: all, summary

rule all:
    input: "summary.txt"

rule layer:
    output: "layers/{i}.txt"
    group: "persistence"
    threads: 1
    resources: mem_mb=100, runtime=5
    params: fail=FAIL
    shell:
        'if [ "{wildcards.i}" = "{params.fail}" ]; then echo "planted failure in layer {wildcards.i}" >&2; exit 3; fi; '
        'echo "${{SLURM_JOB_ID:-none}} $(hostname -s)" > {output}'

rule summary:
    input: expand("layers/{i}.txt", i=range(N))
    output: "summary.txt"
    shell: "cat {input} > {output}"
'''

# CPUs the test node offers: twice the machine's, so that the smoke study's short jobs (mostly Python and
# Snakemake start-up) do not queue behind a long group job on a 2-core machine (full smoke study on SLURM:
# 396 s with 2, 263 s with 4, 268 s with 8 on the 2-core CI machine type). TOPOSCALE_SLURM_CPUS overrides.
NODE_CPUS = int(os.environ.get("TOPOSCALE_SLURM_CPUS") or 2 * (os.cpu_count() or 1))

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL",
            "DEADLINE", "PREEMPTED"}


# ----------------------------------------------------------------------------------------- helpers


def run_bounded(cmd, timeout, env=None, cwd=None):
    """Run ``cmd`` in its own process group; kill the whole group after ``timeout`` seconds.

    Returns ``(returncode, combined stdout+stderr, elapsed seconds)``. A timeout raises AssertionError with
    the tail of the output, after SIGTERM (then SIGKILL) to the group, so nothing outlives the test.
    """
    t0 = time.monotonic()
    proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                out, _ = proc.communicate(timeout=10)
                break
            except subprocess.TimeoutExpired:
                out = ""
        raise AssertionError(f"{' '.join(map(str, cmd))} did not finish within {timeout} s; output tail:\n"
                             f"{(out or '')[-4000:]}")
    return proc.returncode, out, time.monotonic() - t0


def slurm_env(conf):
    """os.environ plus SLURM_CONF of the test cluster and this interpreter's bin folder first on PATH."""
    env = dict(os.environ)
    env["SLURM_CONF"] = str(conf)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def squeue_jobs(env, workdir=None):
    """Jobs slurmctld still knows (all states; finished ones stay MinJobAge = 300 s).

    Returns a list of dicts with id, state, workdir, submit, start, end (ISO strings), cpus and comment,
    restricted to jobs whose working directory is ``workdir`` when given.
    """
    rc, out, _ = run_bounded(["squeue", "--states=all", "-h", "-o", "%i|%T|%Z|%V|%S|%e|%C|%k"], 20, env=env)
    assert rc == 0, f"squeue failed: {out}"
    keys = ("id", "state", "workdir", "submit", "start", "end", "cpus", "comment")
    jobs = [dict(zip(keys, line.split("|"))) for line in out.splitlines() if line.count("|") == 7]
    if workdir is not None:
        jobs = [j for j in jobs if Path(j["workdir"]) == Path(workdir)]
    return jobs


def cancel_jobs_in(env, workdir):
    """scancel every unfinished job that runs in ``workdir`` (cleanup after a failed or killed run)."""
    ids = [j["id"] for j in squeue_jobs(env, workdir) if j["state"] not in TERMINAL]
    if ids:
        run_bounded(["scancel", *ids], 20, env=env)


def cluster_logs():
    """Last lines of the daemons' logs, for assertion messages."""
    parts = []
    for name in ("slurmctld.log", "slurmd.log"):
        p = STATE_DIR / "log" / name
        if p.exists():
            parts.append(f"--- {p} ---\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:]))
    return "\n".join(parts)


def seconds(iso):
    """Seconds since the epoch of a squeue timestamp such as 2026-01-31T12:00:05."""
    return time.mktime(time.strptime(iso, "%Y-%m-%dT%H:%M:%S"))


def run_tiny_workflow(cluster, workdir, n, group_components, fail=None, timeout=240):
    """Run the throwaway workflow in ``workdir`` through profiles/slurm; return (rc, output, elapsed).

    Config keys must have two or more characters (snakemake rejects ``--config n=6``).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "Snakefile").write_text(TINY_SNAKEFILE)
    config = [f"n_layers={n}"] + ([f"fail_layer={fail}"] if fail is not None else [])
    cmd = [sys.executable, "-m", "snakemake", "--workflow-profile", PROFILE, *TEST_OVERRIDES,
           "--group-components", f"persistence={group_components}", "--config", *config]
    try:
        return run_bounded(cmd, timeout, env=cluster["env"], cwd=workdir)
    finally:
        cancel_jobs_in(cluster["env"], workdir)


# ----------------------------------------------------------------------------------------- fixture


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node SLURM cluster: dict with env (for subprocesses), conf, started, setup_s."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the private SLURM test cluster needs Linux")
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        pytest.fail("snakemake-executor-plugin-slurm is not installed: pip install snakemake-executor-plugin-slurm "
                    "(or pip install -e '.[slurm]')")
    env = dict(os.environ, TOPOSCALE_SLURM_DIR=str(STATE_DIR), TOPOSCALE_SLURM_CPUS=str(NODE_CPUS))
    rc, out, elapsed = run_bounded(["bash", START], 900, env=env)
    if rc != 0:
        if os.geteuid() != 0:
            pytest.skip(f"cannot start a SLURM cluster without root here: {out.strip().splitlines()[-1]}")
        pytest.fail(f"tools/slurm/start_cluster.sh failed (exit {rc}):\n{out[-4000:]}")
    started = "already running" not in out
    conf = STATE_DIR / "etc" / "slurm.conf"
    print(f"\n[slurm] cluster {'started' if started else 'reused'} in {elapsed:.1f} s")
    try:
        yield {"env": slurm_env(conf), "conf": conf, "started": started, "setup_s": elapsed, "log": out}
    finally:
        if started:
            rc, out, _ = run_bounded(["bash", STOP], 120, env=env)
            assert rc == 0, f"tools/slurm/stop_cluster.sh failed (exit {rc}):\n{out}"


# ----------------------------------------------------------------------------------------- tests


@pytest.mark.timeout(120)
def test_cluster_runs_batch_jobs_and_never_hangs_on_sacct(slurm_cluster, tmp_path):
    env = slurm_cluster["env"]
    rc, out, _ = run_bounded(["sinfo", "-h", "-N", "-o", "%N|%T|%c|%m"], 20, env=env)
    assert rc == 0 and out.strip(), out
    node, state, cpus, mem = out.strip().splitlines()[0].split("|")
    assert state in {"idle", "mixed", "allocated"}, out
    assert int(mem) > 0
    if slurm_cluster["started"]:           # TOPOSCALE_SLURM_CPUS reached the node (a reused cluster keeps its own)
        assert int(cpus) == NODE_CPUS, f"the node offers {cpus} CPUs, TOPOSCALE_SLURM_CPUS asked {NODE_CPUS}"

    rc, out, _ = run_bounded(["scontrol", "show", "config"], 20, env=env)
    min_job_age = [line.split("=", 1)[1].split()[0] for line in out.splitlines() if line.startswith("MinJobAge")]
    assert min_job_age and int(min_job_age[0]) >= 300, "squeue status polling needs MinJobAge >= 300 s"

    # a batch job with one job step (the executor plugin's jobs call srun inside the allocation)
    rc, out, _ = run_bounded(["sbatch", "--parsable", "-o", tmp_path / "job.out", "-D", tmp_path, "--wrap",
                              "echo batch=$SLURM_JOB_ID; srun -n1 sh -c 'echo step=$SLURM_STEP_ID'"], 20, env=env)
    assert rc == 0, out
    job_id = out.strip().split(";")[0]
    deadline = time.monotonic() + 60
    state = None
    while time.monotonic() < deadline:
        states = {j["id"]: j["state"] for j in squeue_jobs(env)}
        state = states.get(job_id)
        if state in TERMINAL:
            break
        time.sleep(0.5)
    assert state == "COMPLETED", f"job {job_id} ended as {state}\n{cluster_logs()}"
    text = (tmp_path / "job.out").read_text()
    assert f"batch={job_id}" in text and "step=0" in text, text

    # no accounting database: sacct must fail fast rather than wait (the plugin never relies on it here)
    rc, out, elapsed = run_bounded(["sacct", "-X", "-n"], 20, env=env)
    assert elapsed < 10


@pytest.mark.timeout(300)
def test_grouped_layer_jobs_run_as_few_slurm_jobs(slurm_cluster, tmp_path, record_property):
    n, per_group = 4, 2
    rc, out, wall = run_tiny_workflow(slurm_cluster, tmp_path, n=n, group_components=per_group)
    assert rc == 0, f"snakemake failed (exit {rc}):\n{out[-5000:]}\n{cluster_logs()}"

    jobs = squeue_jobs(slurm_cluster["env"], tmp_path)
    ids = {j["id"] for j in jobs}
    assert len(jobs) == n // per_group, f"expected {n // per_group} submissions, squeue shows {jobs}"
    assert all(j["state"] == "COMPLETED" for j in jobs), jobs
    assert all(j["comment"].startswith("rule_persistence") for j in jobs), jobs

    # every layer ran inside one of those SLURM jobs, per_group layers per job
    ran_in = [(tmp_path / "layers" / f"{i}.txt").read_text().split()[0] for i in range(n)]
    assert set(ran_in) == ids, (ran_in, ids)
    assert sorted(ran_in.count(i) for i in ids) == [per_group] * (n // per_group)
    # the plugin's own records: one SLURM log per submission, named by job id
    logs = {p.stem for p in (tmp_path / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert logs == ids, (logs, ids)
    assert (tmp_path / "summary.txt").read_text().count("\n") == n

    queued = [seconds(j["start"]) - seconds(j["submit"]) for j in jobs]
    ran = [seconds(j["end"]) - seconds(j["start"]) for j in jobs]
    timing = {"wall_s": round(wall, 1), "slurm_jobs": len(jobs), "layer_jobs": n,
              "queue_s": queued, "run_s": ran, "run_s_per_layer_job": round(sum(ran) / n, 2),
              "wall_s_per_layer_job": round(wall / n, 2), "cluster_setup_s": round(slurm_cluster["setup_s"], 1)}
    record_property("slurm_timing", json.dumps(timing))
    print(f"\n[slurm] grouped run: {json.dumps(timing)}")


@pytest.mark.timeout(240)
def test_failing_job_fails_the_run_quickly(slurm_cluster, tmp_path):
    rc, out, wall = run_tiny_workflow(slurm_cluster, tmp_path, n=1, group_components=1, fail=0, timeout=180)
    assert rc != 0, f"a planted failure went unnoticed:\n{out[-4000:]}"
    # the plugin polls 1, 12, 33, 64 s after submission (+10 s per idle round) and, after reporting the
    # failure, sleeps out one more round before exiting: 40-110 s here, never the sacct hang
    assert wall < 150, f"failure took {wall:.0f} s to surface"
    assert not (tmp_path / "layers" / "0.txt").exists()
    assert "Error in rule layer" in out or "Error in group persistence" in out, out[-4000:]

    jobs = squeue_jobs(slurm_cluster["env"], tmp_path)
    assert [j["state"] for j in jobs] == ["FAILED"], jobs
    # the failed job's SLURM log is kept and holds the job's own error message
    log = tmp_path / ".snakemake" / "slurm_logs"
    texts = [p.read_text(errors="replace") for p in log.rglob(f"{jobs[0]['id']}.log")]
    assert texts and "planted failure in layer 0" in texts[0], texts
    print(f"\n[slurm] planted failure reported after {wall:.1f} s")


# ------------------------------------------------------------------ the real smoke study through SLURM

# Which parts of the smoke study run through SLURM (TOPOSCALE_SLURM_SMOKE):
#   "all" (default): both tests below;
#   "topology": only the grouped per-layer test: the corpus, checkpoints and point clouds of the first smoke
#              run are copied from the local run; the per-layer persistence jobs of its last checkpoint
#              (every source and layer) run on SLURM as one group, and their diagrams must equal the local
#              ones (about 1 min);
#   "full":    only the whole smoke study on SLURM (every stage, run granularity: one persistence job per
#              run), compared with the local run: every run's final_val_loss, diagrams and metrics table;
#   "off":     skip both.
# The local run is the workflow tests' smoke run (fixture smoke_results, a few minutes) unless
# TOPOSCALE_SMOKE_RESULTS names the results folder of an existing local smoke run.
SMOKE_MODE = os.environ.get("TOPOSCALE_SLURM_SMOKE", "all")
# Tolerance for the comparison: the persistence path is deterministic, and training is deterministic on CPU
# with fixed seeds and one thread, so the default asks for float64 agreement up to rounding.
SMOKE_RTOL = float(os.environ.get("TOPOSCALE_SLURM_SMOKE_RTOL", "1e-9"))
# Wall-clock measurements stored beside the results, which legitimately differ between runs.
TIMING_FIELDS = {"seconds", "homology_seconds", "elapsed_s"}


def _smoke_ready():
    """None when configs/smoke.yaml dry-runs with the slurm profile, else the reason why not."""
    if not (ROOT / "configs" / "smoke.yaml").exists():
        return "configs/smoke.yaml does not exist yet"
    rc, out, _ = run_bounded([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--configfile",
                              "configs/smoke.yaml", "--workflow-profile", PROFILE], 300,
                             env=slurm_env(STATE_DIR / "etc" / "slurm.conf"), cwd=ROOT)
    return None if rc == 0 else f"smoke workflow does not dry-run with profiles/slurm:\n{out[-2000:]}"


def _compare_npz(a, b):
    """Assert that two diagram files hold the same arrays (timing fields excepted)."""
    import numpy as np

    with np.load(a) as x, np.load(b) as y:
        assert sorted(x.files) == sorted(y.files), (a, x.files, y.files)
        for k in sorted(set(x.files) - TIMING_FIELDS):
            if x[k].dtype.kind in "fc":
                np.testing.assert_allclose(y[k], x[k], rtol=SMOKE_RTOL, atol=0, err_msg=f"{b}:{k}")
            else:
                np.testing.assert_array_equal(y[k], x[k], err_msg=f"{b}:{k}")


def _compare_runs(local, remote, runs):
    """Assert that ``remote`` has the same diagrams, metrics and final losses as ``local`` for ``runs``."""
    import pandas as pd

    for run in runs:
        diagrams = sorted((local / "diagrams" / run).rglob("*.npz"))
        assert diagrams, f"local smoke run has no diagrams for {run}"
        for d in diagrams:
            _compare_npz(d, remote / d.relative_to(local))
        a, b = (pd.read_parquet(r / "metrics" / f"{run}.parquet") for r in (local, remote))
        cols = [c for c in a.columns if c not in TIMING_FIELDS]
        pd.testing.assert_frame_equal(b[cols], a[cols], rtol=SMOKE_RTOL, check_exact=False)
        a, b = (json.loads((r / "runs" / run / "run.json").read_text())["final_val_loss"] for r in (local, remote))
        assert b == pytest.approx(a, rel=SMOKE_RTOL), (run, a, b)


def _local_smoke(request):
    """(results folder of the local smoke run, its run names); skips when the smoke study cannot dry-run."""
    assert SMOKE_MODE in {"all", "topology", "full", "off"}, \
        f"TOPOSCALE_SLURM_SMOKE must be all, topology, full or off, not {SMOKE_MODE}"
    reason = _smoke_ready()
    if reason:
        pytest.skip(reason)
    if os.environ.get("TOPOSCALE_SMOKE_RESULTS"):
        local = Path(os.environ["TOPOSCALE_SMOKE_RESULTS"]).resolve()
        assert (local / "runs").is_dir(), f"TOPOSCALE_SMOKE_RESULTS={local} holds no runs/ folder"
    else:
        local, _ = request.getfixturevalue("smoke_results")
    runs = sorted(p.parent.name for p in (local / "runs").glob("*/run.json"))
    assert runs, f"no runs in the local smoke results {local}"
    return local, runs


def _smoke_on_slurm(cluster, tmp_path, targets, granularity, timeout):
    """Run the smoke config through profiles/slurm into tmp_path/results; return (output, wall, SLURM logs).

    --config on the command line replaces the profile's config entry, so the granularity is given here;
    targets come first because --config takes every following word.
    """
    remote = tmp_path / "results"
    # --jobs 8 on a 2-CPU node keeps jobs pending in SLURM, so a CPU that frees up is used at once instead
    # of after the plugin's next status poll (1-30 s later)
    cmd = [sys.executable, "-m", "snakemake", *targets, "--workflow-profile", PROFILE, *TEST_OVERRIDES,
           "--cores", "2", "--jobs", "8", "--default-resources", "mem_mb=1000", "runtime=30",
           "--slurm-logdir", tmp_path / "slurm_logs", "--configfile", "configs/smoke.yaml",
           "--config", f"results={remote}", f"topology={{granularity: {granularity}}}"]
    env = slurm_env(cluster["conf"])
    try:
        rc, out, wall = run_bounded(cmd, timeout, env=env, cwd=ROOT)
    finally:
        cancel_jobs_in(env, ROOT)
    assert rc == 0, f"smoke study on SLURM failed (exit {rc}):\n{out[-6000:]}\n{cluster_logs()}"
    return out, wall, sorted((tmp_path / "slurm_logs").rglob("*.log"))


def _check_full_smoke(local, remote, runs, slurm_logs):
    """Assert that the smoke study in ``remote`` went through SLURM and equals the local one in ``local``."""
    import pandas as pd

    # every compute stage went through SLURM; figures and the report ran locally (localrule: True)
    submitted = {p.relative_to(slurm_logs).parts[0] for p in slurm_logs.rglob("*.log")}
    for prefix in ("rule_data_corpus", "rule_train_", "rule_topology_extract_", "rule_topology_persistence_",
                   "group_summarise", "group_bootstrap", "group_probes", "group_grokking",
                   "rule_analysis_scaling", "rule_analysis_dynamics"):
        assert any(name.startswith(prefix) for name in submitted), f"no {prefix}* job went through SLURM: {submitted}"
    # the profile batches summaries, bootstrap jobs, probes and grokking runs (group-components 20): one
    # submission each here, and no job of those rules went on its own
    n_logs = {name: len(list((slurm_logs / name).rglob("*.log"))) for name in submitted}
    batched = ("group_summarise", "group_bootstrap", "group_probes", "group_grokking")
    assert sorted(n for name, n in n_logs.items() if name.startswith(batched)) == [1, 1, 1, 1], n_logs
    assert not any(name.startswith(("rule_analysis_probes", "rule_grokking_train", "rule_grokking_measure"))
                   for name in submitted), submitted
    assert not any(name.startswith(("rule_plot_", "rule_report")) for name in submitted), submitted
    _compare_runs(local, remote, runs)
    # the analyses downstream are seeded, so their tables match too; every figure and the summary exist
    tables = sorted((local / "analysis").glob("*.csv"))
    assert tables, f"local smoke run has no analysis tables in {local / 'analysis'}"
    for t in tables:
        a, b = pd.read_csv(t), pd.read_csv(remote / "analysis" / t.name)
        cols = [c for c in a.columns if c not in TIMING_FIELDS]
        pd.testing.assert_frame_equal(b[cols], a[cols], rtol=SMOKE_RTOL, check_exact=False, obj=t.name)
    assert sorted(p.name for p in (remote / "figures").glob("*.png")) == \
        sorted(p.name for p in (local / "figures").glob("*.png"))
    assert (remote / "report" / "summary.md").stat().st_size > 0


@pytest.mark.workflow
@pytest.mark.timeout(900)
@pytest.mark.skipif(SMOKE_MODE in {"off", "full"}, reason=f"TOPOSCALE_SLURM_SMOKE={SMOKE_MODE}")
def test_smoke_layer_jobs_on_slurm_match_local_run(slurm_cluster, request, tmp_path, record_property):
    local, runs = _local_smoke(request)
    remote = tmp_path / "results"
    run = runs[0]
    last_step = sorted(p.name for p in (local / "diagrams" / run / "weights").glob("step*"))[-1]
    expected = sorted((local / "diagrams" / run).glob(f"*/{last_step}/*.npz"))
    assert len(expected) >= 2, f"local run {run} has too few diagrams at {last_step}: {expected}"
    # upstream outputs with their modification times, so that only the persistence jobs run
    for sub in ("data", f"runs/{run}", f"clouds/{run}"):
        shutil.copytree(local / sub, remote / sub, copy_function=shutil.copy2)
    targets = [str(remote / p.relative_to(local)) for p in expected]
    out, wall, logs = _smoke_on_slurm(slurm_cluster, tmp_path, targets, "layer", 600)
    assert [p.parent.name for p in logs] == ["group_persistence_topology_persistence_layer"], \
        f"expected one group submission and nothing else, got {logs}"
    for p in expected:
        _compare_npz(p, remote / p.relative_to(local))
    timing = {"wall_s": round(wall, 1), "layer_jobs": len(expected), "slurm_jobs": len(logs)}
    record_property("slurm_smoke_layers_timing", json.dumps(timing))
    print(f"\n[slurm] smoke layer jobs: {json.dumps(timing)}")


@pytest.mark.workflow
@pytest.mark.timeout(2400)
@pytest.mark.skipif(SMOKE_MODE in {"off", "topology"}, reason=f"TOPOSCALE_SLURM_SMOKE={SMOKE_MODE}")
def test_full_smoke_study_on_slurm_matches_local_run(slurm_cluster, request, tmp_path, record_property):
    local, runs = _local_smoke(request)
    remote = tmp_path / "results"
    out, wall, logs = _smoke_on_slurm(slurm_cluster, tmp_path, [], "run", 2000)
    _check_full_smoke(local, remote, runs, tmp_path / "slurm_logs")
    timing = {"wall_s": round(wall, 1), "slurm_jobs": len(logs), "runs": len(runs)}
    record_property("slurm_smoke_full_timing", json.dumps(timing))
    print(f"\n[slurm] full smoke study: {json.dumps(timing)}")
