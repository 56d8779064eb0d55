"""External training logs: ingestion, transition detection and falsification tests of "beta" claims.

The "beta-trajectory" schema
----------------------------
A published, explicitly *synthetic* dataset of LLM training runs has the columns ``run_id,
model_family, architecture, n_params_millions, dataset, training_step, loss, capability_score,
R_proxy, Theta_proxy, beta_estimate, beta_uncertainty, field_type, grokking_detected, notes``. Its
authors claim that a logistic steepness ``beta`` (their column ``beta_estimate``)

1. climbs a *ladder*: successive plateaus differ by the ratio ``Phi**(1/3) = 1.1740``;
2. *spikes* while ``grokking_detected`` is true;
3. converges to the *fixpoint* ``Phi**3 = 4.2361``  (``Phi = (1 + sqrt 5) / 2``).

This module makes such claims testable on any log in that schema, on our own
``results/runs/{run}/log.csv`` files, or on any table given a column mapping.

Ingestion (:func:`load_log`)
----------------------------
Columns are renamed to our names (``run_id, training_step, loss, capability_score, beta_estimate,
beta_uncertainty, grokking_detected, n_params_millions``; other columns are kept as they are), types
are checked, rows are sorted by (run, step), and every problem is written to an issue table, one row
per (issue, column, row), and summarised in warning lines naming the file lines. Nothing is dropped
silently: rows with a missing, negative or duplicate step (or a missing run id) are kept in
``data`` with ``usable = False`` and left out of every analysis; a missing or invalid value in one
column leaves the row out of that column's analyses only.

Analyses (:func:`analyse_log`)
------------------------------
All of them place rows on a ``log10(step)`` axis, so step-0 rows are left out of them (they stay in
the tables).

* Logistic fits of capability and loss against ``log10(step)`` per run, and of final capability
  against ``log10(parameters)`` across runs, each compared with power-law and linear nulls by AICc:
  see :mod:`toposcale.analysis.logistic`.
* Transitions in loss and capability: :func:`toposcale.analysis.changepoint.detect_change_points` on each
  run's series against ``log10(step)``, matched to the log's grokking windows within a tolerance in
  decades of step (:func:`match_transitions`: precision and recall, per run and pooled).
* Plateaus of ``beta_estimate`` per run (:func:`plateaus`): piecewise-linear PELT segmentation of
  ``ln(beta)`` (shared :func:`toposcale.analysis.changepoint.pelt`), rows inside grokking windows excluded
  because the claims treat the spike separately; a plateau's beta is the geometric mean of its rows.
* Claims, each with a stated null, a p-value and a verdict -- ``survives``, ``falsified`` (the data
  contradict the claimed number), ``not supported`` (no evidence for the claimed effect) or
  ``untestable`` (not enough data):

  - :func:`ladder_test`: successive plateau ratios in step order vs ``Phi**(1/3)``, against random
    reorderings of each run's plateaus, plus a sign test that the plateaus are flat
    (:func:`plateau_flatness`);
  - :func:`fixpoint_test`: final beta per run vs ``Phi**3`` (t-test over runs, equivalence margin);
  - :func:`spike_test`: rate of change of ``ln(beta)`` inside vs outside grokking windows, against
    random rotations of the windows.

Outputs (:func:`write_analysis`): ``external_{name}.csv`` (:data:`FITS_COLUMNS`: one row per run and
series, plus pooled ``run_id = ALL`` rows), ``external_{name}_claims.csv`` (:data:`CLAIMS_COLUMNS`),
``external_{name}_series.csv`` (:data:`SERIES_COLUMNS`: the usable rows with plateaus and change
points, for the figure) and ``external_{name}_issues.csv`` (:data:`ISSUE_COLUMNS`).

Synthetic logs with planted effects: :func:`make_synthetic_log`, and on the command line
``python -m toposcale.experiments.external make-example OUT.csv [--null]``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toposcale.io import write_csv_atomic

#: The golden ratio.
PHI = (1.0 + math.sqrt(5.0)) / 2.0
#: Claimed ratio of successive beta plateaus, ``Phi**(1/3)`` (1.1740).
LADDER_RATIO = PHI ** (1.0 / 3.0)
#: Claimed final value of beta, ``Phi**3`` (4.2361).
FIXPOINT = PHI ** 3

BETA_TRAJECTORY_COLUMNS = [
    "run_id", "model_family", "architecture", "n_params_millions", "dataset", "training_step", "loss",
    "capability_score", "R_proxy", "Theta_proxy", "beta_estimate", "beta_uncertainty", "field_type",
    "grokking_detected", "notes"]
#: Our column names that analyses read, and their types.
NUMERIC_COLUMNS = ["training_step", "loss", "capability_score", "beta_estimate", "beta_uncertainty",
                   "n_params_millions"]
FLAG_COLUMN = "grokking_detected"
ANALYSIS_COLUMNS = ["run_id", *NUMERIC_COLUMNS, FLAG_COLUMN]
#: Built-in mappings ``our column -> the log's column``; a config ``mapping`` is applied on top.
SCHEMA_MAPPINGS = {
    "beta_trajectory": {c: c for c in BETA_TRAJECTORY_COLUMNS},
    "toposcale_log": {"training_step": "step", "loss": "val_loss"},
    "custom": {},
}
#: Issue kinds in the issue table and how the warning lines describe them.
ISSUE_LABELS = {"missing": "a missing value", "non_numeric": "a non-numeric value", "non_finite": "an infinite value",
                "negative_step": "a negative step", "non_integer_step": "a non-integer step",
                "duplicate_step": "a duplicate step", "unsorted_steps": "steps out of order",
                "invalid_flag": "an unreadable flag", "out_of_range": "a value out of range",
                "non_positive_beta": "a non-positive beta"}
ISSUE_COLUMNS = ["log", "issue", "column", "run_id", "row", "line", "value", "action"]
#: Columns of ``external_{name}.csv``. One row per (run_id, series) with series in loss,
#: capability_score (x_variable ``log10_step``), plus pooled rows with ``run_id = ALL``: per series
#: (transition counts, precision, recall only) and ``final_capability_score`` against
#: ``log10_params`` (the last capability of each run vs log10 of its parameter count).
#: ``beta`` is the logistic steepness per decade of x, ``x0`` its midpoint in log10 units and
#: ``midpoint = 10**x0`` in steps (or parameters); ``*_ci_*`` are bootstrap percentile intervals;
#: ``aicc_*``, ``best_model``, ``delta_aicc`` and ``logistic_supported`` come from
#: :mod:`toposcale.analysis.logistic`. ``change_point_steps`` lists (';'-separated) the first step of each new
#: segment found by the change-point detector (``cp_p_value``, ``cp_method`` from it);
#: ``window_steps`` the grokking windows as first-last flagged step; ``n_detected_matched``,
#: ``n_windows_hit``, ``precision``, ``recall`` as in :func:`match_transitions`.
FITS_COLUMNS = [
    "run_id", "n_params_millions", "series", "x_variable", "n", "lo", "hi", "beta", "beta_ci_low",
    "beta_ci_high", "x0", "x0_ci_low", "x0_ci_high", "midpoint", "rss", "converged", "beta_at_bound",
    "n_boot_ok", "aicc_logistic", "aicc_power_law", "aicc_linear", "best_model", "best_null",
    "delta_aicc", "logistic_supported", "support_reason", "n_change_points", "change_point_steps",
    "cp_p_value", "cp_method", "n_windows", "window_steps", "n_detected_matched", "n_windows_hit",
    "precision", "recall", "tolerance_decades"]
#: Columns of ``external_{name}_claims.csv``: one row per claim (ladder, fixpoint, grokking_spike).
CLAIMS_COLUMNS = ["claim", "statement", "null_hypothesis", "statistic", "statistic_value", "p_value",
                  "estimate", "ci_low", "ci_high", "target", "n", "verdict", "survives", "detail"]
#: Columns of ``external_{name}_series.csv``: the usable rows, ``in_window`` (grokking flag, missing as
#: False), the row's beta plateau (NaN for rows outside plateau analysis) and whether a loss or
#: capability change point starts at the row.
SERIES_COLUMNS = ["run_id", "training_step", "loss", "capability_score", "beta_estimate",
                  "beta_uncertainty", "grokking_detected", "n_params_millions", "source_row",
                  "in_window", "plateau_id", "plateau_beta", "cp_loss", "cp_capability_score"]
_NA_TOKENS = {"", "na", "n/a", "nan", "null", "none"}
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
TRANSITION_SERIES = ("loss", "capability_score")
#: Penalty per beta-plateau boundary in units of ``ln(n) sigma**2`` (BIC: a line's 2 coefficients + location).
PLATEAU_PENALTY = 3.0


# --------------------------------------------------------------------------------------------
# Ingestion
# --------------------------------------------------------------------------------------------

@dataclass
class ExternalLog:
    """An ingested log.

    Attributes
    ----------
    name : str
        The log's name (config ``external.logs[].name``).
    data : pandas.DataFrame
        Every row of the file(s), with our column names, sorted by (run order of first appearance,
        step), plus ``source_file``, ``source_row`` (0-based data row in that file) and ``usable``.
    issues : pandas.DataFrame
        One row per problem, columns :data:`ISSUE_COLUMNS`.
    messages : list of str
        One warning line per (issue, column).
    """

    name: str
    data: object
    issues: object
    messages: list = field(default_factory=list)
    schema: str = "beta_trajectory"


def read_table(path):
    """Read a CSV/TSV (all cells as text, so bad values can be reported verbatim) or Parquet file."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"external log {path} does not exist or is not a file; check external.logs[].path")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".csv", ".tsv", ".txt"):
        sep = "\t" if suffix == ".tsv" else ","
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    raise ValueError(f"external log {path}: unknown file type {suffix!r}; use .csv, .tsv or .parquet")


def _toposcale_files(path: Path) -> list:
    """``log.csv`` files for the toposcale_log schema: a file, or every ``*/log.csv`` under a folder."""
    if path.is_dir():
        files = sorted(path.glob("*/log.csv")) or sorted(path.glob("runs/*/log.csv"))
        if not files:
            raise ValueError(f"external log folder {path} holds no */log.csv or runs/*/log.csv files")
        return files
    return [path]


def _toposcale_run_size(log_file: Path) -> float:
    """Non-embedding parameters in millions from the ``run.json`` beside ``log_file`` (NaN if absent)."""
    import json

    meta = log_file.with_name("run.json")
    if not meta.is_file():
        return float("nan")
    with open(meta) as fh:
        return float(json.load(fh).get("n_nonembed", float("nan"))) / 1e6


def _read_raw(path, schema: str):
    """Read the file(s) of a log; for toposcale logs add run_id (the run folder) and size."""
    import pandas as pd

    path = Path(path)
    if schema != "toposcale_log":
        raw = read_table(path)
        raw["source_file"] = str(path)
        raw["source_row"] = np.arange(len(raw))
        return raw
    frames = []
    for f in _toposcale_files(path):
        df = read_table(f)
        df["run_id"] = f.parent.name
        df["n_params_millions"] = _toposcale_run_size(f)
        df["source_file"] = str(f)
        df["source_row"] = np.arange(len(df))
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def resolve_mapping(schema: str, mapping: dict | None) -> dict:
    """The effective ``our column -> log column`` mapping: the schema's built-in one, updated by ``mapping``."""
    if schema not in SCHEMA_MAPPINGS:
        raise ValueError(f"unknown external log schema {schema!r}; use one of {sorted(SCHEMA_MAPPINGS)}")
    out = dict(SCHEMA_MAPPINGS[schema])
    if schema == "toposcale_log":
        out.update(run_id="run_id", n_params_millions="n_params_millions")
    out.update(mapping or {})
    return out


def apply_mapping(raw, schema: str, mapping: dict | None, name: str):
    """Rename the log's columns to ours (see :func:`resolve_mapping`).

    Columns of the schema's built-in mapping may be absent (their analyses become untestable);
    columns named in ``mapping`` must exist. A log column that already carries one of our names but is
    not the mapped source is kept as ``{name}_original``.

    Raises
    ------
    ValueError
        When a column named in ``mapping`` is absent (naming it and the columns the file has), two of
        our columns map to the same log column, or there is no ``training_step`` or no analysable
        column (loss, capability_score, beta_estimate).
    """
    user = dict(mapping or {})
    theirs = list(user.values())
    dup = sorted({t for t in theirs if theirs.count(t) > 1})
    if dup:
        raise ValueError(f"external log {name!r}: mapping sends several of our columns to {dup}; "
                         f"map each log column once in external.logs[].mapping")
    for ours, col in user.items():
        if col not in raw.columns:
            raise ValueError(
                f"external log {name!r}: column {col!r} (mapped to {ours}) not found; the file has "
                f"{list(raw.columns)[:20]}; fix external.logs[].mapping ({{our_column: their_column}})")
    full = resolve_mapping(schema, user)
    renamed = {col: ours for ours, col in full.items() if col in raw.columns}
    clash = {c: f"{c}_original" for c in raw.columns if c in full and c not in renamed}
    df = raw.rename(columns=clash).rename(columns=renamed)
    if "training_step" not in df.columns:
        raise ValueError(f"external log {name!r} has no training_step column; map it with "
                         f"external.logs[].mapping: {{training_step: <their step column>}}")
    if not any(c in df.columns for c in ("loss", "capability_score", "beta_estimate")):
        raise ValueError(f"external log {name!r} has none of loss, capability_score, beta_estimate; "
                         f"map at least one with external.logs[].mapping")
    return df


def _issue(name, issue, column, run_id, row, line, value, action):
    return {"log": name, "issue": issue, "column": column, "run_id": run_id, "row": int(row),
            "line": line, "value": value, "action": action}


def _text(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip()


def _coerce_numeric(df, col, name, issues, lines):
    """Convert ``col`` to float, recording missing, non-numeric and non-finite cells."""
    import pandas as pd

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
    import pandas as pd

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
                             df["source_row"].iloc[i], lines[i], _fmt(step[i]), "row excluded from all analyses"))
    ok &= ~(step < 0)
    for i in np.flatnonzero(ok & (np.round(step) != step)):
        issues.append(_issue(name, "non_integer_step", "training_step", df["run_id"].iloc[i],
                             df["source_row"].iloc[i], lines[i], _fmt(step[i]), "kept as given"))
    seen = {}
    for i in np.flatnonzero(ok):
        key = (df["run_id"].iloc[i], step[i])
        if key in seen:
            first = seen[key]
            issues.append(_issue(name, "duplicate_step", "training_step", key[0], df["source_row"].iloc[i],
                                 lines[i], _fmt(step[i]),
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
                                 lines[i], _fmt(v[i]), action))
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
                                 _fmt(step_all[i]),
                                 f"{back.size} step(s) out of order in run {run!r}; rows reordered by step"))


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)


def _file_lines(df):
    """1-based line numbers in the source CSV (header = line 1); None for Parquet sources."""
    csv = df["source_file"].str.lower().str.endswith((".csv", ".tsv", ".txt")).to_numpy()
    rows = df["source_row"].to_numpy()
    return [int(r) + 2 if c else None for r, c in zip(rows, csv)]


def validate_log(df, name: str):
    """Type-check, flag and sort a renamed log (see the module docstring); returns ``(data, issues)``."""
    import pandas as pd

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
    path : str or Path
        A CSV/TSV/Parquet file. For ``schema='toposcale_log'`` also a folder: every ``*/log.csv``
        (or ``runs/*/log.csv``) below it is one run named after its folder.
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
    name = name or Path(path).stem
    raw = _read_raw(path, schema)
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


# --------------------------------------------------------------------------------------------
# Series helpers, plateaus and transitions
# --------------------------------------------------------------------------------------------

def run_frames(data):
    """Usable rows per run in step order: ``{run_id: DataFrame}`` (runs in order of appearance)."""
    d = data[data["usable"]]
    return {r: g.reset_index(drop=True) for r, g in d.groupby("run_id", sort=False)}


def flags_of(frame):
    """``grokking_detected`` as a plain bool array (missing or invalid counts as not flagged)."""
    return frame[FLAG_COLUMN].fillna(False).to_numpy(dtype=bool).copy()


def has_flags(data) -> bool:
    """True when the log has at least one known grokking flag value."""
    return bool(data[FLAG_COLUMN].notna().any())


def log_time(steps):
    """Training time on a log axis, ``log10(step)`` (NaN for step 0). Change points and plateaus are
    placed on this axis, so they use the rows with step > 0 only: a step-0 row sits decades before
    the next one and would dominate any line fitted through it."""
    steps = np.asarray(steps, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(steps > 0, np.log10(np.where(steps > 0, steps, 1.0)), np.nan)


def flag_windows(flags) -> list:
    """Maximal runs of consecutive True values as ``(first, last)`` index pairs (inclusive)."""
    f = np.asarray(flags, dtype=bool)
    if f.size == 0:
        return []
    edges = np.diff(np.concatenate([[0], f.astype(int), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist()))


def window_spans(steps, flags) -> list:
    """Grokking windows on the :func:`log_time` axis: ``(t_first, t_after)`` per window, where
    ``t_first`` is the first flagged row and ``t_after`` the row after the last flagged one (the
    last flagged row itself when the window reaches the end of the run)."""
    t = log_time(steps)
    return [(float(t[a]), float(t[min(b + 1, t.size - 1)])) for a, b in flag_windows(flags)]


def match_transitions(change_times, spans, tolerance: float = 0.1) -> dict:
    """Precision and recall of detected change points against flagged windows.

    Parameters
    ----------
    change_times : array-like
        :func:`log_time` of the first row of each new segment.
    spans : list of (float, float)
        Windows from :func:`window_spans`.
    tolerance : float
        Slack in decades of training step (0.1 decade is a factor 1.26 in step).

    Returns
    -------
    dict
        A change point at ``t`` *matches* window ``(t_first, t_after)`` when
        ``t_first - tolerance <= t <= t_after + tolerance`` (it starts the window, falls inside it, or
        starts the segment right after it). ``n_detected``, ``n_windows``, ``n_detected_matched``
        (change points matching some window), ``n_windows_hit`` (windows matched by some change
        point), ``precision = n_detected_matched / n_detected`` and ``recall = n_windows_hit /
        n_windows`` (NaN when the denominator is 0).
    """
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0 decades, got {tolerance}")
    times = [float(t) for t in change_times]
    hit = [[a - tolerance <= t <= b + tolerance for (a, b) in spans] for t in times]
    n_match = sum(any(h) for h in hit)
    n_hit = sum(any(h[k] for h in hit) for k in range(len(spans)))
    return {"n_detected": len(times), "n_windows": len(spans), "n_detected_matched": n_match,
            "n_windows_hit": n_hit,
            "precision": n_match / len(times) if times else float("nan"),
            "recall": n_hit / len(spans) if spans else float("nan")}


def detect(y, x=None, **kwargs) -> dict:
    """Thin wrapper over :func:`toposcale.analysis.changepoint.detect_change_points` (shared implementation)."""
    from toposcale.analysis.changepoint import detect_change_points

    return detect_change_points(np.asarray(y, float), x=None if x is None else np.asarray(x, float), **kwargs)


def plateaus(steps, beta, *, min_size: int = 3) -> list:
    """Segment one run's beta trajectory (rows in step order) into plateaus.

    ``ln(beta)`` against :func:`log_time` is segmented by :func:`toposcale.analysis.changepoint.pelt`
    (piecewise least-squares lines, every segment at least ``min_size`` rows) with the BIC penalty
    of a new line segment (intercept, slope and location: ``3 ln(n) sigma**2``),
    ``sigma`` = :func:`toposcale.analysis.changepoint.robust_sigma` of
    ``ln(beta)`` (floored at ``1e-6`` so noise-free plateaus are not split). A jump between two rows
    is a change of level the line segments cannot follow, so each step of a staircase becomes one
    segment, while a smooth climb stays in few sloped segments (:func:`plateau_flatness` then finds
    their slope). A plateau's beta is the geometric mean ``exp(mean ln beta)`` of its rows.

    Returns
    -------
    list of dict
        In step order: ``plateau_id, first_row, last_row, start_step, end_step, n_rows, beta``.
    """
    from toposcale.analysis.changepoint import pelt, robust_sigma

    steps = np.asarray(steps, float)
    logb = np.log(np.asarray(beta, float))
    if logb.size == 0:
        return []
    cps = []
    if logb.size >= 2 * min_size:
        sigma = max(robust_sigma(logb), 1e-6)
        cps = pelt(logb, log_time(steps), penalty=PLATEAU_PENALTY * math.log(logb.size) * sigma ** 2,
                   min_size=min_size)
    bounds = [0, *sorted(int(c) for c in cps), logb.size]
    return [{"plateau_id": k, "first_row": a, "last_row": b - 1, "start_step": steps[a], "end_step": steps[b - 1],
             "n_rows": b - a, "beta": float(np.exp(logb[a:b].mean()))}
            for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]


def plateau_flatness(steps, beta, segments) -> dict:
    """Sign test: do the plateaus rise (or fall) *internally*?

    A ladder has flat steps; a smooth climb cut into segments has segments that all rise. For every
    segment of 3 or more rows the least-squares slope of ``ln(beta)`` against :func:`log_time` is
    computed; under flat plateaus with symmetric noise each slope is positive or negative with
    probability 1/2. The two-sided sign test counts the rising segments among those with a non-zero
    slope. Being a count, it is robust to one segment that swallowed a few rows of its neighbour
    (which happens next to an excluded grokking window).

    Returns
    -------
    dict
        ``n_segments`` (tested), ``n_rising``, ``median_slope`` (ln beta per decade) and ``p_value``
        (NaN with no testable segment).
    """
    from scipy import stats

    lx = log_time(steps)
    lb = np.log(np.asarray(beta, float))
    slopes = []
    for sg in segments:
        sl = slice(sg["first_row"], sg["last_row"] + 1)
        x, y = lx[sl], lb[sl]
        if x.size >= 3 and np.ptp(x) > 0:
            slopes.append(float(np.polyfit(x, y, 1)[0]))
    nonzero = [v for v in slopes if v != 0]
    if not nonzero:
        return {"n_segments": 0, "n_rising": 0, "median_slope": float("nan"), "p_value": float("nan")}
    k = sum(v > 0 for v in nonzero)
    p = float(stats.binomtest(k, len(nonzero), 0.5).pvalue)
    return {"n_segments": len(nonzero), "n_rising": k, "median_slope": float(np.median(nonzero)), "p_value": p}


# --------------------------------------------------------------------------------------------
# Claims
# --------------------------------------------------------------------------------------------

def _claim(claim, statement, null, statistic, value, p, est, lo, hi, target, n, verdict, detail):
    return {"claim": claim, "statement": statement, "null_hypothesis": null, "statistic": statistic,
            "statistic_value": value, "p_value": p, "estimate": est, "ci_low": lo, "ci_high": hi,
            "target": target, "n": n, "verdict": verdict, "survives": verdict == "survives",
            "detail": detail}


def _t_interval(values, ci: float):
    from scipy import stats

    v = np.asarray(values, float)
    m = float(v.mean())
    se = float(v.std(ddof=1) / math.sqrt(v.size))
    h = float(stats.t.ppf(0.5 + ci / 2, v.size - 1)) * se
    return m, se, m - h, m + h


def _ladder_statistic(ratios_log, target_log):
    return float(np.mean(np.abs(ratios_log - target_log)))


def ladder_test(plateau_betas, *, ratio: float = LADDER_RATIO, n_permutations: int = 999,
                alpha: float = 0.05, ci: float = 0.95, seed: int = 0, flat_p: float | None = None) -> dict:
    """Test the "beta ladder": successive plateau betas differ by the factor ``ratio``.

    Parameters
    ----------
    plateau_betas : list of array-like
        One sequence per run, **in step order** (never sorted: sorting any set of values produces
        increasing, evenly spaced "steps", see the tests). Runs with fewer than 2 plateaus add nothing.
    ratio : float
        Claimed ratio (default ``Phi**(1/3)``).
    n_permutations : int
        Random within-run reorderings of the plateau betas for the null distribution.
    flat_p : float, optional
        p-value of :func:`plateau_flatness`; a value below ``alpha`` means the "plateaus" rise (or
        fall) internally (a continuous climb, not a ladder) and the claim is not supported.

    Returns
    -------
    dict
        A claims row. Statistic ``T = mean_i |ln r_i - ln ratio|`` over successive ratios
        ``r_i = b_{i+1} / b_i`` within runs (small = ladder-like). Null: the plateau betas of each run
        are exchangeable (their step order carries no ladder); ``p = (1 + #{T* <= T}) / (1 + B)``.
        Estimate: geometric mean of the ratios with a t-interval on ``ln r``. Verdict: ``survives``
        when p < alpha, the interval contains ``ratio`` and the plateaus are flat; ``falsified``
        when the interval excludes ``ratio``; ``not supported`` otherwise; ``untestable`` with fewer
        than 2 ratios.
    """
    seqs = [np.log(np.asarray(b, float)) for b in plateau_betas if len(b) >= 2]
    logr = np.concatenate([np.diff(s) for s in seqs]) if seqs else np.array([])
    statement = f"successive plateau betas (in step order) differ by the ratio {ratio:.4f}"
    null = "plateau betas within a run are exchangeable (step order carries no ladder)"
    if logr.size < 2:
        return _claim("ladder", statement, null, "mean |ln r - ln ratio|", np.nan, np.nan, np.nan, np.nan,
                      np.nan, ratio, int(logr.size), "untestable",
                      f"{logr.size} successive plateau ratio(s); at least 2 are needed")
    target = math.log(ratio)
    t_obs = _ladder_statistic(logr, target)
    rng = np.random.default_rng(seed)
    # every row of `perm` is one random within-run reordering of all runs at once
    perm = np.concatenate([np.diff(s[np.argsort(rng.random((n_permutations, s.size)), axis=1)], axis=1)
                           for s in seqs], axis=1)
    t_null = np.mean(np.abs(perm - target), axis=1)
    p = (1 + int(np.sum(t_null <= t_obs + 1e-12))) / (1 + n_permutations)
    m, _, lo, hi = _t_interval(logr, ci)
    est, ci_lo, ci_hi = math.exp(m), math.exp(lo), math.exp(hi)
    inside = ci_lo <= ratio <= ci_hi
    flat = flat_p is None or not (flat_p < alpha)
    if not inside:
        verdict = "falsified"
    elif p < alpha and flat:
        verdict = "survives"
    else:
        verdict = "not supported"
    detail = (f"{logr.size} ratios from {len(seqs)} run(s); geometric mean {est:.4f} "
              f"[{ci_lo:.4f}, {ci_hi:.4f}]; ratios range {math.exp(logr.min()):.3f}-{math.exp(logr.max()):.3f}")
    if flat_p is not None:
        detail += f"; within-plateau trend sign test p = {flat_p:.3g}" + ("" if flat else " (plateaus not flat)")
    return _claim("ladder", statement, null, "mean |ln r - ln ratio|", t_obs, p, est, ci_lo, ci_hi, ratio,
                  int(logr.size), verdict, detail)


def fixpoint_test(final_betas, *, se=None, target: float = FIXPOINT, alpha: float = 0.05, ci: float = 0.95,
                  margin: float = 0.05) -> dict:
    """Test "beta converges to ``target``" on final betas, one per run.

    Parameters
    ----------
    final_betas : array-like
        Each run's final beta. In :func:`analyse_log`: the last plateau's beta when the run has two or
        more plateaus, otherwise (a single segment is a climb, not a plateau) ``beta_estimate`` of the
        run's last row outside grokking windows.
    se : array-like, optional
        Standard errors of ``final_betas`` (from the spread of the last plateau's rows, or the log's
        ``beta_uncertainty``); used only when there is a single run.

    Returns
    -------
    dict
        A claims row. Null: the mean final beta equals ``target`` (the claim *is* the null here, so
        rejecting it falsifies the claim). With 2 or more runs: one-sample two-sided t-test over
        runs and its t-interval; with one run and a positive ``se``: z-test and normal interval.
        Verdict: ``falsified`` when p < alpha; ``survives`` when not rejected *and* the interval lies
        within ``target * (1 -/+ margin)`` (precise enough to back the claim); otherwise ``not
        supported`` (consistent but imprecise); ``untestable`` without two runs or one run with a
        standard error.
    """
    from scipy import stats

    v = np.asarray(final_betas, float)
    keep = np.isfinite(v)
    v = v[keep]
    e = None if se is None else np.asarray(se, float)[keep]
    statement = f"beta converges to Phi^3 = {target:.4f}"
    if v.size >= 2:
        null = f"mean final beta over runs = {target:.4f} (two-sided one-sample t-test, {v.size - 1} df)"
        m, s_e, lo, hi = _t_interval(v, ci)
        dist = stats.t(v.size - 1)
    elif v.size == 1 and e is not None and np.isfinite(e[0]) and e[0] > 0:
        null = f"final beta = {target:.4f} (two-sided z-test with the log's beta_uncertainty as standard error)"
        m, s_e = float(v[0]), float(e[0])
        dist = stats.norm()
        h = float(dist.ppf(0.5 + ci / 2)) * s_e
        lo, hi = m - h, m + h
    else:
        return _claim("fixpoint", statement, f"mean final beta = {target:.4f}", "t", np.nan, np.nan,
                      float(v.mean()) if v.size else np.nan, np.nan, np.nan, target, int(v.size), "untestable",
                      f"{v.size} final beta value(s); needs 2 runs, or 1 run with a beta_uncertainty")
    if s_e == 0:
        t, p = (0.0, 1.0) if m == target else (math.copysign(math.inf, m - target), 0.0)
    else:
        t = (m - target) / s_e
        p = float(2 * dist.sf(abs(t)))
    if p < alpha:
        verdict = "falsified"
    elif target * (1 - margin) <= lo and hi <= target * (1 + margin):
        verdict = "survives"
    else:
        verdict = "not supported"
    detail = (f"mean final beta of {v.size} run(s) {m:.4f}, {100 * ci:g}% CI [{lo:.4f}, {hi:.4f}]; "
              f"equivalence margin +/-{100 * margin:g}% = [{target * (1 - margin):.4f}, {target * (1 + margin):.4f}]")
    return _claim("fixpoint", statement, null, "t" if v.size >= 2 else "z", t, p, m, lo, hi, target, int(v.size),
                  verdict, detail)


def _spike_parts(steps, betas, flags):
    """Per run: rate of change ``|diff ln beta| / diff log10 step`` and whether each change touches a flagged row."""
    d, inside = [], []
    for st, b, f in zip(steps, betas, flags):
        lb = np.log(np.asarray(b, float))
        f = np.asarray(f, bool)
        d.append(np.abs(np.diff(lb)) / np.diff(log_time(st)))
        inside.append(f[1:] | f[:-1])
    return d, inside


def _spike_statistic(d, inside):
    d, inside = np.concatenate(d), np.concatenate(inside)
    if inside.all() or not inside.any():
        return float("nan")
    return float(d[inside].mean() - d[~inside].mean())


def spike_test(steps, betas, flags, *, n_permutations: int = 999, alpha: float = 0.05, seed: int = 0) -> dict:
    """Test "beta spikes at grokking": beta changes faster inside flagged windows than outside.

    Parameters
    ----------
    steps, betas, flags : list of array-like
        Per run, in step order and with step > 0: steps, positive betas and the grokking flags of the
        same rows.

    Returns
    -------
    dict
        A claims row. The rate of change between successive rows is
        ``d_i = |ln b_i - ln b_{i-1}| / (log10 s_i - log10 s_{i-1})`` (per decade of steps, so that
        densely logged stretches are not penalised or favoured; with log-spaced steps it is the
        plain change up to a constant). ``d_i`` is *inside* when row ``i`` or ``i - 1`` is flagged
        (so the jump into a window and the drop out of it both count). Statistic
        ``T = mean(d inside) - mean(d outside)`` pooled over runs. Null: window positions are unrelated
        to beta, simulated by rotating each run's flag sequence by a random offset (window lengths and
        counts kept); one-sided ``p = (1 + #{T* >= T}) / (1 + B')`` over the ``B'`` rotations in which
        both groups are non-empty. Estimate: mean(d inside) / mean(d outside). Verdict: ``survives``
        when p < alpha, ``not supported`` otherwise, ``untestable`` without changes both inside
        and outside windows.
    """
    statement = "beta changes faster inside grokking-flagged windows than outside (a spike)"
    null = "flagged windows sit at positions unrelated to beta (random rotation of each run's flags)"
    runs = [(np.asarray(st, float), np.asarray(b, float), np.asarray(f, bool))
            for st, b, f in zip(steps, betas, flags) if len(b) >= 2]
    d, inside = _spike_parts(*zip(*runs)) if runs else ([], [])
    t_obs = _spike_statistic(d, inside) if runs else float("nan")
    stat_name = "mean rate in - out (|d ln beta| per decade)"
    if not np.isfinite(t_obs):
        return _claim("grokking_spike", statement, null, stat_name, np.nan, np.nan, np.nan, np.nan, np.nan,
                      np.nan, int(sum(len(x) for x in d)), "untestable",
                      "needs changes both inside and outside grokking-flagged windows")
    rng = np.random.default_rng(seed)
    ins = []
    for _, _, f in runs:  # row b of `rolled` is the flag sequence rotated by a random offset
        offsets = rng.integers(f.size, size=n_permutations)
        rolled = f[(np.arange(f.size)[None, :] - offsets[:, None]) % f.size]
        ins.append(rolled[:, 1:] | rolled[:, :-1])
    ins = np.concatenate(ins, axis=1)
    dd = np.concatenate(d)
    n_in, n_out = ins.sum(axis=1), (~ins).sum(axis=1)
    ok = (n_in > 0) & (n_out > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_null = (ins @ dd) / n_in - ((~ins) @ dd) / n_out
    valid = int(ok.sum())
    p = (1 + int(np.sum(t_null[ok] >= t_obs - 1e-12))) / (1 + valid)
    dd, ii = np.concatenate(d), np.concatenate(inside)
    m_in, m_out = float(dd[ii].mean()), float(dd[~ii].mean())
    ratio = m_in / m_out if m_out > 0 else float("inf")
    verdict = "survives" if p < alpha and t_obs > 0 else "not supported"
    detail = (f"mean |d ln beta| per decade inside windows {m_in:.3g} ({int(ii.sum())} changes) vs outside "
              f"{m_out:.3g} ({int((~ii).sum())} changes) over {len(runs)} run(s); {valid} valid rotations")
    return _claim("grokking_spike", statement, null, stat_name, t_obs, p, ratio, np.nan, np.nan, 1.0, int(dd.size),
                  verdict, detail)


# --------------------------------------------------------------------------------------------
# The whole analysis of one log
# --------------------------------------------------------------------------------------------

@dataclass
class ExternalAnalysis:
    """Tables of one analysed log: ``fits`` (:data:`FITS_COLUMNS`), ``claims`` (:data:`CLAIMS_COLUMNS`),
    ``series`` (:data:`SERIES_COLUMNS`), ``issues`` (:data:`ISSUE_COLUMNS`)."""

    name: str
    fits: object
    claims: object
    series: object
    issues: object


def _fit_row(run, size, series, x_variable, x, y, n_bootstrap, seed):
    from toposcale.analysis.logistic import analyse_logistic

    res = analyse_logistic(x, y, n_bootstrap=n_bootstrap, seed=seed)
    res["midpoint"] = 10 ** res["x0"] if np.isfinite(res["x0"]) else np.nan
    return {"run_id": run, "n_params_millions": size, "series": series, "x_variable": x_variable, **res}


def _transition_columns(frame, col, flagged, *, tolerance, n_permutations, significance, min_size, seed):
    """Change points of one series of one run on the :func:`log_time` axis, matched against its
    grokking windows; returns the table columns and the steps where a new segment starts."""
    keep = frame[col].notna().to_numpy() & (frame["training_step"].to_numpy(float) > 0)
    y, steps = frame[col].to_numpy(float)[keep], frame["training_step"].to_numpy(float)[keep]
    out = {"n_change_points": 0, "change_point_steps": "", "cp_p_value": np.nan, "cp_method": "",
           "tolerance_decades": tolerance}
    cps = []
    if y.size >= 2 * min_size:
        res = detect(y, log_time(steps), n_permutations=n_permutations, significance=significance,
                     min_size=min_size, seed=seed)
        cps = sorted(int(c) for c in res["change_points"])
        out.update(n_change_points=len(cps), cp_p_value=res["p_value"], cp_method=res["method"],
                   change_point_steps=";".join(_fmt(steps[c]) for c in cps))
    if flagged:
        f = flags_of(frame)[keep]
        out.update(match_transitions(log_time(steps[cps]), window_spans(steps, f), tolerance))
        out["window_steps"] = ";".join(f"{_fmt(steps[a])}-{_fmt(steps[b])}" for a, b in flag_windows(f))
    return out, set(steps[cps].tolist())


def _pooled_transition_row(rows, series):
    sub = [r for r in rows if r["series"] == series and "n_detected" in r]
    if not sub:
        return None
    tot = {k: int(sum(r[k] for r in sub)) for k in ("n_detected", "n_windows", "n_detected_matched", "n_windows_hit")}
    return {"run_id": "ALL", "series": series, "x_variable": "log10_step", **tot,
            "n_change_points": tot["n_detected"], "tolerance_decades": sub[0]["tolerance_decades"],
            "precision": tot["n_detected_matched"] / tot["n_detected"] if tot["n_detected"] else np.nan,
            "recall": tot["n_windows_hit"] / tot["n_windows"] if tot["n_windows"] else np.nan}


def _beta_rows(frame, flagged):
    """Rows of a run for beta plateaus: positive beta, step > 0, outside flagged windows when flags exist."""
    ok = frame["beta_estimate"].notna().to_numpy() & (frame["training_step"].to_numpy(float) > 0)
    if flagged:
        ok = ok & ~flags_of(frame)
    return frame[ok]


def analyse_log(log: ExternalLog, *, n_bootstrap: int = 200, n_permutations: int = 999,
                significance: float = 0.05, tolerance: float = 0.1, min_size: int = 3,
                margin: float = 0.05, seed: int = 0, cp_permutations: int | None = None) -> ExternalAnalysis:
    """Run every analysis of the module docstring on an ingested log.

    Parameters
    ----------
    n_bootstrap : int
        Residual-bootstrap resamples per logistic fit.
    n_permutations : int
        Permutations (rotations) of the ladder and spike tests.
    significance : float
        Level ``alpha`` of every test, and of the change-point detector.
    tolerance : float
        Slack in decades of step when matching change points to grokking windows
        (:func:`match_transitions`).
    min_size : int
        Fewest rows in a segment, for transitions (change-point detector) and beta plateaus.
    margin : float
        Relative equivalence margin of :func:`fixpoint_test`.
    cp_permutations : int, optional
        Permutations inside the change-point detector (default ``min(n_permutations, 199)``).
    """
    import pandas as pd

    frames = run_frames(log.data)
    flagged = has_flags(log.data)
    cp_kw = dict(n_permutations=cp_permutations if cp_permutations is not None else min(n_permutations, 199),
                 significance=significance, min_size=min_size)
    fit_rows, series_parts, beta_runs = [], [], []
    for k, (run, fr) in enumerate(frames.items()):
        ser = fr.copy()
        ser["in_window"] = flags_of(fr) if flagged else False
        rows = _series_rows(run, fr, ser, flagged, tolerance=tolerance, n_bootstrap=n_bootstrap, seed=seed + k,
                            cp_kw=cp_kw)
        fit_rows.extend(rows)
        beta_runs.append(_beta_run(fr, ser, flagged, min_size))
        series_parts.append(ser)
    for col in TRANSITION_SERIES:
        pooled = _pooled_transition_row(fit_rows, col)
        if pooled:
            fit_rows.append(pooled)
    fit_rows.extend(_params_rows(frames, n_bootstrap, seed))
    claims = _claims([b for b in beta_runs if b is not None], flagged, n_permutations=n_permutations,
                     alpha=significance, margin=margin, seed=seed)
    fits = pd.DataFrame(fit_rows).reindex(columns=FITS_COLUMNS)
    series = pd.concat(series_parts, ignore_index=True) if series_parts else pd.DataFrame()
    return ExternalAnalysis(log.name, fits, pd.DataFrame(claims, columns=CLAIMS_COLUMNS),
                            series.reindex(columns=SERIES_COLUMNS), log.issues)


def _series_rows(run, fr, ser, flagged, *, tolerance, n_bootstrap, seed, cp_kw):
    """Logistic fit and transitions of loss and capability of one run; marks change points in ``ser``."""
    size = float(fr["n_params_millions"].iloc[0])
    rows = []
    for col in TRANSITION_SERIES:
        ser[f"cp_{col}"] = False
        if fr[col].notna().sum() == 0:
            continue
        row = _fit_row(run, size, col, "log10_step", log_time(fr["training_step"]), fr[col], n_bootstrap, seed)
        trans, cp_steps = _transition_columns(fr, col, flagged, tolerance=tolerance, seed=seed, **cp_kw)
        row.update(trans)
        rows.append(row)
        ser[f"cp_{col}"] = ser["training_step"].isin(cp_steps)
    return rows


def _beta_run(fr, ser, flagged, min_size):
    """Plateaus, final beta and spike inputs of one run; writes plateau columns into ``ser``.

    Returns None when the run has no positive beta at a step > 0.
    """
    ser["plateau_id"], ser["plateau_beta"] = np.nan, np.nan
    br = _beta_rows(fr, flagged)
    if not len(br):
        return None
    steps, beta = br["training_step"].to_numpy(float), br["beta_estimate"].to_numpy(float)
    segs = plateaus(steps, beta, min_size=min_size)
    for sg in segs:
        idx = br.index[sg["first_row"]:sg["last_row"] + 1]
        ser.loc[idx, "plateau_id"] = sg["plateau_id"]
        ser.loc[idx, "plateau_beta"] = sg["beta"]
    allb = fr[fr["beta_estimate"].notna() & (fr["training_step"] > 0)]
    last = segs[-1]
    if len(segs) >= 2:  # the last plateau: geometric mean of its rows, standard error from their spread
        lb = np.log(beta[last["first_row"]:last["last_row"] + 1])
        final, final_se = last["beta"], last["beta"] * float(lb.std(ddof=1) / math.sqrt(lb.size))
    else:  # one segment is a climb, not a plateau: take the last row and the log's own uncertainty
        final, final_se = float(beta[-1]), float(br["beta_uncertainty"].iloc[-1])
    return {"steps": steps, "beta": beta, "segments": segs, "final": final, "final_se": final_se,
            "spike": (allb["training_step"].to_numpy(float), allb["beta_estimate"].to_numpy(float),
                      flags_of(allb))}


def _params_rows(frames, n_bootstrap, seed):
    """Final capability (last usable value per run) against log10(parameters) across runs."""
    xs, ys = [], []
    for fr in frames.values():
        cap = fr[fr["capability_score"].notna()]
        size = fr["n_params_millions"].iloc[0]
        if len(cap) and np.isfinite(size) and size > 0:
            xs.append(math.log10(size * 1e6))
            ys.append(float(cap["capability_score"].iloc[-1]))
    if len(xs) < 4:
        return []
    row = _fit_row("ALL", np.nan, "final_capability_score", "log10_params", xs, ys, n_bootstrap, seed)
    return [row]


def _claims(beta_runs, flagged, *, n_permutations, alpha, margin, seed):
    """The three claims rows from the per-run beta summaries of :func:`_beta_run`."""
    flat_p = pooled_flatness([(b["steps"], b["beta"], b["segments"]) for b in beta_runs])
    ladder = ladder_test([[sg["beta"] for sg in b["segments"]] for b in beta_runs], n_permutations=n_permutations,
                         alpha=alpha, seed=seed, flat_p=flat_p)
    if beta_runs and ladder["verdict"] == "untestable":
        n_single = sum(len(b["segments"]) < 2 for b in beta_runs)
        ladder["detail"] += (f"; {n_single} of {len(beta_runs)} run(s) form a single segment (no plateau "
                             f"boundary found; ratios of successive rows of a climb only reflect the logging interval)")
    fix = fixpoint_test([b["final"] for b in beta_runs], se=[b["final_se"] for b in beta_runs], alpha=alpha,
                        margin=margin)
    if flagged:
        spike = spike_test(*zip(*[b["spike"] for b in beta_runs]) if beta_runs else ([], [], []),
                           n_permutations=n_permutations, alpha=alpha, seed=seed + 1)
    else:
        spike = spike_test([], [], [], n_permutations=1)
        spike["detail"] = "the log has no grokking_detected values"
    return [ladder, fix, spike]


def pooled_flatness(flat_parts):
    """Sign-test p-value of :func:`plateau_flatness` over the segments of every run.

    Parameters
    ----------
    flat_parts : list of (steps, beta, segments)
        One entry per run, ``segments`` from :func:`plateaus`.

    Returns
    -------
    float or None
        Two-sided sign-test p-value of rising vs falling segments, pooled; None with no testable segment.
    """
    slopes_parts = []
    for st, b, sg in flat_parts:
        res = plateau_flatness(st, b, sg)
        slopes_parts.append((res["n_segments"], res["n_rising"]))
    n = sum(p[0] for p in slopes_parts)
    if n == 0:
        return None
    from scipy import stats

    return float(stats.binomtest(sum(p[1] for p in slopes_parts), n, 0.5).pvalue)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------

def _write_csv(df, path):
    write_csv_atomic(df, path)


def output_paths(out_dir, name: str) -> dict:
    """``{fits, claims, series, issues}`` paths: ``external_{name}.csv``, ``external_{name}_claims.csv``,
    ``external_{name}_series.csv``, ``external_{name}_issues.csv`` under ``out_dir``."""
    out_dir = Path(out_dir)
    return {"fits": out_dir / f"external_{name}.csv", "claims": out_dir / f"external_{name}_claims.csv",
            "series": out_dir / f"external_{name}_series.csv", "issues": out_dir / f"external_{name}_issues.csv"}


def write_analysis(analysis: ExternalAnalysis, paths: dict) -> None:
    """Write the four tables atomically to the paths of :func:`output_paths`."""
    for key in ("fits", "claims", "series", "issues"):
        _write_csv(getattr(analysis, key), paths[key])


def claims_summary(claims) -> str:
    """One line per claim: verdict, p-value and estimate."""
    lines = []
    for _, c in claims.iterrows():
        lines.append(f"{c['claim']}: {c['verdict']} (p = {c['p_value']:.3g}, estimate {c['estimate']:.4g}, "
                     f"target {c['target']:.4g}) - {c['detail']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Synthetic logs with planted effects
# --------------------------------------------------------------------------------------------

def _steps(n_rows):
    steps = np.unique(np.round(np.geomspace(100, 100_000, max(n_rows - 1, 2))).astype(int))
    return np.concatenate([[0], steps])


def _plateau_levels(rng, n_plateaus, ladder_ratio, final_beta):
    if ladder_ratio is None:
        levels = np.exp(rng.uniform(math.log(1.0), math.log(5.0), n_plateaus))
        if final_beta is not None:
            levels[-1] = final_beta
        return levels
    final = FIXPOINT if final_beta is None else final_beta
    return final * ladder_ratio ** (np.arange(n_plateaus) - (n_plateaus - 1))


def make_synthetic_log(*, n_runs: int = 4, n_rows: int = 90, n_plateaus: int = 6,
                       ladder_ratio: float | None = LADDER_RATIO, final_beta: float | None = FIXPOINT,
                       final_beta_sd: float = 0.0, spike_factor: float = 1.6, beta_noise: float = 0.02,
                       capability_beta: float = 6.0, capability_noise: float = 0.015,
                       loss_drop: float = 0.5, window: str = "transition", seed: int = 0):
    """A log in the beta-trajectory schema with known, planted effects (labelled synthetic).

    Per run: ``n_rows`` rows at step 0 and log-spaced steps 100 .. 100 000. Capability is
    ``0.02 + 0.88 * sigma(capability_beta * (log10 step - x0))`` plus Gaussian noise
    (sd ``capability_noise``), with ``x0 = log10(2000) + 0.25 * run``; loss is
    ``0.4 + 4.5 (1 + step/200)^-0.35`` minus a linear ramp (in log step) of height ``loss_drop`` from
    ``x0 - w`` to ``x0 + w``, ``w = 1 / capability_beta``, plus noise (sd 0.01): an abrupt change of
    slope, the kind of transition the change-point detector is built for. The grokking window is
    the rows with ``|log10 step - x0| <= w`` (``window='transition'``) or a window of
    the same length at a uniformly random position (``window='random'``). Beta is piecewise constant on
    ``n_plateaus`` equal-length plateaus (in row order), with levels ``f * ladder_ratio**(k - K + 1)``
    where ``f = final_beta`` (+ Gaussian run-to-run noise of sd ``final_beta_sd``), or i.i.d.
    log-uniform on [1, 5] when ``ladder_ratio`` is None (the last level set to ``f`` if given); each
    row is multiplied by ``exp(N(0, beta_noise))`` and rows inside the window by ``spike_factor``.
    ``beta_uncertainty = beta_noise * beta``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BETA_TRAJECTORY_COLUMNS`; ``df.attrs['planted']`` holds the planted values.
    """
    import pandas as pd
    from scipy.special import expit

    if window not in ("transition", "random"):
        raise ValueError(f"window must be 'transition' or 'random', got {window!r}")
    rng = np.random.default_rng(seed)
    steps = _steps(n_rows)
    n = steps.size
    lx = np.log10(np.maximum(steps, 1))
    bounds = np.linspace(0, n, n_plateaus + 1).round().astype(int)
    frames, planted = [], {"ladder_ratio": ladder_ratio, "spike_factor": spike_factor,
                           "capability_beta": capability_beta, "runs": {}}
    for r in range(n_runs):
        x0 = math.log10(2000) + 0.25 * r
        s = expit(capability_beta * (lx - x0))
        cap = np.clip(0.02 + 0.88 * s + rng.normal(0, capability_noise, n), 0, 1)
        w = 1.0 / capability_beta
        ramp = np.clip((lx - (x0 - w)) / (2 * w), 0, 1)
        loss = 0.4 + 4.5 * (1 + steps / 200) ** -0.35 - loss_drop * ramp + rng.normal(0, 0.01, n)
        flags = (np.abs(lx - x0) <= w) & (steps > 0)
        if window == "random":
            width = int(flags.sum())
            start = int(rng.integers(1, n - width + 1))
            flags = np.zeros(n, bool)
            flags[start:start + width] = True
        f = None if final_beta is None else final_beta + rng.normal(0, final_beta_sd)
        levels = _plateau_levels(rng, n_plateaus, ladder_ratio, f)
        beta = np.repeat(levels, np.diff(bounds)) * np.exp(rng.normal(0, beta_noise, n))
        beta = np.where(flags, beta * spike_factor, beta)
        size = float(np.round(125 * 4 ** r))
        plateau_of_row = np.repeat(np.arange(n_plateaus), np.diff(bounds))
        frames.append(pd.DataFrame({
            "run_id": f"syn_{r:03d}", "model_family": "synthetic", "architecture": "transformer",
            "n_params_millions": size, "dataset": "synthetic", "training_step": steps,
            "loss": np.round(loss, 5), "capability_score": np.round(cap, 5), "R_proxy": np.round(s, 5),
            "Theta_proxy": 0.8, "beta_estimate": np.round(beta, 5),
            "beta_uncertainty": np.round(beta_noise * beta, 5), "field_type": "synthetic",
            "grokking_detected": flags,
            "notes": [f"synthetic (toposcale seed {seed}); plateau {k}" for k in plateau_of_row]}))
        planted["runs"][f"syn_{r:03d}"] = {"x0": x0, "levels": levels.tolist(),
                                          "window_steps": steps[flags].tolist()}
    df = pd.concat(frames, ignore_index=True)[BETA_TRAJECTORY_COLUMNS]
    df.attrs["planted"] = planted
    return df


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    """``python -m toposcale.experiments.external make-example OUT.csv [--null] [--seed S]`` writes a synthetic log;
    ``python -m toposcale.experiments.external analyse LOG.csv [--name N] [--out DIR]`` analyses one and prints
    the verdicts."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m toposcale.experiments.external", description=main.__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make-example", help="write a synthetic beta-trajectory log with planted effects")
    mk.add_argument("out")
    mk.add_argument("--null", action="store_true", help="no ladder, no spike, random final beta")
    mk.add_argument("--seed", type=int, default=0)
    an = sub.add_parser("analyse", help="analyse one log and write external_{name}*.csv")
    an.add_argument("log")
    an.add_argument("--name", default=None)
    an.add_argument("--schema", default="beta_trajectory", choices=sorted(SCHEMA_MAPPINGS))
    an.add_argument("--out", default="results/analysis")
    an.add_argument("--n-bootstrap", type=int, default=200)
    an.add_argument("--n-permutations", type=int, default=999)
    args = ap.parse_args(argv)
    if args.cmd == "make-example":
        kw = dict(ladder_ratio=None, spike_factor=1.0, final_beta=None, window="random") if args.null else {}
        df = make_synthetic_log(seed=args.seed, **kw)
        _write_csv(df, args.out)
        print(f"wrote {len(df)} rows ({df['run_id'].nunique()} runs) to {args.out}")
        return 0
    log = load_log(args.log, schema=args.schema, name=args.name, warn=False)
    for m in log.messages:
        print("warning:", m)
    res = analyse_log(log, n_bootstrap=args.n_bootstrap, n_permutations=args.n_permutations)
    write_analysis(res, output_paths(args.out, log.name))
    print(claims_summary(res.claims))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
