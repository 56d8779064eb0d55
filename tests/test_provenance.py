"""Provenance (issue 24 item 5): every table and figure records the config hash, the toposcale version and
the git revision it was made from; summary.md shows them; a new commit reruns nothing."""
import json
import shutil
import subprocess
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from conftest import ROOT, run_snakemake
from toposcale import provenance as P
from toposcale.config import load_config
from toposcale.io import (read_provenance, sidecar_path, write_csv_atomic, write_json_atomic, write_parquet_atomic,
                          write_text_atomic)
from toposcale.report import build_summary
from toposcale.report.plots import style

SMOKE = ROOT / "configs" / "smoke.yaml"


@pytest.fixture
def config():
    """The validated smoke config; the process's provenance context is reset afterwards."""
    cfg = load_config(SMOKE)
    yield cfg
    P.use_config(None)


def _reversed(obj):
    """The same mapping with every dict's keys in reverse insertion order."""
    if isinstance(obj, dict):
        return {k: _reversed(obj[k]) for k in reversed(list(obj))}
    if isinstance(obj, list):
        return [_reversed(v) for v in obj]
    return obj


def _git(cwd, *args):
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True).stdout.strip()


def test_config_hash_ignores_key_order_and_follows_values(config):
    h = P.config_hash(config)
    assert len(h) == 64 and int(h, 16) >= 0
    shuffled = _reversed(config)
    assert list(shuffled) != list(config)   # the order really differs
    assert P.config_hash(shuffled) == h
    changed = json.loads(json.dumps(config))
    changed["training"]["lr"] = config["training"]["lr"] * 2
    assert P.config_hash(changed) != h
    other = load_config(ROOT / "config.yaml")
    assert P.config_hash(other) != h


def test_tables_record_the_config_hash_and_stay_readable(config, tmp_path):
    df = pd.DataFrame({"run": ["a", "b"], "x": [1.5, float("nan")], "n": [1, 2]})
    expected = {"config_sha256": P.config_hash(config), "toposcale_version": P.package_version(),
                "git_revision": P.git_revision()}
    assert P.use_config(config) == expected["config_sha256"]
    write_csv_atomic(df, tmp_path / "t.csv")
    write_parquet_atomic(df, tmp_path / "t.parquet")
    write_json_atomic({"gamma": 1.0}, tmp_path / "t.json", indent=1)
    write_text_atomic("# report\n", tmp_path / "r.md")
    for name in ("t.csv", "t.parquet", "t.json", "r.md"):
        assert read_provenance(tmp_path / name) == expected, name
    # the tables themselves are unchanged for their readers: no comment lines, no extra columns or keys
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv"), df)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), df)
    assert json.loads((tmp_path / "t.json").read_text()) == {"gamma": 1.0}
    assert (tmp_path / "t.csv").read_text().splitlines()[0] == "run,x,n"
    assert sidecar_path(tmp_path / "t.csv").name == "t.csv.provenance.json"
    assert not sidecar_path(tmp_path / "t.parquet").exists()   # parquet keeps it inside the file
    # an explicit record wins over the context
    write_csv_atomic(df, tmp_path / "u.csv", provenance={"config_sha256": "x", "toposcale_version": "0",
                                                          "git_revision": "unknown"})
    assert read_provenance(tmp_path / "u.csv")["config_sha256"] == "x"
    P.use_config(None)
    write_csv_atomic(df, tmp_path / "v.csv")
    assert read_provenance(tmp_path / "v.csv")["config_sha256"] is None
    assert read_provenance(tmp_path / "missing.csv") is None


def test_package_version_is_the_installed_metadata():
    from importlib import metadata

    from toposcale import __version__

    assert P.package_version() == metadata.version("toposcale") == __version__


def test_git_revision_head_dirty_and_unknown(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.txt").write_text("one\n")
    _git(repo, "add", "a.txt")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    head = _git(repo, "rev-parse", "HEAD")
    P.git_revision.cache_clear()
    assert P.git_revision(repo) == head and len(head) == 40
    (repo / "untracked.txt").write_text("not part of the revision\n")
    P.git_revision.cache_clear()
    assert P.git_revision(repo) == head
    (repo / "a.txt").write_text("two\n")
    P.git_revision.cache_clear()
    assert P.git_revision(repo) == head + "+dirty"
    plain = tmp_path / "plain"
    plain.mkdir()
    P.git_revision.cache_clear()
    assert P.git_revision(plain) == "unknown"
    inside = repo / "sub"                    # a folder inside a checkout is not a checkout of its own
    inside.mkdir()
    P.git_revision.cache_clear()
    assert P.git_revision(inside) == "unknown"
    P.git_revision.cache_clear()
    assert P.git_revision() == _git(ROOT, "rev-parse", "HEAD") + ("+dirty" if _git(
        ROOT, "status", "--porcelain", "--untracked-files=no") else "")   # this checkout
    P.git_revision.cache_clear()


def test_figure_png_carries_provenance(config, tmp_path):
    from PIL import Image

    P.use_config(config)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    style.save(fig, tmp_path / "f.png", dpi=40)
    rec = read_provenance(tmp_path / "f.png")
    assert rec == P.current() and rec["config_sha256"] == P.config_hash(config)
    with Image.open(tmp_path / "f.png") as img:     # any PNG reader sees it as a text chunk
        assert json.loads(img.text["toposcale.provenance"]) == rec
    assert not sidecar_path(tmp_path / "f.png").exists()
    fig, _ = plt.subplots()
    style.save(fig, tmp_path / "f.svg")              # other formats: a sidecar
    assert read_provenance(tmp_path / "f.svg") == rec


def test_summary_shows_its_provenance_and_names_tables_from_elsewhere(config, tmp_path):
    P.use_config(config)
    old = {"config_sha256": "0" * 64, "toposcale_version": "0.0.1", "git_revision": "f" * 40}
    dyn = pd.DataFrame({"run": ["a"], "metric": ["m"], "rho": [0.5]})
    write_csv_atomic(dyn, tmp_path / "dynamics.csv", provenance=old)
    write_csv_atomic(dyn, tmp_path / "transitions.csv")
    text = build_summary({"dynamics": tmp_path / "dynamics.csv", "transitions": tmp_path / "transitions.csv"})
    sec = text[text.index("## Provenance"):]
    own = P.current()
    assert f"- config SHA-256: `{own['config_sha256']}` (the validated config)" in sec
    assert f"- toposcale version: `{own['toposcale_version']}`" in sec
    assert f"- git revision: `{own['git_revision']}`" in sec
    assert "- `dynamics.csv`: config 000000000000, toposcale 0.0.1, git ffffffffffff" in sec
    assert "transitions.csv" not in sec                  # same provenance as the summary: not listed
    assert build_summary({"transitions": tmp_path / "transitions.csv"}).rstrip().endswith(
        "Every table read records the same provenance.")


def test_every_script_names_its_config_and_no_rule_params_hold_provenance():
    """Provenance is computed inside the jobs (use_config(snakemake.config) in every script), never passed
    as a rule parameter: Snakemake reruns a job whose params changed, so a revision there would make the
    whole DAG stale after each commit."""
    scripts = sorted((ROOT / "workflow" / "scripts").glob("*.py"))
    assert scripts
    missing = [s.name for s in scripts if "use_config(snakemake.config)" not in s.read_text()]
    assert not missing, f"scripts that do not call use_config(snakemake.config): {missing}"
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        text = smk.read_text()
        for word in ("provenance", "git_revision", "config_hash", "rev-parse"):
            assert word not in text, f"{smk.name} mentions {word!r}"


@pytest.mark.workflow
def test_new_commit_leaves_a_built_target_up_to_date(tmp_path):
    """A copy of the repository as its own git checkout: build a tiny target (the synthetic external log, a
    CSV with a provenance sidecar), make an empty commit, and `snakemake -n` has nothing to do."""
    repo = tmp_path / "repo"
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                           capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file() and not rel.startswith("tests/"):
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / rel)
    ident = ["-c", "user.name=t", "-c", "user.email=t@t"]
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, *ident, "commit", "-q", "-m", "copy")
    first = _git(repo, "rev-parse", "HEAD")
    results = tmp_path / "results"
    args = ["--cores", "1", "--configfile", "configs/smoke.yaml", "--config", f"results={results}"]
    target = str(results / "external" / "demo_beta_trajectory.csv")
    env = {"PYTHONPATH": str(repo / "workflow")}   # the jobs import the copy's package (and read its revision)
    run_snakemake([*args, "--", target], cwd=repo, timeout=300, env=env)
    rec = json.loads(Path(target + ".provenance.json").read_text())
    assert rec["git_revision"] == first
    assert len(rec["config_sha256"]) == 64   # the script named its config (use_config(snakemake.config))
    _git(repo, *ident, "commit", "-q", "--allow-empty", "-m", "empty")
    assert _git(repo, "rev-parse", "HEAD") != first
    proc = run_snakemake(["-n", *args, "--", target], cwd=repo, timeout=300, env=env)
    assert "Nothing to be done" in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]
