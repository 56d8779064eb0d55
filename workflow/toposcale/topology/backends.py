"""Persistent-homology backends: discovery, resolution, and exact H1 diagrams from a distance matrix.

This module is on the per-layer persistence path, so at import time it loads numpy only. The compiled
backends are imported lazily inside the functions that use them:

* ``'gudhi'``  -- ``gudhi._ripser_ext`` (GUDHI's Ripser port; about 0.1 s to import);
* ``'giotto'`` -- giotto-ph's compiled ``gph_ripser`` extension, loaded directly from its file so that
  ``gph/__init__`` (which imports scikit-learn, about 1.3 s) is not executed;
* ``'ripser'`` -- ripser.py, the reference implementation (``import ripser`` pulls in scikit-learn).

H1 is computed on the dense distance matrix in float32 (ripser.py always works in float32), so births
and deaths carry float32 rounding (relative error below about 1e-7); they are returned as float64.
The full filtration may stop at the cone (enclosing) radius :func:`cone_radius`; the compiled backends
first run a shorter, provably exact truncation (:func:`h1_birth_bound`, :func:`h1_diagram`).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

import numpy as np

__all__ = [
    "BACKEND_ORDER",
    "PIP_PACKAGE",
    "TRUNCATION_QUANTILE_STEP",
    "available_backends",
    "cone_radius",
    "h1_birth_bound",
    "h1_diagram",
    "resolve_backend",
]

#: Backends in order of preference for ``backend="auto"``: fastest first, as measured by
#: ``benchmarks/persistence_speed.py`` (500 points x 50 dims, H0 + H1, one thread).
BACKEND_ORDER = ("gudhi", "giotto", "ripser")

#: The pip package that provides each backend.
PIP_PACKAGE = {"gudhi": "gudhi", "giotto": "giotto-ph", "ripser": "ripser"}

_EMPTY = np.empty((0, 2), dtype=np.float64)


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
    from gudhi._ripser_ext import _full  # optional compiled backend (resolve_backend checks it): on first use

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
    import ripser  # optional reference backend; pulls in scikit-learn (seconds), so only on first use

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


def h1_diagram(D: np.ndarray, name: str, lower: float = 0.0) -> np.ndarray:
    """Exact H1 bars of positive length, truncating the filtration where that is provably exact.

    With ``L`` = :func:`h1_birth_bound` and a threshold ``t >= L``, the filtration truncated at
    ``t`` is a prefix of the full one, so its bars that die by ``t`` are exactly the full bars with
    death ``<= t``; a bar still alive at ``t`` shows as infinite; and no bar of positive length is
    born after ``t``. If the truncated run has no infinite H1 bar its diagram is therefore exact;
    otherwise the full filtration (up to the cone radius) is run. Only the backends in
    ``_TRUNCATING`` (the compiled ones) try the truncation first; ripser.py always runs in full.

    Parameters
    ----------
    D : array_like, shape (n, n)
        Symmetric distance matrix with zero diagonal; the backends receive it as float32.
    name : {'gudhi', 'giotto', 'ripser'}
        An installed backend (see :func:`resolve_backend`).
    lower : float
        A known lower bound of ``L`` (e.g. the longest MST edge), passed to :func:`h1_birth_bound`.

    Returns
    -------
    numpy.ndarray, shape (m, 2), float64
        The finite H1 bars with ``death > birth``, in the backend's order.

    Raises
    ------
    RuntimeError
        If the backend returns an infinite H1 bar on the full filtration (a backend bug).
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


def cone_radius(D: np.ndarray) -> float:
    """Enclosing (cone) radius ``min_i max_j D_ij``: the VR complex is contractible from it on."""
    return float(np.asarray(D).max(axis=1).min())
