"""Atomic file writes: write to a temporary name in the same folder, then rename.

A killed job can leave a stale temporary file but never a half-written file under its final name, so
Snakemake (and the next job) never mistakes a partial output for a finished one. Standard library only:
the per-layer persistence jobs import this.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success rename it to ``path``, on error delete it.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def savez_atomic(path, **arrays) -> None:
    """``numpy.savez`` to ``path`` atomically (``path`` keeps its name: no ``.npz`` is appended)."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def write_csv_atomic(df, path) -> None:
    """Write a DataFrame to CSV (no index column) atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
