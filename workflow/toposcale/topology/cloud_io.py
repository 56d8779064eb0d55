"""Reading cloud files ``clouds/{run}/step{step}.npz`` (written by :func:`toposcale.topology.clouds.write_clouds`).

numpy only (plus :mod:`toposcale.io`): the persistence and subsample-interval jobs read these files. A
missing, truncated or corrupt file, or one whose entries break the layout below, raises
:class:`toposcale.io.InputFileError` naming the file and the ``snakemake`` command that rebuilds it.
"""

from __future__ import annotations

import numpy as np

from toposcale.io import load_npz, reading

__all__ = ["load_clouds"]

KIND = "cloud file"


def load_clouds(path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every cloud of a clouds file: ``"{source}/{layer}"`` -> ``(points, baselines)``, in file order.

    ``points`` is the (n, d) float64 cloud, ``baselines`` the 3 numbers stored beside it under
    ``"{source}/{layer}/baselines"`` (Frobenius norm, total variance, mean pairwise distance).
    """
    arrays = load_npz(path, KIND)
    out = {}
    with reading(path, KIND):
        for key, X in arrays.items():
            if key.endswith("/baselines"):
                continue
            if key.count("/") != 1 or X.ndim != 2:
                raise ValueError(f"entry {key!r} is not a {{source}}/{{layer}} (n, d) cloud (shape {X.shape})")
            out[key] = (X, arrays[key + "/baselines"])
    return out
