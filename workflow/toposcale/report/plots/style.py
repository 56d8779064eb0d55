"""Shared figure style: colour-blind-safe palette, readable sizes, atomic saving."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from toposcale.io import atomic_path  # noqa: E402

#: Okabe-Ito colours, safe for the common forms of colour blindness.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
ACTIVATION_COLORS = {"gelu": PALETTE[0], "swiglu": PALETTE[3]}


def setup() -> None:
    """Apply the project style (call once per figure script)."""
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE, font_scale=1.15)
    plt.rcParams.update({"figure.dpi": 100, "savefig.bbox": "tight", "axes.titlesize": 12,
                         "axes.labelsize": 11, "legend.fontsize": 9})


def save(fig, path, dpi: int = 150) -> None:
    """Save ``fig`` to ``path`` through a temporary file and rename, so a killed job leaves no PNG."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
