"""Scoring the change-point test against the stage crossings (known answers)."""
import numpy as np
import pandas as pd

from toposcale.analysis.stage_recall import crossing_detection, nearest_index, recall_table

STEPS = [0, 1, 2, 4, 8, 16, 32, 64, 100, 150, 200, 250, 300]


def _crossings(rows):
    return pd.DataFrame([{"run": r, "crossing": "unigram->bigram", "step_cross": s, "complete": c,
                          "n_checkpoints_in_drop": 3} for r, s, c in rows])


def _cps(rows):
    return pd.DataFrame([{"run": r, "source": src, "layer": "-", "metric": "val_loss", "variant": "raw", "step": s,
                          "significant": sig} for r, s, sig, src in rows])


def test_detected_within_one_checkpoint_and_offset_sign():
    cr = _crossings([("a", 150, True), ("b", 150, True), ("c", 150, True), ("d", 250, False)])
    cps = _cps([("a", 150, True, "loss"), ("b", 250, True, "loss"), ("c", 200, True, "loss"),
                ("c", 150, False, "loss"), ("a", 64, True, "weights")])
    det = crossing_detection(cr, cps, {r: STEPS for r in "abcd"})
    det = det.set_index("run")
    assert list(det.index) == ["a", "b", "c"]                   # d is incomplete: not scored
    assert det.loc["a", "offset"] == 0 and det.loc["a", "detected"]
    assert det.loc["b", "offset"] == 2 and not det.loc["b", "detected"]     # two checkpoints late
    assert det.loc["c", "offset"] == 1 and det.loc["c", "detected"]        # the non-significant one does not count
    rec = recall_table(det.reset_index())
    assert rec.loc[0, "n_complete"] == 3 and rec.loc[0, "n_detected"] == 2
    assert np.isclose(rec.loc[0, "recall"], 2 / 3) and not rec.loc[0, "meets_target"]
    # at the test's own level (before BH) c's change point at its crossing counts too; b's stays 2 late
    assert det["detected_at_level"].tolist() == [True, False, True] and rec.loc[0, "n_detected_at_level"] == 2
    cps.loc[cps["run"] == "b", "significant"] = False
    cps.loc[len(cps)] = ["b", "loss", "-", "val_loss", "raw", 150, False]
    rec = recall_table(crossing_detection(cr, cps, {r: STEPS for r in "abcd"}))
    assert rec.loc[0, "n_detected"] == 2 and rec.loc[0, "n_detected_at_level"] == 3
    assert np.isclose(rec.loc[0, "recall_at_level"], 1.0) and not rec.loc[0, "meets_target"]


def test_no_change_point_is_a_miss_and_nearest_index():
    det = crossing_detection(_crossings([("a", 100, True)]), _cps([]).reindex(
        columns=["run", "source", "layer", "metric", "variant", "step", "significant"]), {"a": STEPS})
    assert not det.loc[0, "detected"] and np.isnan(det.loc[0, "offset"])
    assert nearest_index([1, 2, 4], 0) == 0 and nearest_index([1, 2, 4], 99) == 2


def test_summary_section_reports_levels_checkpoints_and_recall(tmp_path):
    from toposcale.analysis.stage_recall import crossing_detection, recall_table
    from toposcale.report import build_summary

    cr = _crossings([("a", 150, True), ("b", 150, True), ("c", 250, False)])
    cr["level_from"], cr["level_to"], cr["frac_cross"] = 3.02, 2.26, [0.5, 0.5, 0.8]
    cps = _cps([("a", 150, True, "loss"), ("b", 150, True, "loss")])
    rec = recall_table(crossing_detection(cr, cps, {r: STEPS for r in "abc"}))
    cr.to_csv(tmp_path / "stage_crossings.csv", index=False)
    rec.to_csv(tmp_path / "stage_recall.csv", index=False)
    text = build_summary({"stages": str(tmp_path / "stage_crossings.csv"),
                          "stage_recall": str(tmp_path / "stage_recall.csv")})
    assert "## The n-gram staircase of the loss" in text
    assert "| unigram->bigram | 3.020 -> 2.260 | 3 / 2 | 0.50 (0.50-0.50) | 3 | 2 of 2 (100%; target 90%: met) |" in text
    cps = _cps([("a", 150, True, "loss"), ("b", 150, False, "loss")])          # b's series fails BH
    recall_table(crossing_detection(cr, cps, {r: STEPS for r in "abc"})).to_csv(tmp_path / "stage_recall.csv",
                                                                                 index=False)
    text = build_summary({"stages": str(tmp_path / "stage_crossings.csv"),
                          "stage_recall": str(tmp_path / "stage_recall.csv")})
    assert ("| 1 of 2 (50%; target 90%: NOT met; 2 at the test's own level, before Benjamini-Hochberg) |"
            in text), text
