"""H1 measures of a point cloud: lifetimes, dominance of the longest loop, its scale-free size, the
per-cloud topological measures from the Vietoris-Rips diagrams (:mod:`toposcale.topology`), and their
standardised excess over the covariance-matched Gaussian null (:mod:`toposcale.topology.nulls`)."""

from __future__ import annotations

import numpy as np

from toposcale.topology.homology import rips_persistence
from toposcale.topology.metrics import diagram_metrics, diagram_scale

#: Per-cloud measure names (column suffixes of :func:`toposcale.experiments.grokking.measures.checkpoint_measures`).
CLOUD_MEASURES = ("scale", "h1_max_lifetime", "h1_max_lifetime_norm", "h1_n_long", "h1_dominance")
CLOUDS = ("embed", "resid", "plane")
#: Column suffixes of a measure's null summary (:func:`toposcale.stats.null_excess`).
NULL_SUFFIXES = ("null_mean", "null_sd", "null_z")


def h1_lifetimes(h1) -> np.ndarray:
    """Lifetimes ``death - birth`` of the finite H1 bars with positive lifetime, longest first."""
    h1 = np.asarray(h1, dtype=np.float64).reshape(-1, 2)
    life = h1[:, 1] - h1[:, 0]
    life = life[np.isfinite(life) & (life > 0)]
    return np.sort(life)[::-1]


def dominance_ratio(h1) -> float:
    """Longest H1 lifetime over the second longest: ``inf`` with one bar, ``nan`` with none."""
    life = h1_lifetimes(h1)
    if life.size == 0:
        return float("nan")
    return float(life[0] / life[1]) if life.size > 1 else float("inf")


def dominance(h1) -> float:
    """Bounded form of :func:`dominance_ratio`: ``l1 / (l1 + l2)`` of the two longest H1 lifetimes.

    1 with a single bar, 0.5 when the two longest tie, 0 with no bar. ``ratio >= 3`` is
    ``dominance >= 0.75``.
    """
    life = h1_lifetimes(h1)
    if life.size == 0:
        return 0.0
    second = life[1] if life.size > 1 else 0.0
    return float(life[0] / (life[0] + second))


def rms_radius(X) -> float:
    """Root-mean-square distance of the points of ``X`` (n, k) from their centroid."""
    X = np.asarray(X, dtype=np.float64)
    return float(np.sqrt(((X - X.mean(axis=0)) ** 2).sum(axis=1).mean()))


def loop_size(X, h1) -> float:
    """Longest H1 lifetime of a cloud divided by its :func:`rms_radius` (0 with no bar or no spread).

    Scale-free size of the main loop relative to the cloud: ``sqrt(3) - 2 sin(pi / n)`` for ``n``
    evenly spaced points on a circle (1.63 for n = 59; the Rips loop is born at the neighbour
    spacing and dies at the side of the inscribed equilateral triangle), about 0.2-0.3 for the
    plane of a random Gaussian embedding (:func:`toposcale.experiments.grokking.fourier.fourier_plane`).
    """
    life = h1_lifetimes(h1)
    radius = rms_radius(X)
    return float(life[0] / radius) if life.size and radius > 0 else 0.0


def cloud_measures(X, noise_fraction: float = 0.05, backend: str = "auto", where: str = "cloud"):
    """Topological measures of one point cloud from its Vietoris-Rips diagrams.

    Returns
    -------
    measures : dict
        ``scale`` = largest finite H0 death (longest MST edge, coordinate units;
        :func:`toposcale.topology.metrics.diagram_scale`); ``h1_max_lifetime`` = longest H1 lifetime
        (coordinate units); ``h1_max_lifetime_norm`` = that divided by ``scale``; ``h1_n_long`` =
        number of H1 bars with lifetime ``> noise_fraction * scale`` (``h1_n_significant`` of
        :func:`toposcale.topology.metrics.diagram_metrics`); ``h1_dominance`` = :func:`dominance` of
        the H1 diagram.
    diagrams : toposcale.topology.homology.Diagrams
    """
    dg = rips_persistence(X, max_dim=1, backend=backend, where=where)
    m = diagram_metrics(dg.h0, dg.h1, noise_fraction=noise_fraction)
    out = {"scale": diagram_scale(dg.h0),
           "h1_max_lifetime": m["h1_max_lifetime"], "h1_max_lifetime_norm": m["h1_max_lifetime_norm"],
           "h1_n_long": int(m["h1_n_significant"]), "h1_dominance": dominance(dg.h1)}
    return out, dg
