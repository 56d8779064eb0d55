"""Coverage of the two intervals of toposcale.topology.subsampling.subsample_interval, simulated.

Known answers: the maximum of n uniform(0, 1) points has the law of U**(1/n) (U uniform), its support
end is 1; the mean of n standard normal points has mean 0. Seeded loops, a few seconds in all.
"""

import numpy as np
import pytest

from toposcale.topology.subsampling import subsample_indices, subsample_interval


def _coverage(draw, statistic, n, m, trials, seed, targets, n_resamples=200):
    """Fraction of ``trials`` data sets whose interval (each method) contains each target.

    ``targets(rng)`` gives a dict of target values for one trial (fresh draws or fixed parameters).
    Returns ``{method: {target: coverage}}``.
    """
    rng = np.random.default_rng(seed)
    hits = {"rescaled": {}, "percentile": {}}
    for t in range(trials):
        x = draw(rng, n)
        reps = statistic(x[subsample_indices(n, m, n_resamples, seed=seed * 1000 + t)])
        goal = targets(rng)
        for method in hits:
            lo, hi = subsample_interval(statistic(x[None, :])[0], reps, n, m, method=method)
            for name, value in goal.items():
                hits[method][name] = hits[method].get(name, 0) + int(lo <= value <= hi)
    return {meth: {k: v / trials for k, v in h.items()} for meth, h in hits.items()}


def _uniform(rng, n):
    return rng.uniform(size=n)


def _row_max(a):
    return a.max(axis=1)


def test_maximum_of_uniforms_rescaled_interval_undercovers_at_the_pipeline_fraction():
    # m / n = 0.8 as topology.bootstrap.fraction: most subsamples keep the largest point, so the median
    # and upper quantile of the subsample maxima equal the sample maximum and neither interval reaches
    # above it: the support end 1 is never covered, and the rescaled interval, meant for the n-point
    # statistic, contains a fresh n-point maximum far less often than 95%
    n, m = 100, 80
    cov = _coverage(_uniform, _row_max, n, m, trials=150, seed=1,
                    targets=lambda rng: {"end": 1.0, "fresh_n": rng.uniform() ** (1 / n)})
    assert cov["rescaled"]["end"] == 0.0 and cov["percentile"]["end"] == 0.0
    assert cov["rescaled"]["fresh_n"] < 0.6
    # the percentile interval is the spread at m points among shared points: narrower still
    assert cov["percentile"]["fresh_n"] < 0.6


def test_maximum_of_uniforms_percentile_interval_covers_a_fresh_m_point_maximum_for_small_m_over_n():
    # documented behaviour: for m / n -> 0 the percentile interval estimates the central 95% of the
    # statistic's sampling distribution at size m (no rate needed); the rescaled one does not
    n, m = 1000, 20
    cov = _coverage(_uniform, _row_max, n, m, trials=150, seed=2,
                    targets=lambda rng: {"fresh_m": rng.uniform() ** (1 / m)})
    assert 0.86 <= cov["percentile"]["fresh_m"] <= 1.0
    assert cov["rescaled"]["fresh_m"] < 0.6


def test_mean_of_normals_rescaled_interval_is_the_one_for_a_smooth_statistic():
    n, m = 100, 80
    cov = _coverage(lambda rng, k: rng.normal(size=k), lambda a: a.mean(axis=1), n, m, trials=150, seed=3,
                    targets=lambda rng: {"mean": 0.0})
    assert 0.88 <= cov["rescaled"]["mean"] <= 1.0
    # half as wide (sqrt(1/m - 1/n) against 1/sqrt(n)): about 68% nominal
    assert cov["percentile"]["mean"] < 0.85


def test_percentile_method_is_the_plain_percentile_interval_clipped_to_the_support():
    humps = np.r_[np.full(15, 3.0), np.full(5, 1.0)]
    assert subsample_interval(3.0, humps, 500, 400, method="percentile") == pytest.approx((1.0, 3.0))
    reps = np.arange(101.0)
    assert subsample_interval(7.0, reps, 10, 5, method="percentile") == pytest.approx((2.5, 97.5))
    assert subsample_interval(7.0, reps, 10, 5, support=(5.0, 90.0), method="percentile") == pytest.approx((5.0, 90.0))
    assert all(np.isnan(subsample_interval(np.nan, reps, 10, 5, method="percentile")))
    assert all(np.isnan(subsample_interval(1.0, [1.0, np.nan], 10, 5, method="percentile")))
    with pytest.raises(ValueError, match="method must be one of"):
        subsample_interval(1.0, reps, 10, 5, method="jackknife")
    with pytest.raises(TypeError):
        subsample_interval(1.0, reps, 10, 5)  # the method is the caller's explicit choice
