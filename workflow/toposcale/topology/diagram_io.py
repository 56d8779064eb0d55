"""Diagram files: one ``.npz`` per (run, source, step, layer), written atomically.

numpy only (plus :mod:`toposcale.io` for the atomic write): the per-layer persistence jobs write these
files and the summaries read them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toposcale.io import savez_atomic
from toposcale.topology.homology import Diagrams

__all__ = ["RESERVED_KEYS", "load_diagrams", "save_diagrams"]

#: Keys written by :func:`save_diagrams`; ``extra`` keys may not reuse them.
RESERVED_KEYS = ("h0", "h1", "n_points", "scale", "backend", "seconds")


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
