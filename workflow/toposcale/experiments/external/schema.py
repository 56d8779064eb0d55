"""Schemas of external training logs: the claimed constants, column names of the inputs and of every
output table, the built-in column mappings (:func:`resolve_mapping`, :func:`apply_mapping`) and the
ingested log (:class:`ExternalLog`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

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
#: ``n_windows_hit``, ``precision``, ``recall`` as in
#: :func:`toposcale.experiments.external.segmentation.match_transitions`.
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
#: Series whose transitions (change points) and logistic fits are analysed per run.
TRANSITION_SERIES = ("loss", "capability_score")


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


def format_value(v) -> str:
    """A cell value as written into the tables: floats with ``:g`` (``2000.0 -> '2000'``), anything else with
    ``str``.

    Examples
    --------
    >>> format_value(2000.0), format_value(0.5), format_value(7)
    ('2000', '0.5', '7')
    """
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)
