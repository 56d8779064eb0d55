"""Operating characteristics of the size verdicts and the forecasting comparison (issue 22), reduced Monte
Carlo size (40 simulated studies per rate) at the default config's design, with bounds stated for that size."""
import numpy as np
import pytest

from toposcale.operating import Design, checks
from toposcale.operating.forecast import VERDICT as FC_VERDICT
from toposcale.operating.size import VERDICT_BEYOND, VERDICT_TREND
from toposcale.plan.decidability import load_study_config

N = 40


@pytest.fixture(scope="module")
def design():
    return Design.from_config(load_study_config(["config.yaml"]))


def _se(p, n=N):
    return np.sqrt(p * (1 - p) / n)


def test_size_verdicts_find_the_observed_exponent_and_reject_the_controls(design):
    rows = checks()["size"](design, N, 1)
    beyond = [r for r in rows if r.verdict == VERDICT_BEYOND]
    assert len(beyond) == 2 and {r.family for r in rows} == {"size"}
    # planted gamma_adj -0.187 (observed): power 0.96 at 200 studies; bound 0.96 - 3 se(40) = 0.86
    assert beyond[0].power >= 0.96 - 3 * _se(0.96) and beyond[0].n_sim == N
    # controls: nominal 0.05 two-sided; bound 0.05 + 3 se(40) = 0.153
    for r in beyond:
        assert r.fpr <= 0.05 + 3 * _se(0.05), (r.control, r.fpr)
    assert "explained by its null" in beyond[1].control and "no size trend" in beyond[0].control
    trend = next(r for r in rows if r.verdict == VERDICT_TREND)
    # raw gamma 0.152: power 0.85 at 200 studies; bound 0.85 - 3 se(40) = 0.68
    assert trend.power >= 0.85 - 3 * _se(0.85) and trend.fpr <= 0.05 + 3 * _se(0.05)
    assert "-0.187" in beyond[0].planted


def test_forecast_comparison_power_and_fpr(design):
    (row,) = checks()["forecast"](design, N, 2)
    assert row.verdict == FC_VERDICT and row.family == "forecast" and row.n_sim == N
    # planted A - B = -0.041 nats: power 0.74 at 200 studies; bounds +- 3 se(40) = 0.21
    assert 0.74 - 3 * _se(0.74) <= row.power <= 0.74 + 3 * _se(0.74)
    # equally good: "better" is one side of a 95% interval, nominal 0.025; bound 0.025 + 3 se(40) = 0.099
    assert row.fpr <= 0.025 + 3 * _se(0.025)
    assert "0.041" in row.planted and "assumed" in row.note
