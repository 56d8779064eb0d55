"""Ingestion of external training logs: reading the file(s), renaming columns, coercing types, and
recording every problem in an issue table (:func:`load_log`).

Columns are renamed to our names (``run_id, training_step, loss, capability_score, beta_estimate,
beta_uncertainty, grokking_detected, n_params_millions``; other columns are kept as they are), types
are checked, rows are sorted by (run, step), and every problem is written to an issue table, one row
per (issue, column, row), and summarised in warning lines naming the file lines. Nothing is dropped
silently: rows with a missing, negative or duplicate step (or a missing run id) are kept in
``data`` with ``usable = False`` and left out of every analysis; a missing or invalid value in one
column leaves the row out of that column's analyses only.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from toposcale.experiments.external.schema import (FLAG_COLUMN, ISSUE_COLUMNS, ISSUE_LABELS, NUMERIC_COLUMNS,
                                                   ExternalLog, apply_mapping, format_value)
from toposcale.io import read_table

_NA_TOKENS = {"", "na", "n/a", "nan", "null", "none"}
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
#: File suffixes an external log may have (CSV/TSV cells are read as text, see :func:`read_log_file`).
LOG_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".txt")


def read_log_file(path):
    """Read a CSV/TSV (all cells as text, so bad values can be reported verbatim) or Parquet file.

    The file is read by :func:`toposcale.io.read_table` (``text=True``); ``.txt`` is read as CSV.

    Raises
    ------
    ValueError
        When ``path`` is not a file (naming ``external.logs[].path``) or its suffix is none of
        :data:`LOG_SUFFIXES`.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"external log {path} does not exist or is not a file; check external.logs[].path")
    suffix = path.suffix.lower()
    if suffix not in LOG_SUFFIXES:
        raise ValueError(f"external log {path}: unknown file type {suffix!r}; use .csv, .tsv or .parquet")
    return read_table(path, text=True)


def _toposcale_files(path) -> list:
    """``log.csv`` files for the toposcale_log schema: a list of files, a file, or every ``*/log.csv`` under
    a folder."""
    if isinstance(path, (list, tuple)):
        if not path:
            raise ValueError("external log: an empty list of log.csv files was given")
        return [Path(p) for p in path]
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*/log.csv")) or sorted(path.glob("runs/*/log.csv"))
        if not files:
            raise ValueError(f"external log folder {path} holds no */log.csv or runs/*/log.csv files")
        return files
    return [path]


def _toposcale_run_size(log_file: Path) -> float:
    """Non-embedding parameters in millions from the ``run.json`` beside ``log_file`` (NaN if absent)."""
    meta = log_file.with_name("run.json")
    if not meta.is_file():
        return float("nan")
    with open(meta) as fh:
        return float(json.load(fh).get("n_nonembed", float("nan"))) / 1e6


def _read_raw(path, schema: str):
    """Read the file(s) of a log; for toposcale logs add run_id (the run folder) and size."""
    if schema != "toposcale_log":
        path = Path(path)
        raw = read_log_file(path)
        raw["source_file"] = str(path)
        raw["source_row"] = np.arange(len(raw))
        return raw
    frames = []
    for f in _toposcale_files(path):
        df = read_log_file(f)
        df["run_id"] = f.parent.name
        df["n_params_millions"] = _toposcale_run_size(f)
        df["source_file"] = str(f)
        df["source_row"] = np.arange(len(df))
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _issue(name, issue, column, run_id, row, line, value, action):
    return {"log": name, "issue": issue, "column": column, "run_id": run_id, "row": int(row),
            "line": line, "value": value, "action": action}


def _text(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip()


def _coerce_numeric(df, col, name, issues, lines):
    """Convert ``col`` to float, recording missing, non-numeric and non-finite cells."""
    if col not in df.columns:
        df[col] = np.nan
        return
    raw = df[col]
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    if col != "training_step" and raw.map(lambda v: _text(v).lower() in _NA_TOKENS).all():
        df[col] = values  # an empty analysis column is reported once by load_log, not row by row
        return
    action = ("row excluded from all analyses" if col == "training_step"
              else f"row excluded from analyses of {col}")
    for i in np.flatnonzero(~np.isfinite(values.to_numpy())):
        text = _text(raw.iloc[i])
        kind = ("missing" if text.lower() in _NA_TOKENS else
                "non_finite" if np.isinf(values.iloc[i]) else "non_numeric")
        issues.append(_issue(name, kind, col, df["run_id"].iloc[i], df["source_row"].iloc[i],
                             lines[i], text, action))
    values[~np.isfinite(values)] = np.nan
    df[col] = values


def _coerce_flag(df, name, issues, lines):
    """Parse ``grokking_detected`` (true/false, yes/no, 1/0) to a nullable boolean."""
    if FLAG_COLUMN not in df.columns or df[FLAG_COLUMN].map(lambda v: _text(v).lower() in _NA_TOKENS).all():
        df[FLAG_COLUMN] = pd.array([pd.NA] * len(df), dtype="boolean")  # reported once by load_log
        return
    out = []
    for i, v in enumerate(df[FLAG_COLUMN]):
        text = _text(v).lower()
        if isinstance(v, (bool, np.bool_)):
            out.append(bool(v))
        elif text in _TRUE or text in _FALSE:
            out.append(text in _TRUE)
        else:
            kind = "missing" if text in _NA_TOKENS else "invalid_flag"
            issues.append(_issue(name, kind, FLAG_COLUMN, df["run_id"].iloc[i], df["source_row"].iloc[i],
                                 lines[i], _text(v), "treated as not flagged (False)"))
            out.append(pd.NA)
    df[FLAG_COLUMN] = pd.array(out, dtype="boolean")


def _check_run_ids(df, name, issues, lines):
    """Rows without a run id (empty cell) are reported and unusable; ids are stripped strings."""
    missing = df["run_id"].map(lambda v: _text(v) == "").to_numpy()
    for i in np.flatnonzero(missing):
        issues.append(_issue(name, "missing", "run_id", "", df["source_row"].iloc[i], lines[i], "",
                             "row excluded from all analyses"))
    df["run_id"] = df["run_id"].map(_text)
    return ~missing


def _check_steps(df, name, issues, lines):
    """Flag negative, non-integer and duplicate steps; return the mask of rows with a valid step."""
    step = df["training_step"].to_numpy()
    ok = np.isfinite(step)
    for i in np.flatnonzero(ok & (step < 0)):
        issues.append(_issue(name, "negative_step", "training_step", df["run_id"].iloc[i],
                             df["source_row"].iloc[i], lines[i], format_value(step[i]),
                             "row excluded from all analyses"))
    ok &= ~(step < 0)
    for i in np.flatnonzero(ok & (np.round(step) != step)):
        issues.append(_issue(name, "non_integer_step", "training_step", df["run_id"].iloc[i],
                             df["source_row"].iloc[i], lines[i], format_value(step[i]), "kept as given"))
    seen = {}
    for i in np.flatnonzero(ok):
        key = (df["run_id"].iloc[i], step[i])
        if key in seen:
            first = seen[key]
            issues.append(_issue(name, "duplicate_step", "training_step", key[0], df["source_row"].iloc[i],
                                 lines[i], format_value(step[i]),
                                 f"row excluded from all analyses (first occurrence, row {first}, kept)"))
            ok[i] = False
        else:
            seen[key] = int(df["source_row"].iloc[i])
    return ok


def _check_ranges(df, name, issues, lines):
    """Capability outside [0, 1] (kept), non-positive beta and negative uncertainty (excluded there)."""
    checks = [("capability_score", lambda v: (v < 0) | (v > 1), "out_of_range", "kept as given"),
              ("loss", lambda v: v < 0, "out_of_range", "kept as given"),
              ("beta_estimate", lambda v: v <= 0, "non_positive_beta",
               "row excluded from analyses of beta_estimate (ratios and logs need beta > 0)"),
              ("beta_uncertainty", lambda v: v < 0, "out_of_range",
               "row excluded from analyses of beta_uncertainty")]
    for col, bad_fn, kind, action in checks:
        v = df[col].to_numpy()
        with np.errstate(invalid="ignore"):
            bad = np.isfinite(v) & bad_fn(v)
        for i in np.flatnonzero(bad):
            issues.append(_issue(name, kind, col, df["run_id"].iloc[i], df["source_row"].iloc[i],
                                 lines[i], format_value(v[i]), action))
        if action.startswith("row excluded"):
            df.loc[bad, col] = np.nan


def _check_order(df, name, issues, lines):
    """Record runs whose valid steps (finite, >= 0) are not increasing in file order; they are re-sorted."""
    step_all = df["training_step"].to_numpy()
    for run, idx in df.groupby("run_id", sort=False).indices.items():
        step = step_all[idx]
        valid = idx[np.isfinite(step) & (step >= 0)]
        back = np.flatnonzero(np.diff(step_all[valid]) < 0)
        if back.size:
            i = valid[back[0] + 1]
            issues.append(_issue(name, "unsorted_steps", "training_step", run, df["source_row"].iloc[i], lines[i],
                                 format_value(step_all[i]),
                                 f"{back.size} step(s) out of order in run {run!r}; rows reordered by step"))


def _file_lines(df):
    """1-based line numbers in the source CSV (header = line 1); None for Parquet sources."""
    csv = df["source_file"].str.lower().str.endswith((".csv", ".tsv", ".txt")).to_numpy()
    rows = df["source_row"].to_numpy()
    return [int(r) + 2 if c else None for r, c in zip(rows, csv)]


def validate_log(df, name: str):
    """Type-check, flag and sort a renamed log (see the module docstring); returns ``(data, issues)``."""
    df = df.copy().reset_index(drop=True)
    if "run_id" not in df.columns:
        df["run_id"] = name
    lines = _file_lines(df)
    issues: list = []
    has_run = _check_run_ids(df, name, issues, lines)
    for col in NUMERIC_COLUMNS:
        _coerce_numeric(df, col, name, issues, lines)
    _coerce_flag(df, name, issues, lines)
    _check_ranges(df, name, issues, lines)
    usable = has_run & _check_steps(df, name, issues, lines)
    _check_order(df, name, issues, lines)
    df["usable"] = usable
    run_order = {r: k for k, r in enumerate(dict.fromkeys(df["run_id"]))}
    df["_run_order"] = df["run_id"].map(run_order)
    df = df.sort_values(["_run_order", "training_step", "source_row"], kind="stable", na_position="last")
    df = df.drop(columns="_run_order").reset_index(drop=True)
    issue_df = pd.DataFrame(issues, columns=ISSUE_COLUMNS)
    return df, issue_df


def summarise_issues(issues, name: str) -> list:
    """One line per (issue, column, action): how many rows, which file lines (CSV; the header is
    line 1) or 0-based data rows (Parquet), and what was done with them."""
    out = []
    for (kind, col, action), grp in issues.groupby(["issue", "column", "action"], sort=False):
        lines = [v for v in grp["line"] if v is not None and v == v]
        if len(lines) == len(grp):
            where = [f"line {int(v)}" for v in lines]
        else:
            where = [f"row {int(v)}" for v in grp["row"]]
        shown = ", ".join(where[:10]) + (f", ... ({len(where) - 10} more)" if len(where) > 10 else "")
        if len(lines) < len(grp):
            shown += " (0-based data rows)"
        out.append(f"external log {name!r}: {len(grp)} row(s) with {ISSUE_LABELS.get(kind, kind)} in {col} "
                   f"({shown}): {action}")
    return out


def load_log(path, *, schema: str = "beta_trajectory", mapping: dict | None = None,
             name: str | None = None, warn: bool = True) -> ExternalLog:
    """Read, rename, validate and sort an external training log.

    Parameters
    ----------
    path : str, Path or list of them
        A CSV/TSV/Parquet file. For ``schema='toposcale_log'`` also a folder (every ``*/log.csv``, or
        ``runs/*/log.csv``, below it is one run named after its folder) or a list of ``log.csv`` files
        (the workflow passes its rule's inputs, so the table never depends on which other runs' logs
        happen to exist yet).
    schema : {'beta_trajectory', 'toposcale_log', 'custom'}
        Built-in column mapping (see :data:`SCHEMA_MAPPINGS`); toposcale logs map ``step`` to
        ``training_step`` and ``val_loss`` to ``loss`` and have no capability or beta.
    mapping : dict, optional
        ``{our_column: their_column}`` applied on top of the schema's mapping.
    name : str, optional
        Log name for messages (default: the file stem).
    warn : bool
        Emit each summary line as a ``UserWarning``.

    Returns
    -------
    ExternalLog
    """
    raw = _read_raw(path, schema)
    name = name or Path(path[0] if isinstance(path, (list, tuple)) else path).stem
    df = apply_mapping(raw, schema, mapping, name)
    data, issues = validate_log(df, name)
    messages = summarise_issues(issues, name)
    absent = [c for c in ("loss", "capability_score", "beta_estimate", "beta_uncertainty", FLAG_COLUMN,
                          "n_params_millions")
              if data[c].isna().all()]
    if absent:
        messages.append(f"external log {name!r}: no values for {', '.join(absent)}; "
                        f"analyses that need them are reported as untestable")
    if warn:
        for m in messages:
            warnings.warn(m, UserWarning, stacklevel=2)
    return ExternalLog(name=name, data=data, issues=issues, messages=messages, schema=schema)
