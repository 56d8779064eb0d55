"""Known answers for the n-gram stage table (toposcale.analysis.stages)."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from toposcale.analysis.stages import (CROSSING_COLUMNS, STAGE_COLUMNS, coverage_warnings, run_crossings, run_stages,
                                       smooth_loss, stage_of, stages_from_files)

LEVELS = [3.0, 2.2, 1.7]
LEVEL_DICTS = [{"order": k + 1, "name": n, "nats": v} for k, (n, v) in enumerate(zip(["unigram", "bigram", "trigram"],
                                                                                      LEVELS))]
CFG = {"margin": 0.05, "drop_fraction": 0.1, "smoothing_window": 5}


def staircase(t):
    """Initial fall from 5.5 to the unigram level 3.0, then logistic drops to 2.2 (centre 400) and 1.7
    (centre 800), each of scale 20 steps: the 10%/50%/90% points of the drops are 400 -+ 20 ln 9 (356.1,
    443.9) and 800 -+ 20 ln 9 (756.1, 843.9)."""
    t = np.asarray(t, dtype=float)
    s = lambda c: 1 / (1 + np.exp(-(t - c) / 20))  # noqa: E731
    return 3.0 + 2.5 * np.exp(-t / 20) - 0.8 * s(400) - 0.5 * s(800)


def dense(t, loss):
    return pd.DataFrame({"step": t, "tokens": np.asarray(t) * 10, "train_loss": loss, "val_loss": loss, "lr": 1e-3})


def info(total, ck):
    return {"activation": "gelu", "n_nonembed": 1000, "seed": 0, "total_steps": total, "checkpoint_steps": ck}


def test_staircase_gives_known_crossings_and_checkpoint_counts():
    t = np.arange(0, 1001, 5)
    ck = [0, 1, 10, 100, 350, 380, 400, 420, 450, 770, 800, 1000]
    rows = run_crossings(t, staircase(t), LEVELS, 0.1, ck)
    assert [r["crossing"] for r in rows] == ["unigram->bigram", "bigram->trigram"]
    a, b = rows
    # at the centres 400 and 800 the other terms (initial decay, the other drop's tail) keep the loss a
    # hair (~1e-9) above the midpoint, so the first grid step below it is the next one
    assert (a["step_start"], a["step_cross"], a["step_end"]) == (360, 405, 445)
    assert (b["step_start"], b["step_cross"], b["step_end"]) == (760, 805, 845)
    assert a["complete"] and b["complete"]
    assert a["n_checkpoints_in_drop"] == 3 and b["n_checkpoints_in_drop"] == 2
    assert (a["level_from"], a["level_to"]) == (3.0, 2.2)


def test_stage_of_each_step_and_in_drop():
    t = np.arange(0, 1001, 5)
    st, cr = run_stages("r", dense(t, staircase(t)), info(1000, [0, 500, 1000]), LEVEL_DICTS, CFG)
    assert list(st.columns) == STAGE_COLUMNS and list(cr.columns) == CROSSING_COLUMNS
    stage = dict(zip(st["step"], st["stage"]))
    assert stage[0] == 0 and stage[300] == 1 and stage[600] == 2 and stage[1000] == 3
    # the stage is 2 exactly from where the loss reaches level_2 + margin = 2.25 (logistic: t = 400 + 20 ln 15)
    first2 = st.loc[st["stage"] >= 2, "step"].min()
    assert first2 == 5 * math.ceil((400 + 20 * math.log(15)) / 5)
    in_drop = dict(zip(st["step"], st["in_drop"]))
    assert in_drop[360] and in_drop[445] and not in_drop[355] and not in_drop[450] and not in_drop[600]
    assert cr["frac_cross"].tolist() == [0.405, 0.805]
    assert (cr["margin"] == 0.05).all() and cr["complete"].all()


def test_curve_that_stops_in_a_drop_is_incomplete():
    t = np.arange(0, 821, 5)  # ends past the midpoint of the second drop but before its 90% point
    st, cr = run_stages("r", dense(t, staircase(t)), info(820, [0, 700, 780, 800, 820]), LEVEL_DICTS, CFG)
    last = cr.iloc[1]
    assert not last["complete"] and math.isnan(last["step_end"]) and last["step_cross"] == 805
    assert last["n_checkpoints_in_drop"] == 3  # 780, 800, 820: counted to the run's last step
    assert st.loc[st["step"] == 820, "in_drop"].item()


def test_curve_that_never_reaches_a_level():
    t = np.arange(0, 501, 5)
    plateau = 3.0 + 2.5 * np.exp(-t / 20)  # stays on the unigram plateau
    st, cr = run_stages("r", dense(t, plateau), info(500, [0, 500]), LEVEL_DICTS, CFG)
    assert cr.empty and list(cr.columns) == CROSSING_COLUMNS
    assert set(st["stage"]) == {0, 1} and not st["in_drop"].any()
    partial = plateau.copy()  # leaves the plateau at step 250 and ends at 2.5: past the midpoint 2.6 of
    partial[t > 250] = np.linspace(3.0, 2.5, int(np.sum(t > 250)))  # the first drop, short of its end 2.28
    _, cr2 = run_stages("r", dense(t, partial), info(500, [0, 500]), LEVEL_DICTS, CFG)
    assert len(cr2) == 1 and not cr2["complete"].item() and cr2["step_cross"].item() > 250


def test_smoothing_keeps_monotone_curves_and_ignores_spikes():
    t = np.arange(0, 1001, 5)
    clean = staircase(t)
    assert np.array_equal(smooth_loss(clean, 5), clean)  # monotone: the running median changes nothing
    spiky = clean.copy()
    spiky[t == 200] = 2.0  # one bad evaluation below the first midpoint
    raw = run_crossings(t, smooth_loss(spiky, 1), LEVELS, 0.1)
    smoothed = run_crossings(t, smooth_loss(spiky, 5), LEVELS, 0.1)
    assert raw[0]["step_cross"] == 200 and smoothed[0]["step_cross"] == 405


def test_smoothing_shift_is_within_its_documented_bound():
    """Noise of sd 0.03 (seeded): the smoothed crossing is never earlier than the first raw point below
    the threshold minus (w-1)/2 points, and stays within 2 points of the noiseless crossing here."""
    t = np.arange(0, 1001, 5)
    rng = np.random.default_rng(0)
    for _ in range(20):
        noisy = staircase(t) + rng.normal(0, 0.03, len(t))
        sm = run_crossings(t, smooth_loss(noisy, 5), LEVELS, 0.1)[0]["step_cross"]
        first_raw = t[np.flatnonzero(noisy <= 2.6)[0]]
        assert sm >= first_raw - 2 * 5
        assert abs(sm - 405) <= 2 * 5


def test_stage_never_goes_back():
    t = np.arange(0, 101, 5)
    loss = np.where(t < 50, 3.0, 2.2)
    loss[t >= 80] = 3.5  # the loss rises again (e.g. a spike that lasts)
    st, _ = run_stages("r", dense(t, loss), info(100, [0, 100]), LEVEL_DICTS, dict(CFG, smoothing_window=1))
    assert st["stage"].tolist() == [1] * 10 + [2] * 11


def test_stage_of_examples_and_warnings():
    assert stage_of(np.array([3.06, 3.05, 2.0]), LEVELS, 0.05).tolist() == [0, 1, 2]
    t = np.arange(0, 1001, 5)
    _, cr = run_stages("r", dense(t, staircase(t)), info(1000, [0, 500, 1000]), LEVEL_DICTS, CFG)
    lines = coverage_warnings(cr)
    assert len(lines) == 2 and "n_linear_checkpoints" in lines[0]


def test_from_files_pairs_logs_with_run_json(tmp_path):
    t = np.arange(0, 1001, 5)
    run = tmp_path / "runs" / "gelu-d16L2-s0"
    run.mkdir(parents=True)
    dense(t, staircase(t)).assign(val_loss=lambda d: np.where(d["step"] % 10 == 0, d["val_loss"], np.nan)).to_csv(
        run / "dense_log.csv", index=False)
    (run / "run.json").write_text(json.dumps(info(1000, [0, 400, 1000])))
    lv = tmp_path / "ngram_levels.json"
    lv.write_text(json.dumps({"levels": LEVEL_DICTS}))
    st, cr = stages_from_files([run / "dense_log.csv"], [run / "run.json"], lv, CFG)
    assert len(st) == 101 and (st["run"] == "gelu-d16L2-s0").all()  # NaN rows skipped
    assert cr["crossing"].tolist() == ["unigram->bigram", "bigram->trigram"]
    with pytest.raises(ValueError, match="run.json"):
        stages_from_files([run / "dense_log.csv"], [], lv, CFG)
