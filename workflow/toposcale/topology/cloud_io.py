"""Reading cloud files ``clouds/{run}/step{step}.npz`` (written by :func:`toposcale.topology.clouds.write_clouds`).

numpy only (plus :mod:`toposcale.io`): the persistence and subsample-interval jobs read these files. A
missing, truncated or corrupt file, or one whose entries break the layout below, raises
:class:`toposcale.io.InputFileError` naming the file and the ``snakemake`` command that rebuilds it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toposcale.io import reading
from toposcale.topology.distances import CloudError

__all__ = ["load_clouds"]

KIND = "cloud file"


def load_clouds(path, only: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The clouds of a clouds file: ``"{source}/{layer}"`` -> ``(points, baselines)``, in file order.

    ``points`` is the (n, d) float64 cloud, ``baselines`` the 3 numbers stored beside it under
    ``"{source}/{layer}/baselines"`` (Frobenius norm, total variance, mean pairwise distance). With
    ``only`` (``"{source}/{layer}"``) just that cloud is read (a per-layer job reads no other layer); a
    file without it raises :class:`~toposcale.topology.distances.CloudError` naming the layers it has.
    """
    with reading(path, KIND), np.load(Path(path), allow_pickle=False) as npz:
        keys = [k for k in npz.files if not k.endswith("/baselines")]
        wanted = keys if only is None else [k for k in keys if k == only]
        out = {}
        for key in wanted:
            X, base = npz[key], npz[key + "/baselines"]
            if key.count("/") != 1 or X.ndim != 2 or base.shape != (3,):
                raise ValueError(f"entry {key!r} is not a {{source}}/{{layer}} (n, d) cloud with 3 baselines "
                                 f"(shapes {X.shape}, {base.shape})")
            out[key] = (X, base)
    if only is not None and not out:
        raise CloudError(f"clouds file {path} has no layer {only!r} (has {keys})")
    return out
