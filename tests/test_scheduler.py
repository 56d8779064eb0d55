"""The scheduler workaround (toposcale.plan.scheduler): long re-evaluation timespan, timers cancelled at exit."""
import threading
import time

import yaml

from conftest import ROOT, run_snakemake
from toposcale.plan.scheduler import cancel_reevaluation_timers


def _snakemake_callback():
    pass


_snakemake_callback.__module__ = "snakemake.scheduling.job_scheduler"


def test_cancels_snakemake_timers_and_leaves_others():
    ours = threading.Timer(120, _snakemake_callback)
    theirs = threading.Timer(120, lambda: None)
    ours.start()
    theirs.start()
    try:
        assert cancel_reevaluation_timers() == 1
        ours.join(timeout=5)
        assert not ours.is_alive()
        assert theirs.is_alive()
    finally:
        theirs.cancel()


def test_local_profiles_make_reevaluation_rare_without_throttling():
    for name in ("default", "gpu"):
        settings = yaml.safe_load((ROOT / "profiles" / name / "config.yaml").read_text())
        count, span = settings["max-jobs-per-timespan"].split("/")
        assert span.endswith("s") and float(span[:-1]) >= 10, name
        assert int(count) / float(span[:-1]) >= 1000, f"{name}: a local run could be throttled"


SNAKEFILE = """
import sys
sys.path.insert(0, {workflow!r})
from toposcale.plan.scheduler import cancel_reevaluation_timers

rule all:
    input: expand("out/{{i}}.txt", i=range(4))

rule one:
    output: "out/{{i}}.txt"
    shell: "sleep 0.5; echo {{wildcards.i}} > {{output}}"

onsuccess:
    cancel_reevaluation_timers()
"""


def test_workflow_with_a_long_timespan_exits_when_done(tmp_path):
    # 4 jobs on 1 core: jobs wait, so the scheduler arms 120 s timers; without the onsuccess hook the
    # process would stay open until they fire (the subprocess timeout below would fail the test).
    (tmp_path / "Snakefile").write_text(SNAKEFILE.format(workflow=str(ROOT / "workflow")))
    start = time.monotonic()
    run_snakemake(["--cores", "1", "--max-jobs-per-timespan", "100000/120s", "--workflow-profile", "none"],
                  cwd=tmp_path, timeout=90)
    assert time.monotonic() - start < 60
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i}.txt" for i in range(4)]
