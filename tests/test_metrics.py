"""Diagram summaries, Betti curves, neural persistence and baselines against hand-computed answers."""

import math

import numpy as np
import pytest

from toposcale.topology.homology import rips_persistence
from toposcale.topology.metrics import (
    BASELINE_COLUMNS,
    METRIC_COLUMNS,
    bar_metrics,
    betti_curve,
    betti_curves,
    cloud_baselines,
    diagram_metrics,
    diagram_scale,
    neural_persistence,
)

INF = np.inf


def test_bar_metrics_by_hand():
    # lifetimes 1, 2, 3 count; the infinite and the zero-length bar do not
    bars = [(0, 1), (0.5, 2.5), (1, 4), (0, INF), (0.7, 0.7)]
    m = bar_metrics(bars, scale=4.0, noise_fraction=0.5)
    p = np.array([1, 2, 3]) / 6
    assert m["total_persistence"] == pytest.approx(6.0)
    assert m["total_persistence_norm"] == pytest.approx(1.5)
    assert m["max_lifetime"] == pytest.approx(3.0)
    assert m["max_lifetime_norm"] == pytest.approx(0.75)
    assert m["n_bars"] == 3
    assert m["n_significant"] == 1  # only lifetime 3 exceeds 0.5 * 4
    assert m["entropy"] == pytest.approx(-(p * np.log(p)).sum())
    assert m["entropy_norm"] == pytest.approx(-(p * np.log(p)).sum() / np.log(3))


@pytest.mark.parametrize("n", [2, 5, 40])
def test_entropy_of_equal_bars_is_log_n(n):
    m = bar_metrics([(1.0, 3.0)] * n, scale=1.0)
    assert m["entropy"] == pytest.approx(math.log(n))
    assert m["entropy_norm"] == pytest.approx(1.0)


def test_empty_and_zero_scale_give_zeros():
    empty = bar_metrics(np.empty((0, 2)), scale=0.0)
    assert all(v == 0 for v in empty.values())
    single = bar_metrics([(0, 2.0)], scale=0.0)
    assert single["total_persistence"] == 2.0 and single["total_persistence_norm"] == 0.0
    assert single["entropy"] == 0.0 and single["entropy_norm"] == 0.0


def test_bar_metrics_rejects_bad_input():
    with pytest.raises(ValueError, match="die before they are born"):
        bar_metrics([(2.0, 1.0)], scale=1.0)
    with pytest.raises(ValueError, match="NaN"):
        bar_metrics([(0.0, np.nan)], scale=1.0)
    with pytest.raises(ValueError, match="scale"):
        bar_metrics([(0.0, 1.0)], scale=-1.0)


def test_diagram_scale_ignores_infinite_bar():
    assert diagram_scale([(0, 1.5), (0, 0.2), (0, INF)]) == 1.5
    assert diagram_scale([(0, INF)]) == 0.0
    assert diagram_scale(np.empty((0, 2))) == 0.0


def test_diagram_metrics_columns_and_values():
    h0 = [(0, 1.0), (0, 2.0), (0, INF)]
    h1 = [(1.0, 1.5)]
    m = diagram_metrics(h0, h1, noise_fraction=0.1)
    assert tuple(m) == METRIC_COLUMNS and len(METRIC_COLUMNS) == 16
    assert m["h0_total_persistence"] == 3.0 and m["h0_total_persistence_norm"] == 1.5  # scale = 2
    assert m["h1_max_lifetime_norm"] == 0.25 and m["h1_n_bars"] == 1 and m["h1_n_significant"] == 1
    assert diagram_metrics(h0, h1, scale=1.0)["h1_max_lifetime_norm"] == 0.5


def test_scaling_a_cloud_scales_raw_but_not_normalised_metrics():
    X = np.random.default_rng(0).standard_normal((60, 4))
    a = rips_persistence(X)
    b = rips_persistence(10.0 * X)
    ma, mb = diagram_metrics(a.h0, a.h1), diagram_metrics(b.h0, b.h1)
    for key in METRIC_COLUMNS:
        if key.endswith(("total_persistence", "max_lifetime")):
            assert mb[key] == pytest.approx(10 * ma[key], rel=1e-6)
        else:
            assert mb[key] == pytest.approx(ma[key], rel=1e-6)


def test_zero_variance_cloud_has_defined_zero_metrics():
    d = rips_persistence(np.full((30, 8), -1.25))
    m = diagram_metrics(d.h0, d.h1)
    assert all(v == 0 and np.isfinite(v) for v in m.values())
    base = cloud_baselines(np.zeros((30, 8)))
    assert base == {"frobenius_norm": 0.0, "total_variance": 0.0, "mean_pairwise_distance": 0.0}


def test_betti_curve_by_hand():
    bars = [(0, 1), (0, 2), (0.5, 0.5), (1.5, INF)]
    grid = [0, 0.5, 0.99, 1.0, 1.5, 2.0, 10]
    # half-open [birth, death): a bar is gone at its death; the zero-length bar never counts
    np.testing.assert_array_equal(betti_curve(bars, grid), [2, 2, 2, 1, 2, 1, 1])
    assert betti_curve(np.empty((0, 2)), grid).tolist() == [0] * 7


def test_betti_curves_use_units_of_scale():
    h0 = [(0, 1.0), (0, 2.0), (0, INF)]
    h1 = [(1.0, 3.0)]
    c = betti_curves(h0, h1, scale=2.0, grid_max=1.5, grid_size=4)  # u = 0, .5, 1, 1.5 -> t = 0, 1, 2, 3
    np.testing.assert_allclose(c["grid"], [0, 0.5, 1.0, 1.5])
    assert c["betti0"].tolist() == [3, 2, 1, 1]
    assert c["betti1"].tolist() == [0, 1, 1, 0]


# ----------------------------------------------------------------------------- neural persistence


def _np_bruteforce(W):
    """Kruskal maximum spanning tree on the bipartite graph (test reference)."""
    R, C = W.shape
    A = np.abs(W) / np.abs(W).max()
    parent = list(range(R + C))

    def find(a):
        while parent[a] != a:
            a = parent[a]
        return a

    edges = sorted(((A[r, c], r, R + c) for r in range(R) for c in range(C)), reverse=True)
    life = []
    for w, u, v in edges:
        if find(u) != find(v):
            parent[find(u)] = find(v)
            life.append(1 - w)
    return np.sqrt(np.sum(np.square(life))) / np.sqrt(R + C - 1)


def test_neural_persistence_by_hand():
    # one output, two inputs: tree edges 1 and 0.5 -> lifetimes 0, 0.5; |V| - 1 = 2
    assert neural_persistence([[2.0, -1.0]]) == pytest.approx(0.5 / np.sqrt(2))
    # identity 2x2: tree = both unit edges + one zero edge -> lifetimes 0, 0, 1; |V| - 1 = 3
    assert neural_persistence(np.eye(2)) == pytest.approx(1 / np.sqrt(3))
    # equal magnitudes: every lifetime is 0
    assert neural_persistence([[1.0, -1.0], [-1.0, 1.0]]) == 0.0
    # single nonzero weight among zeros: 1 + 3 - 1 = 3 tree edges: one of weight 1, two of 0
    assert neural_persistence([[0.0, 5.0, 0.0]]) == pytest.approx(np.sqrt(2) / np.sqrt(3))
    assert neural_persistence(np.zeros((3, 4))) == 0.0


@pytest.mark.parametrize("shape", [(5, 7), (12, 3), (1, 6)])
def test_neural_persistence_matches_bruteforce_and_is_invariant(shape):
    W = np.random.default_rng(sum(shape)).standard_normal(shape)
    value = neural_persistence(W)
    assert value == pytest.approx(_np_bruteforce(W), rel=1e-12)
    assert 0 < value < 1
    assert neural_persistence(-3.0 * W) == pytest.approx(value, rel=1e-12)


def test_neural_persistence_rejects_bad_input():
    with pytest.raises(ValueError, match="NaN/Inf"):
        neural_persistence([[1.0, np.nan]])
    with pytest.raises(ValueError, match="2-D"):
        neural_persistence([1.0, 2.0])


# ----------------------------------------------------------------------------- baselines


def test_cloud_baselines_by_hand_and_bruteforce():
    b = cloud_baselines([[0.0, 0.0], [3.0, 4.0]])
    assert b == pytest.approx({"frobenius_norm": 5.0, "total_variance": 2.25 + 4.0, "mean_pairwise_distance": 5.0})
    X = np.random.default_rng(1).standard_normal((30, 6)) + 2
    b = cloud_baselines(X)
    assert tuple(b) == BASELINE_COLUMNS
    dists = [np.linalg.norm(X[i] - X[j]) for i in range(30) for j in range(i + 1, 30)]
    assert b["mean_pairwise_distance"] == pytest.approx(np.mean(dists), rel=1e-12)
    assert b["total_variance"] == pytest.approx(np.mean(np.sum((X - X.mean(0)) ** 2, axis=1)), rel=1e-12)
    assert b["frobenius_norm"] == pytest.approx(np.linalg.norm(X), rel=1e-12)
