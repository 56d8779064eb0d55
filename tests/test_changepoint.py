"""Change-point detection: exact PELT, planted transitions recovered, null series not flagged."""

import numpy as np
import pytest

from toposcale.analysis.changepoint import (_LinearCost, detect_change_points, diminishing_returns_index, pelt,
                                   robust_sigma)

N = 26
X = np.linspace(0.0, 8.3, N)          # ~ log step of 25 log-spaced checkpoints up to ~4000 steps
IDX = np.arange(N)


def _brute_force(y, x, penalty, min_size):
    """Optimal partitioning by exhaustive dynamic programming over every admissible start."""
    n = len(y)
    cost = _LinearCost(y, x)
    f = np.full(n + 1, np.inf)
    f[0] = -penalty
    arg = np.zeros(n + 1, dtype=int)
    for j in range(min_size, n + 1):
        for i in range(0, j - min_size + 1):
            if 0 < i < min_size:
                continue
            v = f[i] + float(cost(i, j)) + penalty
            if v < f[j]:
                f[j], arg[j] = v, i
    cps, j = [], n
    while j > 0:
        if arg[j] > 0:
            cps.append(int(arg[j]))
        j = arg[j]
    return sorted(cps)


def test_pelt_is_exact_and_matches_ruptures():
    ruptures = pytest.importorskip("ruptures")
    rng = np.random.default_rng(0)
    for _ in range(60):
        n = int(rng.integers(6, 50))
        min_size = int(rng.integers(3, 6))
        y = np.cumsum(rng.normal(size=n))
        x = np.sort(rng.uniform(0, 5, n))
        pen = float(rng.uniform(0.1, 10))
        got = pelt(y, x, penalty=pen, min_size=min_size)
        assert got == _brute_force(y, x, pen, min_size)
        signal = np.column_stack([y, np.ones(n), x])      # ruptures "linear": y on (1, x)
        ref = ruptures.Pelt(model="linear", min_size=min_size, jump=1).fit(signal).predict(pen=pen)
        assert got == ref[:-1]


def test_linear_cost_matches_lstsq():
    rng = np.random.default_rng(1)
    y, x = rng.normal(size=20), np.sort(rng.uniform(0, 3, 20))
    cost = _LinearCost(y, x)
    for i, j in [(0, 20), (3, 9), (10, 13)]:
        design = np.column_stack([np.ones(j - i), x[i:j]])
        resid = y[i:j] - design @ np.linalg.lstsq(design, y[i:j], rcond=None)[0]
        assert float(cost(i, j)) == pytest.approx(float(resid @ resid), rel=1e-9, abs=1e-12)


def test_planted_ramp_found_within_one_point():
    """Plateau, a 6-point linear drop of 1.8 (18 noise sd), plateau: both ends recovered."""
    hits = 0
    for s in range(10):
        rng = np.random.default_rng(100 + s)
        y = 0.03 * rng.normal(size=N) - 0.3 * np.clip(IDX - 10, 0, 6)
        out = detect_change_points(y, X, n_permutations=99, seed=s)
        cand = out["candidates"]
        assert len(cand) == 2 and abs(cand[0] - 10) <= 1 and abs(cand[1] - 16) <= 1, cand
        cps = out["change_points"]
        assert all(min(abs(c - 10), abs(c - 16)) <= 1 for c in cps), cps
        hits += bool(cps) and out["p_value"] < 0.05
    assert hits >= 8


def test_planted_onset_in_low_noise_found():
    """Flat, then a steady decline from index 13: one change point at 13 +- 1."""
    found = []
    for s in range(10):
        rng = np.random.default_rng(200 + s)
        y = 0.03 * rng.normal(size=N) - 0.3 * np.maximum(0, IDX - 13)
        found.append(detect_change_points(y, X, n_permutations=99, seed=s)["change_points"])
    assert sum(len(c) == 1 and abs(c[0] - 13) <= 1 for c in found) >= 8, found


def _false_positive_count(make, n_series=50):
    count = 0
    for s in range(n_series):
        y = make(np.random.default_rng(1000 + s))
        count += bool(detect_change_points(y, X, n_permutations=49, seed=s)["change_points"])
    return count


# With a nominal rate of 0.05, P(X >= 8) for X ~ Binomial(50, 0.05) is 0.003.
@pytest.mark.parametrize("name,make", [
    ("random walk", lambda rng: np.cumsum(rng.normal(size=N))),
    ("white noise", lambda rng: rng.normal(size=N)),
    ("power law + white noise", lambda rng: 3 + 2 * np.exp(-0.5 * X) + 0.05 * rng.normal(size=N)),
    ("power law + random walk", lambda rng: 3 + 2 * np.exp(-0.3 * X) + 0.02 * np.cumsum(rng.normal(size=N))),
])
def test_null_series_false_positive_rate_near_nominal(name, make):
    assert _false_positive_count(make) <= 7, name


def test_deterministic_given_seed_and_changes_with_seed():
    rng = np.random.default_rng(3)
    y = np.cumsum(rng.normal(size=N)) - 0.5 * np.maximum(0, IDX - 12)
    a = detect_change_points(y, X, n_permutations=49, seed=7)
    b = detect_change_points(y, X, n_permutations=49, seed=7)
    assert a == b
    assert set(a) >= {"change_points", "p_value", "statistic", "method"}
    assert 1 / 50 <= a["p_value"] <= 1


def test_degenerate_series():
    line = detect_change_points(2.0 * X + 1.0, X, n_permutations=19)
    assert line["change_points"] == [] and line["p_value"] == 1.0
    short = detect_change_points([1.0, 2.0, 0.5, 3.0, 1.0], n_permutations=19)
    assert short["change_points"] == [] and np.isnan(short["p_value"])


def test_input_validation():
    with pytest.raises(ValueError, match="NaN"):
        detect_change_points([1.0, np.nan, 2.0, 3.0, 4.0, 5.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        detect_change_points(np.arange(8.0), x=[0, 1, 2, 2, 3, 4, 5, 6])
    with pytest.raises(ValueError, match="min_size"):
        detect_change_points(np.arange(8.0), min_size=2)


def test_robust_sigma_of_white_noise():
    rng = np.random.default_rng(4)
    y = 0.5 * rng.normal(size=4000)
    y[2000:] += 10.0                      # one jump barely moves the MAD of the increments
    assert robust_sigma(y) == pytest.approx(0.5, rel=0.05)


def test_diminishing_returns_on_known_rates():
    x = np.exp(np.arange(7.0))            # log-step spacing 1, so rates are |diff(y)|
    rates = np.array([10.0, 5.0, 0.5, 2.0, 0.1, 0.05])
    y = np.concatenate([[0.0], np.cumsum(-rates)])
    # threshold 1.0: intervals 0, 1 and 3 are at or above it; from interval 4 on all are below
    assert diminishing_returns_index(y, x, frac=0.1, window=2) == 4
    assert diminishing_returns_index(y, x, frac=0.001, window=2) is None  # the last interval is high


def test_diminishing_returns_of_power_law():
    """L = t^-1 has rate t^-1 per log step, so it falls below 10% of its early peak near t ~ 10;
    the 5-point window keeps noise of 1% of the range from postponing that point to the end."""
    t = np.unique(np.round(np.geomspace(1, 10_000, 40)))
    i = diminishing_returns_index(1.0 / t, t, frac=0.1)
    assert 6 <= t[i] <= 30
    rng = np.random.default_rng(0)
    found = [diminishing_returns_index(1.0 / t + 0.01 * rng.normal(size=len(t)), t) for _ in range(20)]
    assert all(f is not None and t[f] <= 100 for f in found)
    assert diminishing_returns_index(1.0 / t + 0.01 * rng.normal(size=len(t)), t, window=2) is None
    with pytest.raises(ValueError, match="positive"):
        diminishing_returns_index([1.0, 0.5, 0.2], [0, 1, 2])
