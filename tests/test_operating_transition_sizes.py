"""Operating characteristics of 'Do transitions move with model size?' (the both-clock size-trend verdict of
:func:`toposcale.analysis.transitions.size_trends`) at the default design, and its line in summary.md."""
import numpy as np
import pandas as pd
import pytest

from toposcale.analysis.transitions import size_trends
from toposcale.operating import Characteristic, Design
from toposcale.operating import transition_sizes as TSZ
from toposcale.plan.decidability import load_study_config
from toposcale.plan.study import run_checkpoint_steps, study_runs
from toposcale.report import transitions_section as TS

N_SIM = 40        # 80 series per scenario (2 activations): MCSE of a rate p is sqrt(p (1 - p) / 80) <= 0.056


@pytest.fixture(scope="module")
def design():
    return Design.from_config(load_study_config(["config.yaml"]))


@pytest.fixture(scope="module")
def rows(design):
    return TSZ.check(design, N_SIM, 0)


def test_design_carries_each_runs_own_checkpoints(design):
    cfg = load_study_config(["config.yaml"])
    runs = [r for r in study_runs(cfg) if r.activation == design.activations[0]]
    sched = dict(TSZ.run_schedules(design))
    assert sorted(sched) == sorted(set(design.sizes) | set(design.holdout_sizes))
    for r in runs:
        want = [s for s in run_checkpoint_steps(r.total_steps, cfg["training"]) if s > 0]
        assert list(sched[r.n_nonembed]) == want and sched[r.n_nonembed][-1] == r.total_steps
    totals = [sched[n][-1] for n in sorted(sched)]
    assert np.all(np.diff(totals) > 0)                     # total steps grow with size
    bare = Design(("gelu",), (100, 400), (), 2, (0.25, 1.0), 4, 199, 999)     # built by hand: steps ~ N
    assert [(n, list(st)) for n, st in TSZ.run_schedules(bare)] == [(100, [25.0, 100.0]), (400, [100.0, 400.0])]
    from toposcale.operating import checks
    assert checks()["transition_sizes"] is TSZ.check
    with pytest.raises(ValueError, match="checkpoint_steps"):
        TSZ.run_schedules(Design(**{**design.__dict__, "extra": {"checkpoint_steps": {1: (1, 2)}}}))


def test_rows_power_and_fpr_at_the_default_design(design, rows):
    """At 40 simulated studies (80 series): power on the planted both-clock trend >= 0.9 - 3 MCSE; FPR on the
    no-trend and clock controls <= 0.05 + 3 x 0.025 (the MCSE of 0.05 at 80 series)."""
    assert [r.control.split(" ")[0] for r in rows] == ["no", "clock:"]
    for r in rows:
        assert isinstance(r, Characteristic) and r.verdict == TSZ.VERDICT == TS.SIZE_TREND_VERDICT
        assert r.family == "transition_sizes" and r.n_sim == N_SIM and "0.078" in r.planted
        assert r.power >= 0.9 - 3 * r.power_mcse and r.decidable
        assert r.fpr <= 0.05 + 3 * 0.025
    assert rows[0].power == rows[1].power                   # one planted simulation, one row per control


def test_clock_control_is_a_real_hazard_the_verdict_resists(design):
    """The clock control (fixed step, fraction falling with size) passes the training-fraction clock alone in
    most series (so a one-clock verdict would call it a size trend); size_trends calls it clock-dependent
    (a trend only where the step clock passes by chance too: at most 4 of 40 series, expected ~0.5).
    A fraction trend of the observed size (the study's own: fraction N^-0.78, step growing) is no
    both-clock trend either."""
    sched = TSZ.run_schedules(design)
    n = np.array([s for s, _ in sched], dtype=float)
    rng = np.random.default_rng(3)
    shape = (len(design.activations), len(sched), design.seeds)
    frac_sig, verdicts = 0, []
    for _ in range(20):
        ls = np.log(TSZ.STEP_MEDIAN) + TSZ.SD * rng.standard_normal(shape)
        out = size_trends(TSZ.simulated_table(design, ls, sched))
        out = out[out["quantity"] == "transition_frac"]
        frac_sig += int(((out["q"] < 0.05) & (out["rho"] < 0)).sum())
        verdicts += list(out["verdict"])
    assert frac_sig >= 36                                   # >= 90% of 40 series pass the fraction clock
    assert sum(v in TSZ.TREND_VERDICTS for v in verdicts) <= 4   # FPR ~0.01-0.02: the step clock by chance
    assert sum(v.startswith("depends on the clock") for v in verdicts) >= 32
    ln_total = np.log([steps[-1] for _, steps in sched])
    observed = np.log(0.078) - 0.78 * np.log(n / TSZ.N_D32) + ln_total
    out = size_trends(TSZ.simulated_table(design, np.broadcast_to(observed[None, :, None], shape), sched))
    v = out.loc[out["quantity"] == "transition_frac", "verdict"]
    assert v.str.startswith("depends on the clock").all()


def test_check_is_cheap_and_seeded(design):
    import time

    t0 = time.perf_counter()
    a = TSZ.check(design, 10, 5)
    assert time.perf_counter() - t0 < 10                   # 200 studies take ~6 s on one core
    assert [r.row() for r in a] == [r.row() for r in TSZ.check(design, 10, 5)]


def test_section_prints_the_power_beside_the_size_trend_paragraph(design, rows):
    sched = TSZ.run_schedules(design)
    shape = (len(design.activations), len(sched), design.seeds)
    df = TSZ.simulated_table(design, np.full(shape, np.log(20.0)), sched).assign(significant=True)
    sizes = size_trends(df)
    oc = pd.DataFrame([r.row() for r in rows])
    text = "\n".join(TS.transitions_lines(df, {"transition_sizes": sizes, "operating": oc}))
    para = text.split("Do transitions move with model size?")[1]
    line = next(x for x in para.splitlines() if x.startswith("Operating characteristics of 'transition timing"))
    assert f"power {rows[0].power:.2f} ± {rows[0].power_mcse:.2f}" in line
    assert f"FPR {rows[1].fpr:.2f} ± {rows[1].fpr_mcse:.2f} (clock: fixed step 21" in line
    without = "\n".join(TS.transitions_lines(df, {"transition_sizes": sizes}))
    assert "Operating characteristics of 'transition timing" not in without
