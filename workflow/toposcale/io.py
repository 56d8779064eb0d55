"""File IO: atomic writes, safetensors checkpoints, tables, and the provenance outputs record.

Every write goes to a temporary name in the same folder and is renamed: a killed job can leave a stale
temporary file but never a half-written file under its final name, so Snakemake (and the next job) never
mistakes a partial output for a finished one. Checkpoints are safetensors only (never pickle); loading
validates the file and turns any failure into :class:`CheckpointError` naming the file and the fix.

Provenance (:mod:`toposcale.provenance`): every table writer here records the provenance of the job that
wrote it: CSV, JSON and text tables in a sidecar ``<file>.provenance.json`` (the table itself is unchanged,
so pandas and external readers read it as before), parquet tables in the file's schema metadata under
:data:`PROVENANCE_KEY` (``pandas.read_parquet`` ignores it). :func:`read_provenance` reads either, and the
text chunk of a PNG figure (:func:`toposcale.report.plots.style.save`).

Corrupt inputs: :func:`reading` turns any failure to read a results file into one line naming the file and
the ``snakemake`` command that rebuilds it (:class:`InputFileError`).
The per-layer persistence jobs import this module, so at the top it imports only the standard library,
numpy and safetensors' numpy-free reader (pandas and torch are imported where they are needed).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shlex
import shutil
import sys
import zipfile
import zlib
from importlib import metadata as package_metadata
from pathlib import Path

import numpy as np
from safetensors import safe_open

from toposcale import __version__
from toposcale import provenance as _provenance

#: Key of the provenance record: in a parquet file's schema metadata and a PNG's text chunks.
PROVENANCE_KEY = "toposcale.provenance"
#: Suffix of the sidecar file that holds the provenance of a CSV, JSON or text table.
SIDECAR_SUFFIX = ".provenance.json"


class InputFileError(ValueError):
    """A results file a job reads is missing, truncated or corrupt; the message names the file and the
    ``snakemake`` command that rebuilds it (:func:`rebuild_hint`)."""


def rebuild_hint(path) -> str:
    """The command that rebuilds results file ``path``: snakemake with ``path`` as its target.

    Examples
    --------
    >>> rebuild_hint("results/nulls/r/weights/step0000004/embed.npz")
    'rerun `snakemake --cores 1 results/nulls/r/weights/step0000004/embed.npz` (with the --configfile you ran)'
    """
    return f"rerun `snakemake --cores 1 {shlex.quote(str(path))}` (with the --configfile you ran)"


def input_file_error(kind: str, path, exc: BaseException | None = None) -> InputFileError:
    """:class:`InputFileError` for ``path`` (``kind``: 'null file', 'cloud file', ...) in one line:
    ``missing KIND PATH: rerun ...`` or ``corrupt KIND PATH (Type: reason): delete it and rerun ...``."""
    if exc is None or isinstance(exc, FileNotFoundError):
        return InputFileError(f"missing {kind} {path}: {rebuild_hint(path)}")
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())
    return InputFileError(f"corrupt {kind} {path} ({reason}): delete it and {rebuild_hint(path)}")


#: Exceptions that reading a truncated or corrupt file raises (zip, zlib, numpy, JSON, pandas, pyarrow
#: parse errors are ValueErrors; KeyError: an expected entry is absent).
READ_ERRORS = (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error)


@contextlib.contextmanager
def reading(path, kind: str):
    """Turn a failure while reading ``path`` into :class:`InputFileError` (:func:`input_file_error`).

    Wrap only the reading (not the computation on what was read), so an unrelated error keeps its own
    message.

    Examples
    --------
    >>> with reading("results/clouds/r/step0000000.npz", "cloud file"):
    ...     raise zipfile.BadZipFile("File is not a zip file")
    Traceback (most recent call last):
    ...
    toposcale.io.InputFileError: corrupt cloud file results/clouds/r/step0000000.npz (BadZipFile: File is not a zip file): delete it and rerun `snakemake --cores 1 results/clouds/r/step0000000.npz` (with the --configfile you ran)
    """
    try:
        yield
    except InputFileError:
        raise
    except READ_ERRORS as exc:
        raise input_file_error(kind, path, exc) from exc


def load_npz(path, kind: str) -> dict:
    """Every array of an ``.npz`` file (no pickles), read eagerly so a corrupt member fails here,
    with :class:`InputFileError` naming the file and the fix (``kind`` names the file in the message)."""
    with reading(path, kind), np.load(Path(path), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


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


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a fresh empty folder beside ``path``; on success it replaces ``path`` (an existing folder there
    is removed first), on error it is deleted, so a half-written folder is never taken as done.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "model"
    >>> with atomic_dir(target) as tmp:
    ...     _ = (tmp / "config.json").write_text("{}")
    >>> sorted(p.name for p in target.iterdir())
    ['config.json']
    """
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def savez_atomic(path, **arrays) -> None:
    """``numpy.savez`` to ``path`` atomically (``path`` keeps its name: no ``.npz`` is appended)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def sidecar_path(path) -> Path:
    """The provenance sidecar of a table: ``<path>.provenance.json`` (``scaling.csv.provenance.json``)."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def write_provenance(path, provenance: dict | None = None) -> dict:
    """Write the sidecar of ``path`` atomically: ``provenance`` or, when ``None``, the record of this
    process (:func:`toposcale.provenance.current`). Returns the record written."""
    rec = dict(_provenance.current() if provenance is None else provenance)
    with atomic_path(sidecar_path(path)) as tmp:
        tmp.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n")
    return rec


def write_csv_atomic(df, path, provenance: dict | None = None) -> None:
    """Write a DataFrame to CSV (no index column) atomically, and its provenance sidecar
    (:func:`write_provenance`; ``provenance=None``: this process's record)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    write_provenance(path, provenance)


def write_parquet_atomic(df, path, provenance: dict | None = None) -> None:
    """Write a DataFrame to parquet (no index) atomically, with the provenance record as JSON under
    :data:`PROVENANCE_KEY` in the schema metadata (beside pandas' own metadata)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rec = _provenance.current() if provenance is None else provenance
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[PROVENANCE_KEY.encode()] = json.dumps(rec, sort_keys=True).encode()
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp)


def write_json_atomic(obj, path, provenance: dict | None = None, **dumps_kwargs) -> None:
    """``json.dumps(obj, **dumps_kwargs)`` to ``path`` atomically, and its provenance sidecar."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, **dumps_kwargs))
    write_provenance(path, provenance)


def write_text_atomic(text: str, path, provenance: dict | None = None) -> None:
    """``text`` to ``path`` atomically (a Markdown report, say), and its provenance sidecar."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    write_provenance(path, provenance)


def read_provenance(path) -> dict | None:
    """The provenance record of an output: the sidecar ``<path>.provenance.json`` when it exists, else
    the parquet schema metadata (``.parquet``/``.pq``) or the PNG text chunk (``.png``) under
    :data:`PROVENANCE_KEY`; ``None`` when the output records none."""
    path = Path(path)
    side = sidecar_path(path)
    if side.is_file():
        return json.loads(side.read_text())
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        raw = (pq.read_schema(path).metadata or {}).get(PROVENANCE_KEY.encode())
        return json.loads(raw) if raw else None
    if suffix == ".png":
        from PIL import Image

        with Image.open(path) as img:
            raw = img.text.get(PROVENANCE_KEY)
        return json.loads(raw) if raw else None
    return None


class CheckpointError(InputFileError):
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
        raise CheckpointError(f"missing checkpoint {path}: {rebuild_hint(path)} to retrain its run")
    try:
        with safe_open(str(path), framework=framework) as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # safetensors raises several types for truncated/corrupt headers
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise CheckpointError(
            f"corrupt or truncated checkpoint {path} ({reason}): delete it and {rebuild_hint(path)} "
            f"to retrain its run") from exc
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


#: Columns every training log (``runs/{run}/log.csv``) has (toposcale.train.trainer.LOG_COLUMNS' first four).
RUN_LOG_COLUMNS = ("step", "tokens", "train_loss", "val_loss")
#: Keys every ``runs/{run}/run.json`` has that readers rely on.
RUN_INFO_KEYS = ("name", "total_steps")


def read_run_info(path) -> dict:
    """A run's ``run.json`` (the training rule writes it last). Missing, not JSON, not an object or
    without :data:`RUN_INFO_KEYS`: :class:`InputFileError` naming the file and the command that rebuilds it."""
    path = Path(path)
    if not path.is_file():
        raise input_file_error("run file", path)
    with reading(path, "run file"):
        info = json.loads(path.read_text())
        if not isinstance(info, dict):
            raise ValueError(f"not a JSON object but {type(info).__name__}")
        missing = [k for k in RUN_INFO_KEYS if k not in info]
        if missing:
            raise KeyError(f"lacks {missing}")
    return info


def read_run_log(path):
    """A run's training log ``log.csv`` as a DataFrame. Missing, unparsable, cut short (the writer ends
    every row with a newline, so a file that does not end with one was truncated) or without
    :data:`RUN_LOG_COLUMNS`: :class:`InputFileError` naming the file and the command that rebuilds it."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise input_file_error("training log", path)
    with reading(path, "training log"):
        raw = path.read_bytes()
        if not raw.endswith(b"\n"):
            raise EOFError("the last row is cut short (no final newline)")
        df = pd.read_csv(path)
        missing = [c for c in RUN_LOG_COLUMNS if c not in df.columns]
        if missing:
            raise KeyError(f"lacks columns {missing}")
    return df


def versions(*packages: str) -> dict:
    """Software versions (run.json's ``versions``): Python, platform, toposcale and numpy versions, plus each
    of ``packages`` that is installed (read from package metadata, so nothing heavy is imported). The config
    hash and git revision of an output are :mod:`toposcale.provenance`'s record."""
    out = {"python": sys.version.split()[0], "platform": platform.platform(), "toposcale": __version__}
    for pkg in ("numpy", *packages):
        try:
            out[pkg] = package_metadata.version(pkg)
        except package_metadata.PackageNotFoundError:
            pass
    return out
