"""The operating-characteristics table in summary.md: its section, and the note beside each verdict."""

from __future__ import annotations

import math

import pandas as pd

from toposcale.report.text import require_columns

_REQUIRED = ("verdict", "planted", "power", "power_mcse", "control", "fpr", "fpr_mcse", "n_sim", "decidable")


def _rate(p, se) -> str:
    if p is None or not math.isfinite(float(p)):
        return "n/a"
    return f"{float(p):.2f} ± {float(se):.2f}"


def power_note(oc: pd.DataFrame | None, verdict: str) -> str:
    """``"power 0.93 ± 0.02 (planted ...); FPR 0.04 ± 0.01 (clock), ..."`` for ``verdict``, or ``""``.

    ``oc`` is the operating-characteristics table (``aux["operating"]`` of a section); the text says
    "power not measured" when the table has no row for the verdict, so a verdict line never silently
    lacks its power.
    """
    if oc is None:
        return ""
    rows = oc[oc["verdict"] == verdict]
    if rows.empty:
        return "power not measured"
    first = rows.iloc[0]
    fprs = ", ".join(f"FPR {_rate(r['fpr'], r['fpr_mcse'])} ({r['control']})" for _, r in rows.iterrows())
    low = "" if bool(first["decidable"]) else " — below 0.8: cannot decide at this design"
    return f"power {_rate(first['power'], first['power_mcse'])} ({first['planted']}){low}; {fprs}"


def operating_section(oc: pd.DataFrame, aux: dict) -> list[str]:
    """The section: one table row per (verdict, negative control)."""
    require_columns(oc, _REQUIRED, "operating_characteristics.csv")
    n = int(oc["n_sim"].max()) if len(oc) else 0
    out = [f"Every verdict's power on a planted effect and false-positive rate (FPR) on negative controls, "
           f"simulated at this study's design ({oc['design'].iloc[0] if len(oc) else '-'}; up to {n} simulated "
           f"studies per row; ± is the Monte Carlo standard error). A verdict with power below 0.8 at the "
           f"planted effect is reported as \"cannot decide\".", "",
           "| verdict | planted effect | power | negative control | FPR |", "|---|---|---|---|---|"]
    for _, r in oc.iterrows():
        out.append(f"| {r['verdict']} | {r['planted']} | {_rate(r['power'], r['power_mcse'])} | {r['control']} "
                   f"| {_rate(r['fpr'], r['fpr_mcse'])} |")
    return out + [""]
