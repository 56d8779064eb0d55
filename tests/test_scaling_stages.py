"""Stage-aware scaling fits: a grid quantised by the n-gram staircase is refused."""
import pandas as pd

from toposcale.analysis.scaling.stages import final_stages, stage_gate


def _stages(rows):
    """rows: run -> list of (step, stage, in_drop)."""
    return pd.DataFrame([{"run": r, "step": s, "stage": k, "in_drop": d}
                         for r, pts in rows.items() for s, k, d in pts])


def test_runs_on_one_plateau_pass_and_the_gate_names_it():
    st = _stages({"a": [(10, 1, False), (20, 2, False)], "b": [(10, 1, True), (30, 2, False)]})
    g = stage_gate(final_stages(st), ["a", "b"])
    assert g["decidable"] and g["message"] == "every run ends on the bigram stage"


def test_planted_stage_quantisation_is_refused_with_the_stages_listed():
    # the default study at cf6576c: small runs above unigram, middle on the bigram plateau, largest mid-drop
    st = _stages({"d16": [(5, 0, False)], "d32": [(5, 1, False), (9, 2, False)], "d48": [(9, 2, False)],
                  "d64": [(9, 2, False), (12, 2, True)]})
    g = stage_gate(final_stages(st), ["d16", "d32", "d48", "d64"])
    assert not g["decidable"]
    assert g["message"].startswith("cannot decide: runs end on different stages (")
    assert "above unigram: d16" in g["message"] and "bigram: d32, d48" in g["message"]
    assert "in drop to trigram: d64" in g["message"]


def test_every_run_in_the_same_drop_is_still_refused_and_unknown_runs_too():
    st = _stages({"a": [(9, 2, True)], "b": [(9, 2, True)]})
    assert "inside a drop" in stage_gate(final_stages(st), ["a", "b"])["message"]
    g = stage_gate(final_stages(st), ["a", "zzz"])
    assert not g["decidable"] and "no stage for runs zzz" in g["message"]


def test_missing_columns_name_the_file_to_regenerate():
    import pytest

    with pytest.raises(ValueError, match="stages.csv"):
        final_stages(pd.DataFrame({"run": ["a"], "step": [1]}))
