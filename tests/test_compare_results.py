"""tools/compare_results.py: a results folder equals itself; a changed number, column or line is reported."""

import importlib.util
import json
from pathlib import Path

import pandas as pd

_SPEC = importlib.util.spec_from_file_location(
    "compare_results", Path(__file__).resolve().parents[1] / "tools" / "compare_results.py")
C = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(C)


def _results(root, value=1.0, extra_col=False, summary="# summary\n"):
    (root / "analysis").mkdir(parents=True)
    (root / "metrics").mkdir()
    (root / "report").mkdir()
    df = pd.DataFrame({"run": ["a", "b"], "x": [value, 2.0], "homology_seconds": [0.1, 0.2]})
    if extra_col:
        df["y"] = 0
    df.to_csv(root / "analysis" / "t.csv", index=False)
    df.to_parquet(root / "metrics" / "a.parquet")
    (root / "analysis" / "s.json").write_text(json.dumps({"gamma": value, "seconds": 9.0, "names": ["a"]}))
    (root / "report" / "summary.md").write_text(summary)
    return root


def test_identical_and_within_tolerance(tmp_path):
    a = _results(tmp_path / "a")
    b = _results(tmp_path / "b", value=1.0 + 1e-12)
    assert C.compare_results(a, b) == (4, [])


def test_changes_are_reported(tmp_path):
    a = _results(tmp_path / "a")
    b = _results(tmp_path / "b", value=1.001, extra_col=True, summary="# other\n")
    n, diffs = C.compare_results(a, b)
    text = "\n".join(diffs)
    assert n == 4 and "analysis/t.csv: columns differ ['y']" in text and "analysis/t.csv.x" in text
    assert "analysis/s.json.gamma: 1.0 vs 1.001" in text and "report/summary.md: text differs" in text
    assert "seconds" not in text  # wall-clock columns are skipped


def test_provenance_is_not_compared(tmp_path):
    """A refactor changes the git revision by definition: sidecars and summary.md's Provenance section differ."""
    tail = "\n## Provenance\n\n- git revision: `{}`\n"
    a = _results(tmp_path / "a", summary="# summary\n" + tail.format("a" * 40))
    b = _results(tmp_path / "b", summary="# summary\n" + tail.format("b" * 40))
    for root, rev in ((a, "a" * 40), (b, "b" * 40)):
        (root / "analysis" / "t.csv.provenance.json").write_text(json.dumps({"git_revision": rev}))
    assert C.compare_results(a, b) == (4, [])
    c = _results(tmp_path / "c", summary="# summary changed\n" + tail.format("a" * 40))
    assert "report/summary.md: text differs" in "\n".join(C.compare_results(a, c)[1])
