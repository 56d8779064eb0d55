"""File IO: atomic writes, safetensors checkpoints, tables, and the provenance (versions) outputs record.

Every write goes to a temporary name in the same folder and is renamed: a killed job can leave a stale
temporary file but never a half-written file under its final name, so Snakemake (and the next job) never
mistakes a partial output for a finished one. Checkpoints are safetensors only (never pickle); loading
validates the file and turns any failure into :class:`CheckpointError` naming the file and the fix.
The per-layer persistence jobs import this module, so at the top it imports only the standard library,
numpy and safetensors' numpy-free reader (pandas and torch are imported where they are needed).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
from importlib import metadata as package_metadata
from pathlib import Path

import numpy as np
from safetensors import safe_open

from toposcale import __version__


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
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def write_csv_atomic(df, path) -> None:
    """Write a DataFrame to CSV (no index column) atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)

class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated or does not match the model."""


def save_state(path, tensors: dict, metadata: dict | None = None) -> None:
    """Save a dict of tensors (torch) with string metadata to ``path`` atomically."""
    from safetensors.torch import save_file  # imports torch (2 s): only training jobs save checkpoints

    clean = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(clean, str(tmp), metadata={k: str(v) for k, v in (metadata or {}).items()})


def load_state(path, framework: str = "pt") -> tuple[dict, dict]:
    """Return ``(tensors, metadata)`` from a safetensors file (``framework`` 'pt' or 'np')."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; rerun its training rule")
    try:
        with safe_open(str(path), framework=framework) as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # safetensors raises several types for truncated/corrupt headers
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({type(exc).__name__}: {exc}); delete it and rerun "
            f"snakemake to retrain that run (training resumes from its last good state)") from exc
    return tensors, meta


def load_model_weights(model, path) -> dict:
    """Load a checkpoint's tensors into ``model`` strictly; return its metadata."""
    tensors, meta = load_state(path)
    missing = set(model.state_dict()) - set(tensors)
    unexpected = set(tensors) - set(model.state_dict())
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {path} does not match the model (missing {sorted(missing)[:3]}, "
                              f"unexpected {sorted(unexpected)[:3]}); was it written by another config?")
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} does not match the model: {exc}") from exc
    return meta


def read_table(path, text: bool = False):
    """Read a table by its suffix: ``.parquet``/``.pq`` (pandas), ``.tsv``/``.tab`` (tab-separated),
    ``.json`` (the parsed JSON object, not a DataFrame), anything else as CSV.

    The one table reader of the project. ``text=True`` reads CSV/TSV cells as strings with no NA
    conversion, so a caller can report a bad value verbatim. A missing file raises ``FileNotFoundError``
    naming it; callers add which config key or rule made the path.
    """
    import pandas as pd  # pandas costs ~0.4 s to import; the per-layer persistence jobs import this module

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"table {path} does not exist or is not a file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return json.loads(path.read_text())
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    sep = "\t" if suffix in (".tsv", ".tab") else ","
    if text:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    return pd.read_csv(path, sep=sep)


def versions(*packages: str) -> dict:
    """Provenance for an output: Python, platform, toposcale and numpy versions, plus each of ``packages``
    that is installed (read from package metadata, so nothing heavy is imported)."""
    out = {"python": sys.version.split()[0], "platform": platform.platform(), "toposcale": __version__}
    for pkg in ("numpy", *packages):
        try:
            out[pkg] = package_metadata.version(pkg)
        except package_metadata.PackageNotFoundError:
            pass
    return out
