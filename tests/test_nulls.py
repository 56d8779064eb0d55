"""Matched null clouds keep what they claim to keep and destroy planted structure."""

import numpy as np
import pytest

from toposcale.topology.homology import rips_persistence
from toposcale.topology.nulls import NULL_KINDS, gaussian_null, null_clouds, null_seed, permutation_null


def _circle(n=120, r=1.0, noise=0.02, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    return np.column_stack([r * np.cos(t), r * np.sin(t)]) + noise * rng.normal(size=(n, 2))


def test_gaussian_null_keeps_points_dimension_mean_and_spectrum():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 6)) @ np.diag([5, 3, 1, 0.5, 0.2, 0.05]) + 7.0
    for Y in null_clouds(X, "gaussian", 5, seed=1):
        assert Y.shape == X.shape
        np.testing.assert_allclose(Y.mean(0), X.mean(0), atol=1e-10)
        np.testing.assert_allclose(np.linalg.svd(Y - Y.mean(0), compute_uv=False),
                                   np.linalg.svd(X - X.mean(0), compute_uv=False), rtol=1e-10)
        np.testing.assert_allclose(np.cov(Y.T), np.cov(X.T), atol=1e-10)
        assert not np.allclose(Y, X)


def test_gaussian_null_of_fewer_points_than_dimensions_keeps_the_spectrum():
    X = np.random.default_rng(0).normal(size=(5, 12))
    Y = gaussian_null(X, np.random.default_rng(1))
    np.testing.assert_allclose(np.linalg.svd(Y - Y.mean(0), compute_uv=False),
                               np.linalg.svd(X - X.mean(0), compute_uv=False), atol=1e-10)


def test_permutation_null_keeps_entries_and_shape_but_not_rows():
    W = np.random.default_rng(2).standard_t(3, size=(40, 8))
    P = permutation_null(W, np.random.default_rng(0))
    assert P.shape == W.shape
    np.testing.assert_array_equal(np.sort(P.ravel()), np.sort(W.ravel()))
    assert not np.allclose(np.linalg.norm(P, axis=1), np.linalg.norm(W, axis=1))


def test_nulls_destroy_a_planted_loop():
    X = _circle()
    real = rips_persistence(X).h1
    loop = float(np.max(real[:, 1] - real[:, 0]))
    assert loop > 1.0  # a circle of radius 1 has one bar dying near sqrt(3)
    for kind in NULL_KINDS:
        for Y in null_clouds(X, kind, 3, seed=null_seed("circle", kind)):
            h1 = rips_persistence(Y).h1
            longest = float(np.max(h1[:, 1] - h1[:, 0])) if len(h1) else 0.0
            assert longest < 0.5 * loop


def test_nulls_destroy_planted_clusters():
    """Four tight clusters: three long H0 bars far above the rest; the covariance-matched null has no gap."""
    rng = np.random.default_rng(4)
    centres = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10]], float)
    X = np.repeat(centres, 50, axis=0) + 0.3 * rng.normal(size=(200, 3))

    def gap(Z):  # third-longest over fourth-longest finite H0 death
        deaths = np.sort(rips_persistence(Z, max_dim=0).h0[:-1, 1])[::-1]
        return deaths[2] / deaths[3]

    assert gap(X) > 10
    for Y in null_clouds(X, "gaussian", 5, seed=5):
        assert gap(Y) < 2


def test_null_draws_are_seeded_and_validated():
    X = np.random.default_rng(0).normal(size=(20, 3))
    a = null_clouds(X, "gaussian", 2, seed=9)
    b = null_clouds(X, "gaussian", 2, seed=9)
    np.testing.assert_array_equal(a[1], b[1])
    assert null_clouds(X, "permutation", 0, seed=1) == []
    with pytest.raises(ValueError, match="unknown"):
        null_clouds(X, "shuffle", 2, seed=1)


def test_copula_null_keeps_each_coordinates_values_exactly_and_the_covariance_closely():
    """Issue 22: the copula null keeps the points, each coordinate's sorted values exactly, and the covariance
    approximately (a correlated, heavy-tailed cloud: relative Frobenius error of the covariance < 0.15 per
    draw and < 0.05 averaged over 20 draws at n = 400, d = 5; the Spearman correlations within 0.1)."""
    rng = np.random.default_rng(7)
    A = np.array([[1.0, 0.6, 0.0, 0.0, 0.2], [0, 1.0, 0.5, 0, 0], [0, 0, 1.0, 0, 0], [0, 0, 0, 2.0, 0],
                  [0, 0, 0, 0, 0.5]])
    X = rng.standard_t(5, size=(400, 5)) @ A + [1.0, -2.0, 0.0, 3.0, 0.5]
    C = np.cov(X.T)
    draws = null_clouds(X, "copula", 20, seed=3)
    for Y in draws:
        assert Y.shape == X.shape
        np.testing.assert_array_equal(np.sort(Y, axis=0), np.sort(X, axis=0))
        assert np.linalg.norm(np.cov(Y.T) - C) / np.linalg.norm(C) < 0.15
        assert not np.array_equal(Y, X)
    mean_cov = np.mean([np.cov(Y.T) for Y in draws], axis=0)
    assert np.linalg.norm(mean_cov - C) / np.linalg.norm(C) < 0.05
    from scipy.stats import spearmanr
    np.testing.assert_allclose(spearmanr(draws[0]).statistic, spearmanr(X).statistic, atol=0.1)
    assert null_clouds(X, "copula", 2, seed=1)[1].tolist() == null_clouds(X, "copula", 2, seed=1)[1].tolist()


def test_copula_null_keeps_heavy_tails_the_gaussian_null_loses():
    """Per coordinate, the copula null's kurtosis is the cloud's (same values); the Gaussian null's is ~3."""
    X = np.random.default_rng(1).standard_t(3, size=(300, 4))

    def kurt(Z):
        Zc = Z - Z.mean(0)
        return (Zc ** 4).mean(0) / (Zc ** 2).mean(0) ** 2

    k = kurt(X)
    assert (k > 4.5).all()
    np.testing.assert_allclose(kurt(null_clouds(X, "copula", 1, seed=0)[0]), k)
    assert (kurt(null_clouds(X, "gaussian", 1, seed=0)[0]) < 4.5).all()


def test_null_label_requires_every_null_of_the_source():
    from toposcale.topology.nulls import REQUIRED_NULLS, null_label

    assert REQUIRED_NULLS == {"weights": ("gaussian", "permutation"), "activations": ("gaussian", "copula")}
    assert null_label("activations", {"gaussian": True, "copula": True}, False) == (
        "topology beyond geometry", "gaussian+copula")
    assert null_label("activations", {"gaussian": True, "copula": None}, True) == (
        "beyond the gaussian null only", "gaussian")
    assert null_label("weights", {"gaussian": False, "permutation": True}, True) == (
        "beyond the permutation null only", "permutation")
    assert null_label("weights", {"gaussian": True}, True)[0] == "beyond the gaussian null only"
    assert null_label("weights", {}, False) == ("not significant", "")
    with pytest.raises(ValueError, match="source"):
        null_label("probe", {"gaussian": True}, True)


def test_heavy_tailed_structureless_weights_are_not_topology_beyond_geometry_but_clusters_are():
    """Issue 22, point 4: a weight-like cloud of i.i.d. Student-t entries (df 3, 4d x d, d = 16) differs from
    its covariance-matched Gaussian null (|z| > 2 in h0_total_persistence_norm, K = 8), so the old rule (the
    Gaussian null alone) called it topology beyond geometry; its entry-permutation null explains it, and
    null_label says 'beyond the gaussian null only'. Four planted clusters beat both nulls."""
    from toposcale.stats import null_excess
    from toposcale.topology.metrics import diagram_metrics, diagram_scale
    from toposcale.topology.nulls import null_label

    def metric(X):
        dg = rips_persistence(X, max_dim=0)
        return diagram_metrics(dg.h0, dg.h1, scale=diagram_scale(dg.h0))["h0_total_persistence_norm"]

    def beats(X, seed):
        m = metric(X)
        return {kind: bool(abs(null_excess(m, [metric(Y) for Y in null_clouds(X, kind, 8, seed)])["null_z"]) > 2)
                for kind in ("gaussian", "permutation")}

    rng = np.random.default_rng(0)
    d = 16
    for i in range(4):
        heavy = beats(rng.standard_t(3, size=(4 * d, d)), i)
        assert heavy["gaussian"]                                           # the old verdict: beyond geometry
        assert null_label("weights", heavy, True)[0] != "topology beyond geometry"
        X = 0.3 * rng.normal(size=(4 * d, d)) + 3 * rng.choice([-1.0, 1.0], size=(4, d))[np.arange(4 * d) % 4]
        assert null_label("weights", beats(X, i), True) == ("topology beyond geometry", "gaussian+permutation")
