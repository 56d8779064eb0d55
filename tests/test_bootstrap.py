"""Subsampling without replacement and percentile intervals of diagram metrics."""

import numpy as np
import pytest

from toposcale.stats import percentile_ci
from toposcale.topology.distances import CloudError
from toposcale.topology.homology import rips_persistence
from toposcale.topology.subsampling import bootstrap_cloud, subsample_indices
from toposcale.topology.metrics import BASELINE_COLUMNS, METRIC_COLUMNS, diagram_metrics


def noisy_circle(n, seed):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 2 * np.pi, n)
    return np.column_stack([np.cos(theta), np.sin(theta)]) * (1 + 0.05 * rng.standard_normal(n))[:, None]


def test_subsample_indices_are_distinct_and_reproducible():
    idx = subsample_indices(50, 40, 25, seed=3)
    assert idx.shape == (25, 40) and idx.dtype == np.int64
    assert all(len(np.unique(row)) == 40 for row in idx)
    assert idx.min() >= 0 and idx.max() < 50
    np.testing.assert_array_equal(idx, subsample_indices(50, 40, 25, seed=3))
    assert not np.array_equal(idx, subsample_indices(50, 40, 25, seed=4))
    assert len({tuple(row) for row in idx}) > 20  # resamples differ from each other
    np.testing.assert_array_equal(subsample_indices(5, 5, 2, seed=0), [[0, 1, 2, 3, 4]] * 2)
    with pytest.raises(ValueError, match="1 <= m <= n"):
        subsample_indices(5, 6, 1, seed=0)


def test_bootstrap_rows_have_every_column():
    X = np.random.default_rng(0).standard_normal((30, 3))
    rows = bootstrap_cloud(X, n_resamples=4, fraction=0.5, seed=1)
    assert [r["resample"] for r in rows] == [0, 1, 2, 3]
    expected = {"resample", "n_points", "scale", *METRIC_COLUMNS, *BASELINE_COLUMNS}
    assert all(set(r) == expected and r["n_points"] == 15 for r in rows)
    assert all(r["h0_n_bars"] == 14 for r in rows)  # m - 1 finite H0 bars, no duplicates


def test_circle_ci_contains_full_value_and_separates_from_null():
    X = noisy_circle(200, seed=0)
    d = rips_persistence(X)
    full = diagram_metrics(d.h0, d.h1)["h1_max_lifetime"]
    rows = bootstrap_cloud(X, n_resamples=40, fraction=0.8, seed=1)
    lo, hi = percentile_ci([r["h1_max_lifetime"] for r in rows])
    assert lo <= full <= hi
    assert lo > 0.8 * full  # the loop survives in every resample
    # null: a Gaussian blob has no long-lived loop relative to its scale
    circle_lo, _ = percentile_ci([r["h1_max_lifetime_norm"] for r in rows])
    blob = np.random.default_rng(2).standard_normal((200, 2))
    _, blob_hi = percentile_ci([r["h1_max_lifetime_norm"] for r in bootstrap_cloud(blob, 20, 0.8, seed=1)])
    assert blob_hi < 1.0 < 5.0 < circle_lo


def test_bootstrap_rejects_too_small_resamples():
    with pytest.raises(CloudError, match="leaves 2 point"):
        bootstrap_cloud(np.random.default_rng(0).standard_normal((10, 2)), fraction=0.2)
    with pytest.raises(ValueError, match="fraction"):
        bootstrap_cloud(np.ones((10, 2)), fraction=1.5)
