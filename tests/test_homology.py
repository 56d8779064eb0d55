"""Vietoris-Rips persistence: known answers, backends against ripser.py, input checks and IO."""

import subprocess
import sys

import numpy as np
import pytest

from toposcale.topology import backends
from toposcale.topology.backends import available_backends, resolve_backend
from toposcale.topology.diagram_io import load_diagrams, save_diagrams
from toposcale.topology.distances import CloudError, h0_mst, pairwise_distances, validate_cloud
from toposcale.topology.homology import Diagrams, rips_persistence, rips_persistence_from_distances
from toposcale.topology.metrics import diagram_metrics

BACKENDS = available_backends()


def circle(n, r, dim=2, seed=0):
    """n evenly spaced points on a circle of radius r, isometrically embedded in R^dim."""
    theta = 2 * np.pi * np.arange(n) / n
    pts = r * np.column_stack([np.cos(theta), np.sin(theta)])
    if dim == 2:
        return pts
    frame, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, 2)))
    return pts @ frame.T + 3.0  # rotated and shifted: distances unchanged


def kruskal(D):
    """Brute-force MST edge lengths by Kruskal with union-find (test reference)."""
    n = len(D)
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    edges = sorted((D[i, j], i, j) for i in range(n) for j in range(i + 1, n))
    out = []
    for w, i, j in edges:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[ri] = rj
            out.append(w)
    return np.array(out)


# ----------------------------------------------------------------------------- known answers


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n, r, dim", [(24, 2.0, 2), (30, 0.7, 10)])
def test_regular_circle_has_one_h1_bar(backend, n, r, dim):
    # Evenly spaced points (n divisible by 3): the loop is born when neighbours connect, at the
    # chord 2 r sin(pi/n), and dies when the inscribed equilateral triangles fill it, at sqrt(3) r.
    # Backends work in float32, hence the 1e-6 relative tolerance.
    d = rips_persistence(circle(n, r, dim), backend=backend)
    assert d.h1.shape == (1, 2)
    assert d.h1[0, 0] == pytest.approx(2 * r * np.sin(np.pi / n), rel=1e-6)
    assert d.h1[0, 1] == pytest.approx(np.sqrt(3) * r, rel=1e-6)
    # H0: n-1 bars dying at the neighbour chord plus the essential bar
    assert d.h0.shape == (n, 2)
    np.testing.assert_allclose(d.h0[:-1, 1], 2 * r * np.sin(np.pi / n), rtol=1e-12)
    assert np.isinf(d.h0[-1, 1]) and np.isfinite(d.h0[:-1]).all()


def test_noisy_circle_one_long_loop():
    rng = np.random.default_rng(1)
    theta = rng.uniform(0, 2 * np.pi, 150)
    X = np.column_stack([np.cos(theta), np.sin(theta)]) * (1 + 0.03 * rng.standard_normal(150))[:, None]
    life = np.sort(np.diff(rips_persistence(X).h1, axis=1).ravel())
    assert life[-1] > 1.2  # death near sqrt(3), birth = largest angular gap chord (< 0.3)
    assert life[-2] < 0.1


def test_two_clusters_h0_bar_is_the_gap():
    rng = np.random.default_rng(2)
    gap = 7.5
    a = np.column_stack([np.r_[0.0, 1.0, rng.uniform(0, 1, 40)], np.zeros(42)])
    b = np.column_stack([np.r_[0.0, 1.0, rng.uniform(0, 1, 40)] + 1.0 + gap, np.zeros(42)])
    d = rips_persistence(np.vstack([a, b]), max_dim=0)
    deaths = d.h0[:-1, 1]
    assert deaths[-1] == pytest.approx(gap, rel=1e-12)
    assert deaths[-2] < 0.5  # all other merges happen inside a cluster
    assert d.backend == "mst" and d.h1.shape == (0, 2)


def test_duplicated_point_adds_a_zero_bar_that_no_metric_counts():
    X = np.random.default_rng(3).standard_normal((40, 5))
    base = rips_persistence(X)
    dup = rips_persistence(np.vstack([X, X[7]]))
    assert dup.h0.shape[0] == base.h0.shape[0] + 1
    assert (dup.h0[:, 1] == 0).sum() == 1
    np.testing.assert_allclose(dup.h0[1:], base.h0, rtol=1e-12)  # centring shifts rounding only
    np.testing.assert_allclose(dup.h1, base.h1, rtol=1e-6)
    assert diagram_metrics(dup.h0, dup.h1) == pytest.approx(diagram_metrics(base.h0, base.h1), rel=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_mst_matches_kruskal(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 4))
    if seed == 2:  # integer grid: many tied distances
        X = rng.integers(0, 4, size=(60, 2)).astype(float)
    D = pairwise_distances(X)
    np.testing.assert_allclose(h0_mst(D), kruskal(D), rtol=0, atol=1e-12)


def test_max_dim0_h0_equals_max_dim1_h0():
    X = np.random.default_rng(4).standard_normal((50, 6))
    np.testing.assert_array_equal(rips_persistence(X, max_dim=0).h0, rips_persistence(X).h0)


# ----------------------------------------------------------------------------- exact truncation


def brute_birth_bound(D):
    """Largest edge uv with no w such that max(D[u, w], D[v, w]) < D[u, v] (O(n^3) reference)."""
    n = len(D)
    best = 0.0
    for u in range(n):
        for v in range(u + 1, n):
            if not (np.maximum(D[u], D[v]) < D[u, v]).any():
                best = max(best, D[u, v])
    return best


def clouds_for_truncation():
    rng = np.random.default_rng(11)
    yield "gauss", rng.standard_normal((70, 12))
    theta = rng.uniform(0, 2 * np.pi, 60)  # a real loop: the first truncation fails, full run used
    yield "circle", np.column_stack([np.cos(theta), np.sin(theta)]) + 0.05 * rng.standard_normal((60, 2))
    yield "ties", rng.integers(0, 3, size=(50, 3)).astype(float)  # ties and duplicated points
    yield "aniso", rng.standard_normal((60, 20)) * np.exp(-np.arange(20) / 3)


@pytest.mark.parametrize("name, X", list(clouds_for_truncation()))
def test_birth_bound_matches_bruteforce_and_bounds_births(name, X):
    D32 = pairwise_distances(X).astype(np.float32)
    exact = brute_birth_bound(D32.astype(np.float64))
    assert backends.h1_birth_bound(D32) == exact
    assert backends.h1_birth_bound(D32, lower=float(h0_mst(D32).max())) == exact
    assert backends.h1_birth_bound(D32, lower=1e9) == 1e9  # a larger lower bound is returned as is
    h1 = rips_persistence(X).h1
    assert h1[:, 0].max() <= exact


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b in backends._TRUNCATING])
@pytest.mark.parametrize("name, X", list(clouds_for_truncation()))
def test_truncated_run_equals_full_filtration(backend, name, X, monkeypatch):
    D = pairwise_distances(X)
    fast = rips_persistence(X, backend=backend).h1
    monkeypatch.setattr(backends, "_TRUNCATING", ())
    full = rips_persistence(X, backend=backend).h1
    np.testing.assert_array_equal(fast, full)
    assert len(full) > 0
    D32 = D.astype(np.float32)
    first = backends._first_threshold(D32, backends.h1_birth_bound(D32))
    if name == "circle":  # the loop outlives the short truncation, so the fallback must have run
        assert full[:, 1].max() > first
    if name == "gauss":  # noise: the short truncation already holds every bar
        assert full[:, 1].max() <= first < backends.cone_radius(D32)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b in backends._TRUNCATING])
def test_backend_threshold_is_inclusive(backend):
    # The exactness argument needs edges of length == threshold inside the truncated complex.
    D32 = pairwise_distances(circle(4, np.sqrt(0.5))).astype(np.float32)  # unit square
    h1 = backends._H1[backend](D32, float(D32[0, 1]))
    assert h1.shape == (1, 2) and h1[0, 0] == pytest.approx(1.0) and np.isinf(h1[0, 1])


# ----------------------------------------------------------------------------- backends vs ripser.py


def _ripser_reference(X):
    ripser = pytest.importorskip("ripser")
    dgms = ripser.ripser(X, maxdim=1)["dgms"]
    h1 = dgms[1][dgms[1][:, 1] > dgms[1][:, 0]]
    return np.sort(dgms[0][np.isfinite(dgms[0][:, 1]), 1]), h1


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n, dim, seed", [(80, 3, 0), (120, 20, 1), (100, 50, 2)])
def test_backend_matches_ripser(backend, n, dim, seed):
    gudhi = pytest.importorskip("gudhi")
    X = np.random.default_rng(seed).standard_normal((n, dim)) * np.linspace(1, 3, dim)
    ref_h0, ref_h1 = _ripser_reference(X)
    d = rips_persistence(X, backend=backend)
    assert d.backend == backend
    np.testing.assert_allclose(d.h0[:-1, 1], ref_h0, rtol=1e-6)
    assert len(ref_h1) > 5  # the comparison is not vacuous
    longest = np.diff(ref_h1, axis=1).max()
    assert gudhi.bottleneck_distance(d.h1, ref_h1, e=0) < 1e-6 * longest


def test_auto_backend_is_first_available():
    assert resolve_backend("auto") == BACKENDS[0]
    assert rips_persistence(circle(12, 1.0)).backend == BACKENDS[0]


def test_unknown_or_missing_backend_names_the_package(monkeypatch):
    with pytest.raises(ValueError, match="unknown persistence backend 'dionysus'"):
        resolve_backend("dionysus")
    monkeypatch.setattr(backends, "_backend_installed", lambda name: name != "giotto")
    with pytest.raises(ValueError, match="pip install giotto-ph"):
        resolve_backend("giotto")
    monkeypatch.setattr(backends, "_backend_installed", lambda name: False)
    with pytest.raises(ValueError, match="pip install gudhi"):
        resolve_backend("auto")


def test_persistence_path_imports_no_heavy_modules():
    code = (
        "import sys, numpy as np\n"
        "import toposcale.topology.homology as h, toposcale.topology.metrics, toposcale.topology.subsampling\n"
        "import toposcale.topology, toposcale.topology.backends as bk, toposcale.topology.persist\n"
        "for b in bk.available_backends():\n"
        "    if b != 'ripser': h.rips_persistence(np.random.rand(30, 3), backend=b)\n"
        "heavy = [m for m in ('sklearn', 'scipy', 'torch', 'pandas', 'ripser') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ----------------------------------------------------------------------------- distances and input checks


def test_pairwise_distances_accurate_far_from_origin_and_for_duplicates():
    rng = np.random.default_rng(5)
    X = 1e6 + rng.standard_normal((50, 8)) * 1e-3  # Gram identity alone would cancel catastrophically
    X = np.vstack([X, X[:3]])
    D = pairwise_distances(X)
    direct = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.testing.assert_allclose(D, direct, rtol=1e-9, atol=0)
    assert (np.diagonal(D) == 0).all() and (D >= 0).all() and np.array_equal(D, D.T)
    assert D[0, 50] == 0.0 and D[2, 52] == 0.0


def test_pairwise_distances_matches_direct_on_ordinary_data():
    X = np.random.default_rng(6).standard_normal((200, 50)) * 3 + 1
    direct = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.testing.assert_allclose(pairwise_distances(X), direct, rtol=1e-12, atol=1e-12)


def test_cloud_errors_name_the_cloud_and_the_problem():
    with pytest.raises(CloudError, match=r"layer block01: point cloud has 2 point\(s\), at least 3"):
        validate_cloud(np.zeros((2, 4)), "layer block01")
    X = np.ones((10, 3))
    X[4, 1] = np.nan
    X[6, 0] = np.nan
    X[6, 2] = np.inf
    with pytest.raises(CloudError, match=r"embed: .* 2 NaN and 1 Inf value\(s\) in 2 row\(s\) \(rows 4, 6\)"):
        validate_cloud(X, "embed")
    with pytest.raises(CloudError, match="must be 2-D"):
        validate_cloud(np.ones(5), "final")
    assert validate_cloud(np.ones((3, 2), dtype=np.float32), "ok").dtype == np.float64


@pytest.mark.parametrize("n", [1, 2, 3, 25])
def test_tiny_and_identical_clouds_do_not_crash(n):
    d = rips_persistence(np.full((n, 4), 2.5))
    assert d.h0.shape == (n, 2) and d.h1.shape == (0, 2)
    assert (d.h0[:-1, 1] == 0).all() and np.isinf(d.h0[-1, 1])
    assert all(v == 0 for v in diagram_metrics(d.h0, d.h1).values())


def test_from_distances_agrees_and_checks_input():
    X = np.random.default_rng(7).standard_normal((40, 3))
    a, b = rips_persistence(X), rips_persistence_from_distances(pairwise_distances(X))
    np.testing.assert_array_equal(a.h0, b.h0)
    np.testing.assert_array_equal(a.h1, b.h1)
    with pytest.raises(CloudError, match="symmetric"):
        rips_persistence_from_distances(np.triu(np.ones((4, 4)), 1))
    with pytest.raises(ValueError, match="max_dim must be 0 or 1"):
        rips_persistence(X, max_dim=2)


# ----------------------------------------------------------------------------- IO


def test_save_load_roundtrip(tmp_path):
    d = rips_persistence(circle(12, 1.0))
    path = tmp_path / "run" / "weights" / "step0000100" / "block00.npz"
    save_diagrams(path, d, scale=0.5, extra={"layer": "block00", "step": 100, "subsampled": False})
    out = load_diagrams(path)
    np.testing.assert_array_equal(out["h0"], d.h0)
    np.testing.assert_array_equal(out["h1"], d.h1)
    assert out["n_points"] == 12 and out["scale"] == 0.5 and out["backend"] == d.backend
    assert out["seconds"] == pytest.approx(d.seconds)
    assert out["layer"] == "block00" and out["step"] == 100 and out["subsampled"] is False
    assert sorted(p.name for p in path.parent.iterdir()) == ["block00.npz"]  # no temporary left


def test_save_rejects_reserved_or_nonscalar_extra(tmp_path):
    d = Diagrams(h0=np.array([[0, np.inf]]), h1=np.empty((0, 2)), n_points=1, backend="mst")
    with pytest.raises(ValueError, match="reserved"):
        save_diagrams(tmp_path / "a.npz", d, 0.0, extra={"scale": 1.0})
    with pytest.raises(ValueError, match="must be a scalar"):
        save_diagrams(tmp_path / "a.npz", d, 0.0, extra={"steps": [1, 2]})
    assert not list(tmp_path.iterdir())
