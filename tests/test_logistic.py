"""Logistic transition fits: planted parameters recovered, nulls preferred when they are true."""

import math

import numpy as np
import pytest

from toposcale.analysis.logistic import (aicc, analyse_logistic, bootstrap_logistic, compare_models, fit_linear,
                                fit_logistic, fit_offset_power_law, logistic, logistic_support)

X = np.linspace(2.0, 5.0, 40)  # log10 step from 100 to 100 000


def _noisy(y, sd, seed):
    return y + np.random.default_rng(seed).normal(0, sd, y.size)


def test_logistic_function_values():
    assert logistic(3.0, 0.1, 0.9, 5.0, 3.0) == pytest.approx(0.5)
    assert logistic(100.0, 0.1, 0.9, 5.0, 3.0) == pytest.approx(0.9)
    assert logistic(-100.0, 0.1, 0.9, 5.0, 3.0) == pytest.approx(0.1)
    # 12 % -> 88 % of the range over 4 / beta units of x
    lo, hi = logistic(np.array([3.0 - 2 / 5.0, 3.0 + 2 / 5.0]), 0.0, 1.0, 5.0, 3.0)
    assert lo == pytest.approx(0.1192, abs=1e-4) and hi == pytest.approx(0.8808, abs=1e-4)


def test_planted_logistic_recovered_with_ci_and_support():
    y = _noisy(logistic(X, 0.05, 0.9, 4.0, 3.5), 0.02, 0)
    res = analyse_logistic(X, y, n_bootstrap=100, seed=1)
    assert res["converged"] and res["logistic_supported"], res["support_reason"]
    assert res["beta"] == pytest.approx(4.0, rel=0.1)
    assert res["x0"] == pytest.approx(3.5, abs=0.03)
    assert res["beta_ci_low"] <= 4.0 <= res["beta_ci_high"]
    assert res["x0_ci_low"] <= 3.5 <= res["x0_ci_high"]
    assert res["best_model"] == "logistic" and res["delta_aicc"] > 10


def test_falling_series_gives_hi_below_lo():
    y = _noisy(logistic(X, 4.0, 1.0, 3.0, 3.2), 0.03, 2)
    fit = fit_logistic(X, y)
    assert fit.converged and fit.beta > 0
    assert fit.hi < fit.lo
    assert fit.lo == pytest.approx(4.0, abs=0.1) and fit.hi == pytest.approx(1.0, abs=0.1)


def test_bootstrap_interval_coverage_near_nominal():
    covered = 0
    n_rep = 12
    for seed in range(n_rep):
        y = _noisy(logistic(X, 0.05, 0.9, 4.0, 3.5), 0.03, 100 + seed)
        fit = fit_logistic(X, y)
        ci = bootstrap_logistic(X, y, fit, n_bootstrap=40, seed=seed, ci=0.9)
        covered += ci["beta_ci_low"] <= 4.0 <= ci["beta_ci_high"]
    assert covered >= 8  # nominal 90 %: 10.8 of 12 expected; P(<= 7) < 3 %


def test_linear_truth_prefers_linear_null():
    y = _noisy(0.2 + 0.1 * X, 0.02, 3)
    res = analyse_logistic(X, y, n_bootstrap=10)
    assert not res["logistic_supported"]
    assert res["best_model"] == "linear"


def test_power_law_truth_prefers_power_law_null():
    steps = 10 ** X
    y = _noisy(0.3 + 5.0 * steps ** -0.3, 0.01, 4)
    comp = compare_models(X, y)
    assert comp["best_model"] == "power_law"
    assert comp["delta_aicc"] < 2


def test_power_law_fit_recovers_exponent():
    steps = 10 ** X
    y = 0.3 + 5.0 * steps ** -0.3
    f = fit_offset_power_law(X, y)
    c, a, b = f.params
    assert c == pytest.approx(0.3, abs=1e-3)
    assert b / math.log(10) == pytest.approx(-0.3, abs=1e-3)  # exponent in raw steps
    lin = fit_linear(X, 1.0 + 2.0 * X)
    assert lin.params == pytest.approx((1.0, 2.0)) and lin.rss == pytest.approx(0.0, abs=1e-18)


def test_unresolved_jump_is_not_supported():
    y = np.where(X < 3.51, 0.1, 0.9) + _noisy(np.zeros_like(X), 0.005, 5)
    fit = fit_logistic(X, y)
    ok, reason = logistic_support(X, fit, compare_models(X, y, fit))
    assert fit.beta_at_bound or fit.beta > 100
    assert not ok and "upper bound" in reason


def test_midpoint_outside_range_not_supported():
    y = _noisy(logistic(X, 0.05, 0.9, 3.0, 6.5), 0.01, 6)  # only the foot of the curve is observed
    res = analyse_logistic(X, y, n_bootstrap=10)
    assert not res["logistic_supported"]


def test_too_few_points_reason_and_nan_fit():
    res = analyse_logistic([1, 2, 3, 4, 5, 6], [0.1, 0.1, 0.2, 0.8, 0.9, 0.9], n_bootstrap=10)
    assert not res["logistic_supported"] and "too few points" in res["support_reason"]
    assert not fit_logistic([1, 2, 3, 4], [0.1, 0.2, 0.8, 0.9]).converged  # 4 points: interpolation
    assert not fit_logistic(X, np.ones_like(X)).converged  # constant series


def test_non_finite_pairs_are_ignored():
    y = logistic(X, 0.05, 0.9, 4.0, 3.5)
    x_bad, y_bad = X.copy(), y.copy()
    x_bad[3], y_bad[7] = np.nan, np.inf
    fit = fit_logistic(x_bad, y_bad)
    assert fit.n == X.size - 2 and fit.beta == pytest.approx(4.0, rel=1e-3)


def test_aicc_formula():
    # k = 2 mean parameters + variance = 3; n = 10
    expected = 10 * math.log(2.0 / 10) + 2 * 3 + 2 * 3 * 4 / (10 - 3 - 1)
    assert aicc(2.0, 10, 2) == pytest.approx(expected)
    assert aicc(2.0, 5, 4) == math.inf  # n <= k + 1


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="same length"):
        fit_logistic([1, 2, 3], [1, 2])
    fit = fit_logistic(X, logistic(X, 0, 1, 4, 3.5))
    with pytest.raises(ValueError, match="n_bootstrap"):
        bootstrap_logistic(X, logistic(X, 0, 1, 4, 3.5), fit, n_bootstrap=0)
    with pytest.raises(ValueError, match="ci"):
        bootstrap_logistic(X, logistic(X, 0, 1, 4, 3.5), fit, ci=1.5)
