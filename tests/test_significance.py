"""Per-bar significance (Bobrowski and Skraba 2023): the formula by hand, calibration, conservativeness, power."""

import numpy as np
import pytest
from scipy import stats

from toposcale.topology.homology import rips_persistence
from toposcale.topology.significance import (
    A_CECH,
    EULER_GAMMA,
    bar_ell,
    bar_pvalues,
    lgumbel_sf,
    n_signal_bars,
)

E = np.e


def test_formula_on_a_hand_computed_diagram():
    # pi = d/b = e, e^e, e^(e^2): log log pi = 0, 1, 2 (mean 1); rows 3-5 are not usable bars
    h1 = [(1.0, E), (2.0, 2 * E**E), (0.5, 0.5 * E ** (E**2)), (0.0, 1.0), (1.0, 1.0), (1.0, np.inf)]
    ell = bar_ell(h1)
    np.testing.assert_allclose(ell[:3], np.array([-1.0, 0.0, 1.0]) - EULER_GAMMA, rtol=1e-12)
    assert np.isnan(ell[3:]).all()
    p = bar_pvalues(h1)
    np.testing.assert_allclose(p[:3], np.exp(-np.exp(np.array([-1.0, 0.0, 1.0]) - EULER_GAMMA)), rtol=1e-12)
    # Cech: A = 1/2 halves the spread, B still centres the mean at -gamma
    np.testing.assert_allclose(bar_ell(h1, A=A_CECH)[:3], np.array([-0.5, 0.0, 0.5]) - EULER_GAMMA, rtol=1e-12)
    # the mean of ell over the diagram is -gamma for any diagram
    rng = np.random.default_rng(0)
    b = rng.uniform(0.5, 1, 40)
    assert np.nanmean(bar_ell(np.column_stack([b, b * rng.uniform(1.01, 3, 40)]))) == pytest.approx(-EULER_GAMMA)


def test_lgumbel_tail_matches_scipy():
    x = np.linspace(-4, 2, 13)
    np.testing.assert_allclose(lgumbel_sf(x), stats.gumbel_l.sf(x), rtol=1e-12)


def test_scale_invariance_and_small_diagrams():
    rng = np.random.default_rng(1)
    b = rng.uniform(1, 2, 30)
    h1 = np.column_stack([b, b * rng.uniform(1.05, 2, 30)])
    np.testing.assert_allclose(bar_pvalues(7.5 * h1), bar_pvalues(h1), rtol=1e-10)
    # fewer than 2 usable bars: no normalisation, all NaN, no signal
    for small in (np.empty((0, 2)), [(1.0, 100.0)], [(1.0, 100.0), (0.0, 2.0), (3.0, 3.0)]):
        assert np.isnan(bar_pvalues(small)).all()
        assert n_signal_bars(small) == 0


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="die before"):
        bar_pvalues([(2.0, 1.0), (1.0, 2.0)])
    with pytest.raises(ValueError, match="NaN"):
        bar_pvalues([(1.0, np.nan)])
    with pytest.raises(ValueError, match="shape"):
        bar_pvalues([1.0, 2.0])
    with pytest.raises(ValueError, match="alpha"):
        n_signal_bars([(1.0, 2.0), (1.0, 3.0)], alpha=1.5)
    with pytest.raises(ValueError, match="A must"):
        bar_ell([(1.0, 2.0), (1.0, 3.0)], A=0.0)


def _pooled_pvalues(sampler, n_clouds, seed):
    rng = np.random.default_rng(seed)
    p, any_signal = [], 0
    for _ in range(n_clouds):
        h1 = rips_persistence(sampler(rng)).h1
        p.append(bar_pvalues(h1))
        any_signal += n_signal_bars(h1) > 0
    p = np.concatenate(p)
    return p[np.isfinite(p)], any_signal


def test_pvalues_near_uniform_on_the_papers_setting():
    # 2-d uniform samples (the paper's setting); benchmarks/bar_significance.py: KS 0.014, FPR 0.037 at 0.05
    p, any_signal = _pooled_pvalues(lambda r: r.uniform(size=(200, 2)), 20, seed=0)
    assert p.size > 600
    assert stats.kstest(p, "uniform").statistic < 0.05
    assert 0.02 <= (p < 0.05).mean() <= 0.07
    assert 0.45 <= (p < 0.5).mean() <= 0.55
    assert any_signal <= 1  # BH at 0.05 per diagram, 20 null diagrams


def test_pvalues_are_conservative_on_this_projects_clouds():
    # 50-d activation-like Gaussian clouds: the upper tail is thinner than LGumbel's (benchmark: FPR 0.010)
    p, any_signal = _pooled_pvalues(lambda r: r.standard_normal((128, 50)) / np.sqrt(np.arange(1, 51)), 20, seed=0)
    assert p.size > 1500
    assert (p < 0.05).mean() < 0.025
    assert any_signal == 0


def test_a_planted_circle_is_significant():
    rng = np.random.default_rng(3)
    theta = rng.uniform(0, 2 * np.pi, 128)
    frame, _ = np.linalg.qr(rng.standard_normal((50, 2)))
    X = np.column_stack([np.cos(theta), np.sin(theta)]) @ frame.T + 0.05 * rng.standard_normal((128, 50))
    h1 = rips_persistence(X).h1
    p = bar_pvalues(h1)
    assert n_signal_bars(h1) == 1
    top = int(np.nanargmin(p))
    assert h1[top, 1] / h1[top, 0] == pytest.approx(np.max(h1[:, 1] / h1[:, 0]))
    assert p[top] < 1e-6
    # the same loop without its circle (noise only) is not significant
    assert n_signal_bars(rips_persistence(0.05 * rng.standard_normal((128, 50))).h1) == 0
