"""Shared figure style: colour-blind-safe palette, readable sizes, compact count labels, atomic saving.

Importing this module selects matplotlib's non-interactive Agg backend; every figure module imports it,
so the backend is set before any figure is drawn.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

import numpy as np  # noqa: E402

from toposcale.io import PROVENANCE_KEY, atomic_path, write_provenance  # noqa: E402
from toposcale.provenance import current  # noqa: E402

#: Okabe-Ito colours, safe for the common forms of colour blindness.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
ACTIVATION_COLORS = {"gelu": PALETTE[0], "swiglu": PALETTE[3]}


def setup() -> None:
    """Apply the project style (call once per figure script)."""
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE, font_scale=1.15)
    plt.rcParams.update({"figure.dpi": 100, "savefig.bbox": "tight", "axes.titlesize": 12,
                         "axes.labelsize": 11, "legend.fontsize": 9})


def save(fig, path, dpi: int = 150, provenance: dict | None = None) -> None:
    """Save ``fig`` to ``path`` through a temporary file and rename, so a killed job leaves no PNG.

    The figure records its provenance (``provenance``, or this process's record:
    :func:`toposcale.provenance.current`): a PNG as a text chunk ``toposcale.provenance`` holding the
    record as JSON (:func:`toposcale.io.read_provenance` reads it; so does ``PIL.Image.open(p).text``),
    any other format in a sidecar ``<path>.provenance.json``.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    rec = current() if provenance is None else provenance
    meta = {PROVENANCE_KEY: json.dumps(rec, sort_keys=True)} if fmt == "png" else None
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=fmt, metadata=meta)
    plt.close(fig)
    if fmt != "png":
        write_provenance(path, rec)


def fmt_count(x: float) -> str:
    """Compact count: 6304 -> '6.3k', 1.2e6 -> '1.2M'.

    Examples
    --------
    >>> fmt_count(6304), fmt_count(1.2e6), fmt_count(3e9), fmt_count(512), fmt_count(1.18e12)
    ('6.3k', '1.2M', '3B', '512', '1.18T')
    """
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"


def log_y_if_wide(ax, values, ratio: float = 30.0) -> bool:
    """Log y axis when the finite values are all positive and span more than ``ratio`` (max / min);
    returns whether the axis was switched."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size and v.min() > 0 and v.max() / v.min() > ratio:
        ax.set_yscale("log")
        return True
    return False
