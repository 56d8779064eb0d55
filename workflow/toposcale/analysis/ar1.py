"""Stationary AR(1) noise of unit marginal variance: the null draws of the change-point tests and the
simulated noise of the operating characteristics."""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter


def ar1_noise(phi: float, shape, rng) -> np.ndarray:
    """Stationary AR(1) noise of unit marginal variance along the last axis."""
    return ar1_from_normals(rng.standard_normal(shape), phi)


def ar1_from_normals(z, phi: float) -> np.ndarray:
    """Stationary AR(1) series of unit marginal variance along the last axis driven by the standard normals
    ``z`` (not modified; ``z`` itself when ``phi = 0``), so one set of normals can drive several ``phi``."""
    if phi == 0:
        return z
    c = math.sqrt(1.0 - phi * phi)
    z = np.array(z, dtype=float)
    z[..., 0] /= c
    return lfilter([c], [1.0, -phi], z, axis=-1)
