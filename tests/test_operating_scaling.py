"""Operating characteristics of the scaling-law verdicts (toposcale.operating.scaling: holdout, activation
comparison, stage gate) at the default config's design, reduced Monte Carlo size (N simulated studies per
world) with bounds stated for that size; and the coverage of the scaling section: every verdict it can print
has a row, printed beside it."""
import numpy as np
import pandas as pd
import pytest

from toposcale.analysis.scaling.grid import analyse_grid
from toposcale.analysis.scaling.holdout import MISSED, PREDICTED, VERDICTS as HOLDOUT_VERDICTS
from toposcale.operating import Characteristic, Design, checks
from toposcale.operating import scaling as S
from toposcale.plan.decidability import CANNOT_DECIDE, load_study_config
from toposcale.report.sections import SCALING_OC, scaling_lines

N = 8


@pytest.fixture(scope="module")
def design():
    return Design.from_config(load_study_config(["config.yaml"]))


@pytest.fixture(scope="module")
def rows(design):
    return checks()["scaling"](design, N, 3)


def _se(p, n=N):
    return np.sqrt(p * (1 - p) / n)


def test_planted_values_come_from_the_observed_table():
    # the seed-to-seed spread of the README's 12 fitted seed pairs (median-based)
    assert 0.003 < S.seed_sd() < 0.007
    # GELU's law at the largest fitted size and the holdout: 2.00 and 1.90 nats (README observed 1.98, 1.68)
    law = S._law(*S.LAWS["gelu"])
    assert law(75824) == pytest.approx(2.00, abs=0.01) and law(98944) == pytest.approx(1.90, abs=0.01)


def test_scaling_rows_power_and_fpr(rows):
    by = {}
    for r in rows:
        by.setdefault(r.verdict, []).append(r)
    assert set(by) == set(S.VERDICTS) and {r.family for r in rows} == {"scaling"}
    assert all(r.n_sim == N for r in rows)
    hold = by[S.VERDICT_HOLDOUT]
    # law holds: power 0.90 at 40 studies (benchmark); bound at N = 8: 0.90 - 3 se = 0.58
    assert hold[0].power >= 0.9 - 3 * _se(0.9)
    # plateau (the naive prediction wins) and staircase (the gate refuses): 0 of 40; bound 0.05 + 3 se(8) = 0.28
    for r in hold:
        assert r.fpr <= 0.05 + 3 * _se(0.05), (r.control, r.fpr)
    stages = by[S.VERDICT_STAGES][0]
    # the quantised grid is always refused and the plateau never (deterministic at the observed noise)
    assert stages.power == 1.0 and stages.fpr == 0.0
    # comparison at the observed laws (alpha difference +0.064), jackknife-t intervals over sizes: power 0.53
    # (exponent shift) and 0.85 (differ) at 40 (benchmark); bounds at N = 8: P(0 of 8 | 0.53) = 0.002 and
    # 0.85 - 3 se = 0.47. FPR at identical laws: 0.025 and 0.075 at 40 (0.02 and 0.08 at 100; the percentile
    # size bootstrap gave 0.18 and 0.38); bound 0.05 + 3 se(0.05, 8) = 0.28 for both, i.e. at most 2 of 8
    shift, differ = by[S.VERDICT_SHIFT][0], by[S.VERDICT_DIFFER][0]
    assert shift.power > 0 and differ.power >= 0.85 - 3 * _se(0.85)
    assert shift.fpr <= 0.05 + 3 * _se(0.05) and differ.fpr <= 0.05 + 3 * _se(0.05)
    assert "alpha difference +0.064" in shift.planted and "no difference" in differ.control


def test_every_verdict_of_the_scaling_section_has_a_row_and_its_note():
    # what the section can print, and the row that measures it (None: a count of the design, no test)
    emitted = {PREDICTED: S.VERDICT_HOLDOUT, MISSED: S.VERDICT_HOLDOUT,
               "exponent shift": S.VERDICT_SHIFT, "offset only": S.VERDICT_DIFFER,
               "not distinguishable": S.VERDICT_DIFFER,
               "cannot decide: runs end on different stages": S.VERDICT_STAGES,
               "cannot decide: runs end inside a drop": S.VERDICT_STAGES,
               "cannot decide: need": None}
    assert set(HOLDOUT_VERDICTS) == {PREDICTED, MISSED, CANNOT_DECIDE}
    assert {v for v in emitted.values() if v} == set(S.VERDICTS) == set(SCALING_OC.values())
    d = Design(("gelu", "swiglu"), (6304, 14064, 24896, 38800, 55776, 75824), (98944,), 2, (1.0,), 4, 199, 999)
    rng = np.random.default_rng(0)
    runs = S._runs(d, {a: S._law(*S.LAWS[a]) for a in d.activations}, rng, S.seed_sd())
    plateau = S._runs(d, {a: (lambda N: S.PLATEAU) for a in d.activations}, rng, S.seed_sd())
    oc = pd.DataFrame([Characteristic(v, "scaling", "d", f"planted {i}", 0.9, 0.02, "control", 0.03, 0.01, 40).row()
                       for i, v in enumerate(S.VERDICTS)])
    texts = {}
    for name, grid in (("law", runs), ("plateau", plateau)):
        res = analyse_grid(grid, n_bootstrap=10, grid=S.SIM_STARTS,
                           stages=S._stage_table(grid, S.stage_settings(d)))
        text = texts[name] = "\n".join(scaling_lines(res, {"operating": oc}))
        assert "power not measured" not in text
        for i, v in enumerate(S.VERDICTS):
            assert f"'{v}'" in text and f"(planted {i})" in text, (name, v)
        # without the rows the section says so beside each verdict
        bare = "\n".join(scaling_lines(res, {"operating": oc.iloc[:0]}))
        assert bare.count("power not measured") == 4
    # the law spans the staircase: its fits are refused; the plateau passes the gate, misses on the naive prediction
    assert "cannot decide: runs end on different stages (" in texts["law"]
    assert "| misses its holdout: " in texts["plateau"]
