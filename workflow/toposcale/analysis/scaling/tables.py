"""Scaling laws fitted to any table of runs: column finding, one table, every configured table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from toposcale.analysis.scaling.bootstrap import bootstrap_fit, width_notes
from toposcale.analysis.scaling.compute import compute_optimal_summary
from toposcale.analysis.scaling.laws import (LAWS, as_column, check_identifiable, fit_chinchilla, fit_compute_law,
                                             fit_power_law, single_thread)
from toposcale.io import read_table


def _find_columns(df) -> dict:
    cols = {str(c).lower(): c for c in df.columns}
    if "loss" not in cols:
        raise ValueError(f"table has no 'loss' column (columns: {list(df.columns)}); give columns "
                         f"(N, D, loss) or (C, loss)")
    if "n" in cols and "d" in cols:
        return {"N": cols["n"], "D": cols["d"], "L": cols["loss"]}
    if "c" in cols:
        return {"C": cols["c"], "L": cols["loss"]}
    raise ValueError(f"table needs columns (N, D, loss) or (C, loss), got {list(df.columns)}; rename "
                     f"its parameter/token/compute columns accordingly")


def _table_column(df, col, label) -> np.ndarray:
    raw = pd.to_numeric(df[col], errors="coerce")
    bad = np.flatnonzero(raw.isna().to_numpy())
    if bad.size:
        raise ValueError(f"column {label!r} has missing or non-numeric values at rows "
                         f"{bad[:10].tolist()}; drop or fill those rows")
    return as_column(label, raw.to_numpy(float))


@single_thread
def fit_table(df, delta: float = 1e-3, grid: dict | None = None, n_bootstrap: int = 1000,
              seed: int = 0) -> dict:
    """Fit the appropriate law to any table of runs, with bootstrap intervals.

    Columns (case-insensitive) ``N, D, loss`` fit the two-variable law when N and D vary
    independently, and ``L(C)`` with ``C = 6 N D`` when their log values are collinear (a fixed
    tokens-per-parameter ratio, noted in ``notes``); ``C, loss`` fit ``L(C)``. The pure power law in
    C is fitted beside it for comparison.

    Returns
    -------
    dict
        ``law``, ``params``, ``ci`` (95% percentile intervals), ``n_points``, ``converged``,
        ``power_law`` ({``params``, ``ci``, ``r2``}), ``compute_optimal`` (two-variable law only:
        exponents ``a``, ``b`` with intervals) and ``notes``.
    """
    cols = _find_columns(df)
    data = {k: _table_column(df, c, "loss" if k == "L" else c) for k, c in cols.items()}
    notes = []
    if "N" in data:
        C = 6.0 * data["N"] * data["D"]
        try:
            check_identifiable(data["N"], data["D"])
            fit = fit_chinchilla(data["N"], data["D"], data["L"], delta=delta, grid=grid)
        except ValueError as err:
            if "collinear" not in str(err) and "constant" not in str(err):
                raise
            notes.append(f"N and D vary together ({err}); fitted L(C) with C = 6 N D instead")
            fit = None
    else:
        C = data["C"]
        fit = None
    if fit is None:
        grid_c = grid if grid is not None and set(grid) >= set(LAWS["compute"].theta_names) else None
        fit = fit_compute_law(C, data["L"], delta=delta, grid=grid_c)
    boot = bootstrap_fit(fit, n_bootstrap=n_bootstrap, seed=seed)
    pl = fit_power_law(C, data["L"])
    pboot = bootstrap_fit(pl, n_bootstrap=n_bootstrap, seed=seed)
    out = {"law": fit["law"], "params": fit["params"], "ci": boot["ci"], "n_points": fit["n_points"],
           "converged": fit["converged"], "objective": fit["objective"],
           "power_law": {"params": pl["params"], "ci": pboot["ci"], "r2": pl["r2"]}, "notes": notes}
    if fit["law"] == "chinchilla":
        out["compute_optimal"] = compute_optimal_summary(fit["params"], boot)
    notes.extend(width_notes(fit, boot))
    return out


def _read(path):
    """:func:`toposcale.io.read_table`, a missing file reported against the config key that named it."""
    try:
        return read_table(path)
    except FileNotFoundError:
        raise ValueError(f"scaling table {str(Path(path))!r} does not exist; fix scaling.tables[].path") from None


def fit_tables(tables: list[dict], delta: float = 1e-3, n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """Fit every configured external table (``scaling.tables``: list of {name, path}).

    Returns a dict name -> :func:`fit_table` result (with ``path``).
    """
    out = {}
    for t in tables:
        try:
            res = fit_table(_read(t["path"]), delta=delta, n_bootstrap=n_bootstrap, seed=seed)
        except ValueError as err:
            raise ValueError(f"scaling table {t['name']!r} ({t['path']}): {err}") from None
        out[t["name"]] = {"path": str(t["path"]), **res}
    return out


