"""Diagram files: one ``.npz`` per (run, source, step, layer), written atomically, for the real cloud
(:func:`save_diagrams`) and for its null draws (:func:`save_null_diagrams`).

numpy only (plus :mod:`toposcale.io` for the atomic write): the per-layer persistence jobs write these
files and the summaries read them. A missing, truncated or corrupt file raises
:class:`toposcale.io.InputFileError` naming the file and the ``snakemake`` command that rebuilds it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toposcale.io import reading, savez_atomic
from toposcale.topology.homology import Diagrams

__all__ = ["RESERVED_KEYS", "load_diagrams", "load_null_diagrams", "save_diagrams", "save_null_diagrams"]

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
    with reading(path, "diagram file"), np.load(Path(path), allow_pickle=False) as npz:
        for key in npz.files:
            arr = npz[key]
            out[key] = arr if key in ("h0", "h1") else arr.item()
        out["n_points"] = int(out["n_points"])
        out["scale"] = float(out["scale"])
        out["backend"] = str(out["backend"])
        out["seconds"] = float(out["seconds"])
    return out


def save_null_diagrams(path, draws: dict, seeds: dict) -> None:
    """Write the diagrams of a cloud's null draws to one ``.npz`` file atomically.

    Parameters
    ----------
    path : str or Path
        Destination (conventionally ``results/nulls/{run}/{source}/step{step}/{layer}.npz``).
    draws : dict
        Null kind (``'gaussian'``, ``'permutation'``) -> list of ``(Diagrams, scale)`` pairs, one per draw,
        ``scale`` being that draw's own largest finite H0 death. A kind may have zero draws.
    seeds : dict
        Null kind -> the seed its draws came from (:func:`toposcale.topology.nulls.null_seed`).

    Notes
    -----
    Stored arrays, with ``K`` the number of draws of a kind:

    * ``kinds``: str array, the kinds stored, in order.
    * ``{kind}/h0`` (sum of the draws' H0 bar counts, 2) and ``{kind}/h1`` (likewise) float64: every
      draw's bars concatenated in draw order; ``{kind}/h0_counts`` and ``{kind}/h1_counts`` (K,) int64
      give each draw's number of rows, so draw ``i`` is rows ``counts[:i].sum()`` to ``counts[:i+1].sum()``.
    * ``{kind}/n_points`` (K,) int64, ``{kind}/scale`` (K,) float64, ``{kind}/seconds`` (K,) float64
      (wall time of that draw's persistence), ``{kind}/backend`` (K,) str, ``{kind}/seed`` int64.
    """
    payload: dict = {"kinds": np.asarray([str(k) for k in draws], dtype=str)}
    for kind, pairs in draws.items():
        dgs = [d for d, _ in pairs]
        for dim in ("h0", "h1"):
            bars = [np.asarray(getattr(d, dim), dtype=np.float64).reshape(-1, 2) for d in dgs]
            payload[f"{kind}/{dim}"] = np.concatenate(bars) if bars else np.empty((0, 2))
            payload[f"{kind}/{dim}_counts"] = np.asarray([len(b) for b in bars], dtype=np.int64)
        payload[f"{kind}/n_points"] = np.asarray([int(d.n_points) for d in dgs], dtype=np.int64)
        payload[f"{kind}/scale"] = np.asarray([float(s) for _, s in pairs], dtype=np.float64)
        payload[f"{kind}/seconds"] = np.asarray([float(d.seconds) for d in dgs], dtype=np.float64)
        payload[f"{kind}/backend"] = np.asarray([str(d.backend) for d in dgs], dtype=str)
        payload[f"{kind}/seed"] = np.asarray(int(seeds[kind]), dtype=np.int64)
    savez_atomic(Path(path), **payload)


def load_null_diagrams(path) -> dict:
    """Read a file written by :func:`save_null_diagrams`.

    Returns
    -------
    dict
        Null kind -> list (one per draw, in draw order) of dicts with ``h0``, ``h1`` (float64 arrays),
        ``n_points`` (int), ``scale`` (float), ``seconds`` (float), ``backend`` (str) and ``seed`` (int,
        the kind's seed).
    """
    out: dict = {}
    with reading(path, "null file"), np.load(Path(path), allow_pickle=False) as npz:
        for kind in (str(k) for k in npz["kinds"]):
            split = {}
            for dim in ("h0", "h1"):
                ends = np.cumsum(npz[f"{kind}/{dim}_counts"])
                split[dim] = np.split(npz[f"{kind}/{dim}"], ends[:-1]) if len(ends) else []
            seed = int(npz[f"{kind}/seed"])
            out[kind] = [{"h0": h0, "h1": h1, "n_points": int(n), "scale": float(s), "seconds": float(t),
                          "backend": str(b), "seed": seed}
                         for h0, h1, n, s, t, b in zip(split["h0"], split["h1"], npz[f"{kind}/n_points"],
                                                        npz[f"{kind}/scale"], npz[f"{kind}/seconds"],
                                                        npz[f"{kind}/backend"])]
    return out
