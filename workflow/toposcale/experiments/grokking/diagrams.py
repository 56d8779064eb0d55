"""The diagram file of a grokking run: the embedding's and the Fourier plane's diagrams at every checkpoint (``.npz``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toposcale.io import reading, savez_atomic

#: Arrays stored per checkpoint step (keys ``{name}_{step}``).
DIAGRAM_KEYS = ("embed_h0", "embed_h1", "plane_h1", "plane_points")


def save_run_diagrams(path, per_step: dict) -> None:
    """Write the embedding and Fourier-plane diagrams of a run to one ``.npz`` (atomically).

    Keys: ``steps`` (int64), and per step ``embed_h0_{step}``, ``embed_h1_{step}``, ``plane_h1_{step}``
    ((k, 2) float64 ``(birth, death)`` rows) and ``plane_points_{step}`` ((p, 2) float64).

    Parameters
    ----------
    path : path
    per_step : dict
        step -> the ``diagrams`` dict of :func:`toposcale.experiments.grokking.measures.checkpoint_measures`
        (``'embed'`` and ``'plane'`` :class:`toposcale.topology.homology.Diagrams`, ``'plane_points'``).
    """
    path = Path(path)
    payload = {"steps": np.array(sorted(per_step), dtype=np.int64)}
    for step, dg in per_step.items():
        payload[f"embed_h0_{step}"] = np.asarray(dg["embed"].h0, dtype=np.float64)
        payload[f"embed_h1_{step}"] = np.asarray(dg["embed"].h1, dtype=np.float64).reshape(-1, 2)
        payload[f"plane_h1_{step}"] = np.asarray(dg["plane"].h1, dtype=np.float64).reshape(-1, 2)
        payload[f"plane_points_{step}"] = np.asarray(dg["plane_points"], dtype=np.float64)
    savez_atomic(path, **payload)


def load_run_diagrams(path) -> dict:
    """Read :func:`save_run_diagrams`: ``{step: {'embed_h0', 'embed_h1', 'plane_h1', 'plane_points'}}``."""
    with reading(path, "grokking diagram file"), np.load(Path(path), allow_pickle=False) as npz:
        return {int(s): {k: npz[f"{k}_{s}"] for k in DIAGRAM_KEYS} for s in npz["steps"]}
