"""Text helpers of the summary: number and interval formatting, Markdown tables, and the notes a section
gives instead of numbers when its table lacks columns (:class:`MissingColumns`)."""

from __future__ import annotations

from toposcale.plan.series import PREFIX as SERIES_PREFIX

import math


class MissingColumns(ValueError):
    """A table lacks columns a section needs (the section prints a note instead of numbers)."""


def is_finite(x) -> bool:
    """Whether ``x`` converts to a finite float (None, NaN, inf and non-numbers are not)."""
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def fmt(x, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, trailing zeros kept (``fmt(2.1, 4) == '2.100'``);
    integers unchanged, booleans 'yes'/'no', None/NaN 'n/a', scientific notation below 1e-3 and from
    1e5 on, and no decimals from ``10**digits`` on."""
    if isinstance(x, bool) or type(x).__name__ in ("bool_", "bool"):
        return "yes" if x else "no"
    if not is_finite(x):
        return "n/a"
    if isinstance(x, int) or type(x).__name__.startswith(("int", "uint")):
        return str(int(x))
    x = float(x)
    if x == 0:
        return "0"
    if abs(x) < 1e-3 or abs(x) >= 1e5:
        return f"{x:.{max(digits - 1, 0)}e}"
    if abs(x) >= 10 ** digits:
        return f"{x:.0f}"
    return f"{x:#.{digits}g}".rstrip(".")


def fmt_ci(lo, hi, digits: int = 3) -> str:
    """``'[lo, hi]'``, or ``'[n/a]'`` when either end is missing."""
    if not (is_finite(lo) and is_finite(hi)):
        return "[n/a]"
    return f"[{fmt(lo, digits)}, {fmt(hi, digits)}]"


def fmt_pct(x, digits: int = 2, sign: bool = True) -> str:
    """A percentage such as ``'+1.23%'`` ('n/a' when missing)."""
    if not is_finite(x):
        return "n/a"
    return f"{float(x):{'+' if sign else ''}.{digits}f}%"


def md_table(header, rows) -> str:
    """A GitHub-flavoured Markdown table (cells converted with ``str``; '|' escaped)."""
    def cell(v):
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def lacks_note(df, cols, name: str, skipped: str) -> list[str]:
    """A note for a sub-section whose table ``name`` lacks some of ``cols`` (else an empty list)."""
    missing = [c for c in cols if c not in df.columns]
    return [f"_{name} lacks columns {missing}; {skipped} skipped._", ""] if missing else []


def require_columns(df, cols, what: str) -> None:
    """Raise :class:`MissingColumns` naming the columns of ``cols`` that the table ``what`` lacks."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise MissingColumns(f"{what} lacks columns {missing} (it has {list(df.columns)}), so this section "
                             f"is skipped; regenerate the table with the current toposcale")


def count_share(flags) -> str:
    """``'k (p%)'``: how many of the boolean ``flags`` (NaN counts as False) are set, and their share."""
    f = flags.fillna(False).astype(bool)
    return f"{int(f.sum())} ({100 * f.mean():.0f}%)" if len(f) else "0"


def runs_phrase(runs) -> str:
    """'N runs', naming the checkpoint series among them (run names ``series-{name}``, toposcale.plan.series).

    Examples
    --------
    >>> runs_phrase(["gelu-d16L1-s0", "series-tiny"])
    "2 runs (1 trained, 1 checkpoint series: series-tiny; a series' val_loss is its model's own NLL per byte of the validation split)"
    >>> runs_phrase(["gelu-d16L1-s0"])
    '1 runs'
    """
    names = sorted(set(runs))
    series = [n for n in names if str(n).startswith(SERIES_PREFIX)]
    if not series:
        return f"{len(names)} runs"
    return (f"{len(names)} runs ({len(names) - len(series)} trained, {len(series)} checkpoint series: "
            f"{', '.join(series)}; a series' val_loss is its model's own NLL per byte of the validation split)")


def run_label(run: str) -> str:
    """A run's name in a table; a checkpoint series gets ' (series)' appended."""
    return f"{run} (series)" if str(run).startswith(SERIES_PREFIX) else str(run)
