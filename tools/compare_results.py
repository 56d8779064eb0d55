"""Compare two results folders' analysis tables, metrics tables and summary.md: the check a refactor must pass.

    python tools/compare_results.py BEFORE AFTER [--rtol 1e-9]

Every file of ``analysis/`` and ``metrics/`` in BEFORE (plus ``report/summary.md``) must exist in AFTER
with the same columns and rows: integers and strings exactly, floats within ``rtol`` relative (NaN equals
NaN), wall-clock columns (``*seconds*``, ``tokens_per_s``, ``elapsed*``) skipped. Provenance is skipped
too (``*.provenance.json`` sidecars and summary.md's ``## Provenance`` section): a refactor changes the
git revision by definition. Prints one line per
difference and a count; exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

WALL_CLOCK = ("seconds", "tokens_per_s", "elapsed")


def _skip(name: str) -> bool:
    return any(w in name for w in WALL_CLOCK)


def _without_provenance(text: str) -> list[str]:
    """summary.md's lines without its ``## Provenance`` section (that heading up to the next ``## ``)."""
    out, skipping = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            skipping = line.strip() == "## Provenance"
        if not skipping:
            out.append(line)
    return out


def _close(a: float, b: float, rtol: float) -> bool:
    return (np.isnan(a) and np.isnan(b)) or a == b or abs(a - b) <= rtol * max(abs(a), abs(b))


def compare_json(a, b, where: str, rtol: float) -> list[str]:
    """Differences between two parsed JSON values (recursively)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}: keys differ {sorted(set(a) ^ set(b))}"] if set(a) != set(b) else []
        for k in sorted(set(a) & set(b)):
            if not _skip(k):
                out += compare_json(a[k], b[k], f"{where}.{k}", rtol)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in compare_json(x, y, f"{where}[{i}]", rtol)]
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return [] if _close(float(a), float(b), rtol) else [f"{where}: {a!r} vs {b!r}"]
    return [] if a == b else [f"{where}: {a!r} vs {b!r}"]


def compare_frames(a: pd.DataFrame, b: pd.DataFrame, where: str, rtol: float) -> list[str]:
    """Differences between two tables: columns, row count, then each shared column."""
    out = []
    if list(a.columns) != list(b.columns):
        out.append(f"{where}: columns differ {sorted(set(a.columns) ^ set(b.columns))}")
    if len(a) != len(b):
        return out + [f"{where}: {len(a)} rows vs {len(b)}"]
    for col in [c for c in a.columns if c in b.columns and not _skip(c)]:
        x, y = a[col], b[col]
        if pd.api.types.is_float_dtype(x) or pd.api.types.is_float_dtype(y):
            xv, yv = x.to_numpy(float), y.to_numpy(float)
            with np.errstate(invalid="ignore"):
                ok = (np.isnan(xv) & np.isnan(yv)) | (xv == yv) | (
                    np.abs(xv - yv) <= rtol * np.maximum(np.abs(xv), np.abs(yv)))
            if not ok.all():
                i = int(np.flatnonzero(~ok)[0])
                out.append(f"{where}.{col}: {int((~ok).sum())} values differ, e.g. row {i}: {xv[i]!r} vs {yv[i]!r}")
        elif not x.astype(str).equals(y.astype(str)):
            i = int(np.flatnonzero(x.astype(str).to_numpy() != y.astype(str).to_numpy())[0])
            out.append(f"{where}.{col}: differs, e.g. row {i}: {x.iloc[i]!r} vs {y.iloc[i]!r}")
    return out


def compare_results(before, after, rtol: float = 1e-9) -> tuple[int, list[str]]:
    """``(files compared, differences)`` between two results folders (module docstring)."""
    before, after = Path(before), Path(after)
    files = sorted(p.relative_to(before) for d in ("analysis", "metrics") for p in (before / d).glob("*")
                   if p.is_file() and not p.name.endswith(".provenance.json"))
    files.append(Path("report/summary.md"))
    out = []
    for rel in files:
        a, b = before / rel, after / rel
        if not b.exists():
            out.append(f"{rel}: missing in {after}")
        elif rel.suffix == ".json":
            out += compare_json(json.loads(a.read_text()), json.loads(b.read_text()), str(rel), rtol)
        elif rel.suffix in (".parquet", ".csv"):
            read = pd.read_parquet if rel.suffix == ".parquet" else pd.read_csv
            out += compare_frames(read(a), read(b), str(rel), rtol)
        elif _without_provenance(a.read_text()) != _without_provenance(b.read_text()):
            diff = difflib.unified_diff(_without_provenance(a.read_text()), _without_provenance(b.read_text()),
                                        lineterm="", n=0)
            out.append(f"{rel}: text differs\n" + "\n".join(list(diff)[:20]))
    return len(files), out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--rtol", type=float, default=1e-9)
    args = ap.parse_args(argv)
    n, diffs = compare_results(args.before, args.after, args.rtol)
    print("\n".join(diffs + [f"compared {n} files: {len(diffs)} differences"]))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
