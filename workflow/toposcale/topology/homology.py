"""Vietoris-Rips persistent homology (H0, H1) of Euclidean point clouds.

This module is on the per-layer persistence path, so at import time it loads numpy only. The compiled
backends are imported lazily inside the functions that use them:

* ``'gudhi'``  -- ``gudhi._ripser_ext`` (GUDHI's Ripser port; about 0.1 s to import);
* ``'giotto'`` -- giotto-ph's compiled ``gph_ripser`` extension, loaded directly from its file so that
  ``gph/__init__`` (which imports scikit-learn, about 1.3 s) is not executed;
* ``'ripser'`` -- ripser.py, the reference implementation (``import ripser`` pulls in scikit-learn).

Definitions
-----------
Distances are Euclidean. For a cloud of ``n`` points the Vietoris-Rips filtration at scale ``t``
contains every simplex whose pairwise distances are all ``<= t`` (the convention of Ripser: ``t`` is a
diameter, not a radius). Homology has coefficients in Z/2.

* H0 is computed exactly in float64 by :func:`h0_mst`: the finite H0 deaths are the ``n - 1`` edge
  lengths of a Euclidean minimum spanning tree, every bar is born at 0, and one essential bar
  ``(0, inf)`` represents the connected cloud. A duplicated point contributes a bar ``(0, 0)`` of
  length zero; it is kept in the diagram (so H0 always has ``n - 1`` finite bars) and
  :mod:`toposcale.topology.metrics` ignores zero-length bars.
* H1 comes from the chosen backend on the dense distance matrix. The full filtration may stop at
  the cone (enclosing) radius ``r = min_i max_j D_ij``: from there on the complex is a cone over the
  point attaining the minimum, hence contractible, so every H1 bar is finite. The compiled backends
  first run a shorter, provably exact truncation (:func:`h1_birth_bound`, :func:`_h1_diagram`):
  no H1 bar of positive length is born after the longest "empty-lune" edge ``L``, so if the
  filtration cut at ``t >= L`` leaves no H1 class alive at ``t``, its diagram is the full one;
  otherwise the full filtration is run. Bars with ``death == birth`` carry no information and are
  dropped. The compiled backends work in float32 (ripser.py always does), so H1 births and deaths
  carry float32 rounding (relative error below about 1e-7); they are returned as float64.

Speed (benchmarks/persistence_speed.py, one thread): for 500 Gaussian points in 50 dimensions,
H0 + H1 takes about a quarter of ``ripser.ripser(X, maxdim=1)``'s time (about 50 ms vs 200 ms) with
identical diagrams; H0 alone (``max_dim=0``) takes about 5 ms; ``import toposcale.topology.homology`` loads
numpy only, against several seconds for ``import ripser`` (scikit-learn). Clouds with a real loop
need the full filtration and gain less (about 1.5x).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toposcale.io import savez_atomic

__all__ = [
    "CloudError",
    "Diagrams",
    "available_backends",
    "h0_mst",
    "h1_birth_bound",
    "load_diagrams",
    "pairwise_distances",
    "resolve_backend",
    "rips_persistence",
    "rips_persistence_from_distances",
    "save_diagrams",
    "validate_cloud",
]

#: Backends in order of preference for ``backend="auto"``: fastest first, as measured by
#: ``benchmarks/persistence_speed.py`` (500 points x 50 dims, H0 + H1, one thread).
BACKEND_ORDER = ("gudhi", "giotto", "ripser")

#: The pip package that provides each backend.
PIP_PACKAGE = {"gudhi": "gudhi", "giotto": "giotto-ph", "ripser": "ripser"}

#: Keys written by :func:`save_diagrams`; ``extra`` keys may not reuse them.
RESERVED_KEYS = ("h0", "h1", "n_points", "scale", "backend", "seconds")

_EMPTY = np.empty((0, 2), dtype=np.float64)


class CloudError(ValueError):
    """A point cloud that cannot be analysed (wrong shape, too few points, NaN or Inf)."""


# --------------------------------------------------------------------------------------------
# input checks and distances
# --------------------------------------------------------------------------------------------


def _check_cloud(X, where: str, min_points: int) -> np.ndarray:
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CloudError(f"{where}: point cloud is not numeric ({exc})") from exc
    if arr.ndim != 2:
        raise CloudError(
            f"{where}: point cloud must be 2-D (n_points, n_dims), got shape {arr.shape}; "
            "reshape it so that each row is one point"
        )
    n = arr.shape[0]
    if n < min_points:
        raise CloudError(
            f"{where}: point cloud has {n} point(s), at least {min_points} are needed; "
            "use a layer or probe set with more points"
        )
    if arr.shape[1] == 0:
        raise CloudError(f"{where}: point cloud has 0 coordinates per point (shape {arr.shape})")
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(bad.sum()) - n_nan
        shown = ", ".join(str(r) for r in rows[:10]) + (", ..." if rows.size > 10 else "")
        raise CloudError(
            f"{where}: point cloud of shape {arr.shape} has {n_nan} NaN and {n_inf} Inf value(s) "
            f"in {rows.size} row(s) (rows {shown}); the model or extraction produced non-finite "
            "values, fix them upstream rather than dropping points"
        )
    return arr


def validate_cloud(X, where: str) -> np.ndarray:
    """Check a point cloud and return it as a float64 2-D array.

    Parameters
    ----------
    X : array_like, shape (n_points, n_dims)
        One point per row.
    where : str
        Names the cloud in error messages (e.g. ``"gelu-d64L4-s0 step0000100 weights block00"``).

    Returns
    -------
    numpy.ndarray
        ``X`` as a float64 array (a copy only if a conversion was needed).

    Raises
    ------
    CloudError
        If ``X`` is not 2-D, has fewer than 3 points, or contains NaN or Inf (the message says how
        many and in which rows). Clouds whose points are all identical are allowed.
    """
    return _check_cloud(X, where, min_points=3)


def pairwise_distances(X) -> np.ndarray:
    """Euclidean distance matrix of a point cloud.

    Computed with the Gram identity ``|x - y|^2 = |x|^2 + |y|^2 - 2 x.y`` on the centred cloud (one
    BLAS call), clipped at 0. Where that identity loses accuracy to cancellation (squared distance
    below ``1e-4`` of ``|x|^2 + |y|^2``, e.g. near-duplicate points) the entry is recomputed from the
    coordinate differences, so every entry has a relative error of order 1e-12 or better and
    duplicated points are exactly 0 apart.

    Parameters
    ----------
    X : array_like, shape (n, d)

    Returns
    -------
    numpy.ndarray, shape (n, n), float64
        Symmetric, zero diagonal, non-negative.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise CloudError(f"pairwise_distances: expected a 2-D array, got shape {X.shape}")
    Xc = X - X.mean(axis=0)
    sq = np.einsum("ij,ij->i", Xc, Xc)
    D2 = Xc @ Xc.T  # numpy uses a symmetric rank-k update here: D2 is exactly symmetric
    D2 *= -2.0
    D2 += np.add.outer(sq, sq)  # one symmetric sum: adding the two terms separately is not symmetric
    # The rounding error of an entry is about eps * (sq_i + sq_j); recompute the entries where
    # that is not negligible. First a cheap scalar screen, then the exact per-pair criterion.
    i, j = np.nonzero(D2 <= 2e-4 * sq.max())
    keep = (i < j) & (D2[i, j] <= 1e-4 * (sq[i] + sq[j]))
    i, j = i[keep], j[keep]
    if i.size:
        exact = _direct_sq_distances(Xc, i, j)
        D2[i, j] = exact
        D2[j, i] = exact
    np.maximum(D2, 0.0, out=D2)
    D = np.sqrt(D2, out=D2)
    np.fill_diagonal(D, 0.0)
    return D


def _direct_sq_distances(X: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 65536) -> np.ndarray:
    out = np.empty(i.size, dtype=np.float64)
    for s in range(0, i.size, chunk):
        diff = X[i[s : s + chunk]] - X[j[s : s + chunk]]
        out[s : s + chunk] = np.einsum("ij,ij->i", diff, diff)
    return out


def h0_mst(D) -> np.ndarray:
    """Finite H0 deaths of the Vietoris-Rips filtration: minimum spanning tree edge lengths.

    Prim's algorithm on the dense distance matrix, ``O(n^2)`` time and ``O(n)`` extra memory. In the
    Rips filtration every point is born at 0 and two components merge exactly when an MST edge
    appears, so the ``n - 1`` finite H0 bars are ``(0, w_e)`` for the MST edges ``e``.

    Parameters
    ----------
    D : array_like, shape (n, n)
        Symmetric distance matrix.

    Returns
    -------
    numpy.ndarray, shape (n - 1,), float64
        MST edge lengths sorted ascending (empty for ``n <= 1``). Duplicated points give zeros.
    """
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise ValueError(f"h0_mst: D must be a square distance matrix, got shape {D.shape}")
    n = D.shape[0]
    if n <= 1:
        return np.empty(0, dtype=np.float64)
    best = D[0].copy()
    in_tree = np.zeros(n, dtype=bool)
    in_tree[0] = True
    best[0] = np.inf
    deaths = np.empty(n - 1, dtype=np.float64)
    for k in range(n - 1):
        v = int(np.argmin(best))
        deaths[k] = best[v]
        in_tree[v] = True
        best[v] = np.inf
        np.minimum(best, D[v], out=best, where=~in_tree)
    deaths.sort()
    return deaths


# --------------------------------------------------------------------------------------------
# backends
# --------------------------------------------------------------------------------------------


def _backend_installed(name: str) -> bool:
    if name == "gudhi":
        spec = importlib.util.find_spec("gudhi")
        return spec is not None and _find_extension(spec, "_ripser_ext") is not None
    if name == "giotto":
        spec = importlib.util.find_spec("gph")
        return spec is not None and _find_extension(spec, "modules/gph_ripser") is not None
    if name == "ripser":
        return importlib.util.find_spec("ripser") is not None
    return False


def _find_extension(spec, stem: str) -> Path | None:
    """Path of the compiled module ``stem`` inside an (unimported) package, or None."""
    for base in spec.submodule_search_locations or ():
        folder = Path(base, stem).parent
        prefix = Path(stem).name
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            candidate = folder / f"{prefix}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def available_backends() -> list[str]:
    """Installed persistence backends, fastest first (see :data:`BACKEND_ORDER`).

    Only looks the packages up; nothing heavy is imported.
    """
    return [name for name in BACKEND_ORDER if _backend_installed(name)]


def resolve_backend(name: str = "auto") -> str:
    """Turn a configured backend name into an installed one.

    Parameters
    ----------
    name : {'auto', 'gudhi', 'giotto', 'ripser'}
        ``'auto'`` picks the fastest installed backend in :data:`BACKEND_ORDER`.

    Returns
    -------
    str
        The backend's name.

    Raises
    ------
    ValueError
        If ``name`` is unknown, or the backend (or, for 'auto', every backend) is not installed;
        the message names the pip package to install.
    """
    if name == "auto":
        found = available_backends()
        if not found:
            raise ValueError(
                "no persistent-homology backend is installed; install one of: "
                + ", ".join(f"pip install {PIP_PACKAGE[b]}" for b in BACKEND_ORDER)
            )
        return found[0]
    if name not in PIP_PACKAGE:
        raise ValueError(
            f"unknown persistence backend {name!r}; choose one of 'auto', " + ", ".join(repr(b) for b in BACKEND_ORDER)
        )
    if not _backend_installed(name):
        raise ValueError(
            f"persistence backend {name!r} is not installed: pip install {PIP_PACKAGE[name]} "
            f"(or set topology.backend to 'auto'; installed: {available_backends() or 'none'})"
        )
    return name


_GPH_RIPSER = None


def _load_gph_ripser():
    """giotto-ph's compiled Ripser module, without running ``gph/__init__`` (which imports sklearn)."""
    global _GPH_RIPSER
    if _GPH_RIPSER is None:
        import sys

        fullname = "gph.modules.gph_ripser"
        if fullname in sys.modules:
            _GPH_RIPSER = sys.modules[fullname]
        else:
            path = _find_extension(importlib.util.find_spec("gph"), "modules/gph_ripser")
            loader = importlib.machinery.ExtensionFileLoader(fullname, str(path))
            spec = importlib.util.spec_from_file_location(fullname, str(path), loader=loader)
            module = importlib.util.module_from_spec(spec)
            loader.exec_module(module)
            _GPH_RIPSER = module
    return _GPH_RIPSER


def _h1_gudhi(D32: np.ndarray, threshold: float) -> np.ndarray:
    from gudhi._ripser_ext import _full

    # float32 input measured 10-20 % faster than float64 (benchmarks/persistence_speed.py). With
    # threshold = +inf the dense Ripser code stops at the enclosing radius by itself, which was
    # measured faster than passing the cone radius explicitly.
    dgms = _full(D32, max_dimension=1, max_edge_length=float(threshold), homology_coeff_field=2)
    return np.asarray(dgms[1], dtype=np.float64).reshape(-1, 2) if len(dgms) > 1 else _EMPTY


def _h1_giotto(D32: np.ndarray, threshold: float) -> np.ndarray:
    gph_ripser = _load_gph_ripser()
    n = D32.shape[0]
    if not np.isfinite(threshold):
        threshold = cone_radius(D32)  # what giotto-ph's own wrapper passes
    iu, ju = np.triu_indices(n, k=1)
    condensed = np.ascontiguousarray(D32[iu, ju])
    diag = np.zeros(n, dtype=np.float32)
    res = gph_ripser.rips_dm(condensed, diag, 2, 1, float(threshold), 1, False)
    dgms = res.births_and_deaths_by_dim()
    return np.asarray(dgms[1], dtype=np.float64).reshape(-1, 2) if len(dgms) > 1 else _EMPTY


def _h1_ripser(D32: np.ndarray, threshold: float) -> np.ndarray:
    import ripser

    # The reference: always the full filtration (ripser.py stops at the enclosing radius itself; a
    # finite thresh would switch it to its slower sparse code path).
    del threshold
    dgms = ripser.ripser(D32, maxdim=1, distance_matrix=True)["dgms"]
    return np.asarray(dgms[1], dtype=np.float64).reshape(-1, 2)


_H1 = {"gudhi": _h1_gudhi, "giotto": _h1_giotto, "ripser": _h1_ripser}

#: Backends whose H1 runs on a truncated filtration first (see :func:`h1_birth_bound`).
_TRUNCATING = ("gudhi", "giotto")

#: The first truncation threshold is the edge length whose rank among all edges is the fraction
#: ``TRUNCATION_QUANTILE_STEP`` above that of :func:`h1_birth_bound` (estimated on a sample of
#: edges). Measured on 36 clouds (128-1024 points, 8-64 dims, Gaussian, anisotropic, clustered): the
#: longest H1 death lay at most 0.09 above the bound's edge quantile in 35 of them.
TRUNCATION_QUANTILE_STEP = 0.1


def h1_birth_bound(D, lower: float = 0.0, n_neighbors: int = 8, batch: int = 2048) -> float:
    """An upper bound on the birth of every H1 bar of positive length.

    An edge ``uv`` of length ``l = D[u, v]`` can only create an H1 class that survives past ``l``
    if no third point ``w`` has ``max(D[u, w], D[v, w]) < l`` (its *lune* is empty). Otherwise the
    triangle ``uvw`` enters at value ``l`` and every 1-cycle through ``uv`` is, at value ``l``,
    homologous to one made of strictly shorter edges, so nothing is born at ``l`` except
    zero-length bars. Let ``L`` be the largest empty-lune edge length (at least the longest
    minimum-spanning-tree edge, whose lune is always empty); every H1 bar with ``death > birth``
    has ``birth <= L``. The argument needs no triangle inequality, so it holds for the float32
    matrix handed to the backends.

    This returns ``max(L, lower)``: edges no longer than ``lower`` are not examined, so pass a
    known lower bound of ``L`` such as the longest MST edge to save work (any value gives a valid
    bound; ``lower <= L`` gives exactly ``L``).

    Cost: ``O(n_neighbors * n^2)`` to certify almost every edge with a witness among the
    ``n_neighbors`` nearest neighbours of either endpoint, then ``O(n)`` per remaining edge,
    scanned from the longest down and stopped at the first edge with an empty lune.

    Parameters
    ----------
    D : array_like, shape (n, n)
        Symmetric matrix with zero diagonal; float32 is kept as is (comparisons are exact).
    lower : float
        Edges with ``D <= lower`` are skipped.

    Returns
    -------
    float
    """
    D = np.asarray(D)
    if D.dtype not in (np.float32, np.float64):
        D = D.astype(np.float64)
    n = D.shape[0]
    if n < 3:
        return float(max(lower, D.max(initial=0.0)))
    # witness[u, v] = min over the k nearest neighbours w of u of max(D[u, w], D[w, v]), an upper
    # bound on min_w max(D[u, w], D[v, w]). u itself may be among them: max(D[u, u], D[u, v]) =
    # D[u, v] is never < D[u, v], so it certifies nothing (correct, merely useless).
    k = min(n_neighbors, n - 1)
    neighbours = np.argpartition(D, k, axis=1)[:, : k + 1]
    rows = np.arange(n)
    witness = np.full_like(D, np.inf)
    buf = np.empty_like(D)
    for j in range(k + 1):
        w = neighbours[:, j]
        np.maximum(D[w], D[rows, w][:, None], out=buf)
        np.minimum(witness, buf, out=witness)
    unsure = witness >= D
    unsure &= witness.T >= D  # neither endpoint's neighbours certify the edge
    unsure &= D > lower
    iu, ju = np.nonzero(np.triu(unsure, k=1))
    length = D[iu, ju]
    order = np.argsort(-length, kind="stable")
    iu, ju, length = iu[order], ju[order], length[order]
    for s in range(0, length.size, batch):
        u, v, l = iu[s : s + batch], ju[s : s + batch], length[s : s + batch]
        has_witness = (np.maximum(D[u], D[v]) < l[:, None]).any(axis=1)
        empty = np.flatnonzero(~has_witness)
        if empty.size:
            return max(float(l[empty[0]]), float(lower))
    return float(lower)


def _first_threshold(D32: np.ndarray, bound: float, sample_size: int = 20000) -> float:
    """Edge length ``TRUNCATION_QUANTILE_STEP`` above ``bound`` in rank (any value >= bound is exact)."""
    flat = D32.ravel()
    sample = flat[:: max(1, flat.size // sample_size)]
    q = float(np.count_nonzero(sample <= bound)) / sample.size + TRUNCATION_QUANTILE_STEP
    if q >= 1.0:
        return float("inf")
    t = float(np.partition(sample, int(q * (sample.size - 1)))[int(q * (sample.size - 1))])
    return max(t, float(bound))  # both are float32 values


def _h1_diagram(D: np.ndarray, name: str, lower: float = 0.0) -> np.ndarray:
    """Exact H1 bars of positive length, truncating the filtration where that is provably exact.

    With ``L`` = :func:`h1_birth_bound` and a threshold ``t >= L``, the filtration truncated at
    ``t`` is a prefix of the full one, so its bars that die by ``t`` are exactly the full bars with
    death ``<= t``; a bar still alive at ``t`` shows as infinite; and no bar of positive length is
    born after ``t``. If the truncated run has no infinite H1 bar its diagram is therefore exact;
    otherwise the full filtration (up to the cone radius) is run.
    """
    D32 = np.ascontiguousarray(D, dtype=np.float32)
    run = _H1[name]
    thresholds = [np.inf]
    if name in _TRUNCATING:
        radius = cone_radius(D32)
        bound = h1_birth_bound(D32, lower=float(np.float32(lower)))
        if bound < radius:
            first = _first_threshold(D32, bound)
            if first < radius:
                thresholds.insert(0, first)
    for t in thresholds:
        h1 = run(D32, t)
        h1 = h1[h1[:, 1] > h1[:, 0]]
        if np.isfinite(h1).all():
            return h1
    raise RuntimeError(
        f"rips_persistence: backend {name!r} returned an infinite H1 bar although the filtration was "
        "run up to the cone radius; this is a backend bug, try another topology.backend"
    )


# --------------------------------------------------------------------------------------------
# diagrams
# --------------------------------------------------------------------------------------------


@dataclass
class Diagrams:
    """Persistence diagrams of one point cloud.

    Attributes
    ----------
    h0 : numpy.ndarray, shape (n_points, 2), float64
        ``(birth, death)`` rows: the ``n_points - 1`` finite bars ``(0, MST edge length)`` sorted by
        death (zero-length bars from duplicated points included), then exactly one ``(0, inf)``.
    h1 : numpy.ndarray, shape (m, 2), float64
        Finite H1 bars with ``death > birth``, sorted by birth then death; empty if ``max_dim == 0``.
    n_points : int
    backend : str
        Backend that computed H1, or ``'mst'`` when only H0 was computed.
    seconds : float
        Wall time of :func:`rips_persistence` (distances + homology).
    """

    h0: np.ndarray
    h1: np.ndarray
    n_points: int
    backend: str
    seconds: float = field(default=0.0)


def cone_radius(D: np.ndarray) -> float:
    """Enclosing (cone) radius ``min_i max_j D_ij``: the VR complex is contractible from it on."""
    return float(np.asarray(D).max(axis=1).min())


def _sort_bars(h1: np.ndarray) -> np.ndarray:
    order = np.lexsort((h1[:, 1], h1[:, 0]))
    return np.ascontiguousarray(h1[order])


def rips_persistence(X, max_dim: int = 1, backend: str = "auto", where: str = "rips_persistence") -> Diagrams:
    """Exact Vietoris-Rips persistence diagrams (H0 and optionally H1) of a Euclidean point cloud.

    No subsampling or approximation: H0 is the exact float64 minimum spanning tree
    (:func:`h0_mst`); H1 is the backend's diagram of the full filtration, computed on a truncated
    filtration only where that is provably identical (see the module docstring).

    Parameters
    ----------
    X : array_like, shape (n_points, n_dims)
        Finite coordinates. Any ``n_points >= 1`` works: with fewer than 4 points there is no H1
        bar of positive length, and identical points give zero-length H0 bars only.
    max_dim : {0, 1}
        0 computes H0 only (much faster; ``h1`` is empty and ``backend`` is ``'mst'``).
    backend : {'auto', 'gudhi', 'giotto', 'ripser'}
        H1 backend, see :func:`resolve_backend`.
    where : str
        Names the cloud in error messages.

    Returns
    -------
    Diagrams

    Raises
    ------
    CloudError
        For an empty, non-2-D or non-finite cloud.
    ValueError
        For ``max_dim`` outside {0, 1} or an unknown/uninstalled backend.
    """
    t0 = time.perf_counter()
    name = _check_max_dim_backend(max_dim, backend)
    X = _check_cloud(X, where, min_points=1)
    h0, h1 = _diagrams_from_distances(pairwise_distances(X), max_dim, name)
    return Diagrams(h0=h0, h1=h1, n_points=X.shape[0], backend=name, seconds=time.perf_counter() - t0)


def rips_persistence_from_distances(D, max_dim: int = 1, backend: str = "auto", where: str = "distances") -> Diagrams:
    """:func:`rips_persistence` on a precomputed distance matrix (e.g. a submatrix when bootstrapping).

    Parameters
    ----------
    D : array_like, shape (n, n)
        Symmetric, finite, non-negative, zero diagonal (as returned by :func:`pairwise_distances`).
    max_dim, backend, where
        As in :func:`rips_persistence`.
    """
    t0 = time.perf_counter()
    name = _check_max_dim_backend(max_dim, backend)
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1] or D.shape[0] < 1:
        raise CloudError(f"{where}: distance matrix must be square and non-empty, got shape {D.shape}")
    if not np.isfinite(D).all() or (D < 0).any():
        raise CloudError(f"{where}: distance matrix has NaN, Inf or negative entries")
    if not np.array_equal(D, D.T) or np.diagonal(D).any():
        raise CloudError(f"{where}: distance matrix must be exactly symmetric with a zero diagonal")
    h0, h1 = _diagrams_from_distances(D, max_dim, name)
    return Diagrams(h0=h0, h1=h1, n_points=D.shape[0], backend=name, seconds=time.perf_counter() - t0)


def _check_max_dim_backend(max_dim: int, backend: str) -> str:
    if max_dim not in (0, 1):
        raise ValueError(f"rips_persistence: max_dim must be 0 or 1, got {max_dim!r}")
    return resolve_backend(backend) if max_dim == 1 else "mst"


def _diagrams_from_distances(D: np.ndarray, max_dim: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    n = D.shape[0]
    h0 = np.empty((n, 2), dtype=np.float64)
    h0[:, 0] = 0.0
    h0[:-1, 1] = h0_mst(D)
    h0[-1, 1] = np.inf
    h1 = _EMPTY.copy()
    if max_dim == 1 and n >= 4:
        if cone_radius(D) > 0.0:
            h1 = _sort_bars(_h1_diagram(D, name, lower=float(h0[-2, 1])))
    return h0, h1


# --------------------------------------------------------------------------------------------
# IO
# --------------------------------------------------------------------------------------------


def save_diagrams(path, diagrams: Diagrams, scale: float, extra: dict | None = None) -> None:
    """Write diagrams to an ``.npz`` file atomically (temporary file + ``os.replace``).

    Parameters
    ----------
    path : str or Path
        Destination (conventionally ``results/diagrams/{run}/{source}/step{step}/{layer}.npz``).
        Parent folders are created.
    diagrams : Diagrams
    scale : float
        The cloud's scale (largest finite H0 death, :func:`toposcale.topology.metrics.diagram_scale`).
    extra : dict, optional
        Additional scalar entries (str, int, float, bool), each stored as a 0-d array under its key;
        keys may not be one of :data:`RESERVED_KEYS`.

    Notes
    -----
    Stored arrays: ``h0`` (k, 2) and ``h1`` (m, 2) float64, ``n_points`` int64, ``scale`` float64,
    ``backend`` str, ``seconds`` float64, plus the ``extra`` keys.
    """
    path = Path(path)
    payload = {
        "h0": np.asarray(diagrams.h0, dtype=np.float64).reshape(-1, 2),
        "h1": np.asarray(diagrams.h1, dtype=np.float64).reshape(-1, 2),
        "n_points": np.asarray(int(diagrams.n_points), dtype=np.int64),
        "scale": np.asarray(float(scale), dtype=np.float64),
        "backend": np.asarray(str(diagrams.backend)),
        "seconds": np.asarray(float(diagrams.seconds), dtype=np.float64),
    }
    for key, value in (extra or {}).items():
        if key in RESERVED_KEYS:
            raise ValueError(f"save_diagrams: extra key {key!r} clashes with a reserved key {RESERVED_KEYS}")
        arr = np.asarray(value)
        if arr.ndim != 0 or arr.dtype == object:
            raise ValueError(
                f"save_diagrams: extra[{key!r}] must be a scalar (str, int, float, bool), got {type(value).__name__}"
            )
        payload[str(key)] = arr
    savez_atomic(path, **payload)


def load_diagrams(path) -> dict:
    """Read a file written by :func:`save_diagrams`.

    Returns
    -------
    dict
        ``h0``, ``h1`` (float64 arrays), ``n_points`` (int), ``scale`` (float), ``backend`` (str),
        ``seconds`` (float) and every extra key as a Python scalar.
    """
    out: dict = {}
    with np.load(Path(path), allow_pickle=False) as npz:
        for key in npz.files:
            arr = npz[key]
            out[key] = arr if key in ("h0", "h1") else arr.item()
    out["n_points"] = int(out["n_points"])
    out["scale"] = float(out["scale"])
    out["backend"] = str(out["backend"])
    out["seconds"] = float(out["seconds"])
    return out
