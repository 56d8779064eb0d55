"""Persistence diagrams and barcodes of one run at a few checkpoints, both sources
(:func:`plot_diagrams`, from ``results/diagrams/{run}/{source}/step{step}/{layer}.npz``).

Units as in :mod:`toposcale.report.plots.topology_common`; run, checkpoints and layers chosen by
:mod:`toposcale.plan.figures`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from toposcale.report.plots import style
from toposcale.report.plots.topology_common import tokens_text

#: Colour per homology dimension (Okabe-Ito blue and vermillion).
DIM_COLORS = {0: "#0072B2", 1: "#D55E00"}  # Okabe-Ito blue and vermillion
#: Figure size (inches).
FIGSIZE_DIAGRAMS = (11.5, 13.0)


def _finite_bars(bars) -> np.ndarray:
    a = np.asarray(bars, dtype=float).reshape(-1, 2)
    return a[np.isfinite(a).all(axis=1)]


def _draw_diagram(ax, d: dict, lim: float) -> None:
    scale = d["scale"] if d["scale"] > 0 else 1.0
    for dim in (0, 1):
        bars = _finite_bars(d.get(f"h{dim}", np.empty((0, 2)))) / scale
        ax.scatter(bars[:, 0], bars[:, 1], s=9, alpha=0.65, color=DIM_COLORS[dim], lw=0,
                   label=f"H{dim}: {len(bars)} finite")
    ax.plot([0, lim], [0, lim], color="0.5", lw=0.8)
    ax.set_xlim(-0.02 * lim, lim)
    ax.set_ylim(-0.02 * lim, lim)
    ax.set_aspect("equal", adjustable="box")
    ax.legend(loc="lower right", fontsize=7.5, handletextpad=0.2, borderpad=0.3)


def _draw_barcode(ax, d: dict, lim: float, max_bars: int) -> str:
    scale = d["scale"] if d["scale"] > 0 else 1.0
    y, parts = 0, []
    for dim in (1, 0):  # H0 on top
        bars = _finite_bars(d.get(f"h{dim}", np.empty((0, 2)))) / scale
        life = bars[:, 1] - bars[:, 0]
        order = np.argsort(-life, kind="stable")[:max_bars]
        keep = bars[order]
        keep = keep[np.argsort(keep[:, 0], kind="stable")]
        ys = y + np.arange(len(keep))
        ax.hlines(ys, keep[:, 0], keep[:, 1], color=DIM_COLORS[dim], lw=1.4)
        y += len(keep) + 2
        parts.append(f"H{dim} {len(keep)} of {len(bars)}")
    ax.set_xlim(0, lim)
    ax.set_ylim(-1, max(y - 1, 1))
    ax.set_yticks([])
    return ", ".join(reversed(parts))


def plot_diagrams(diagrams: dict, path, run: str, layers: dict, tokens: dict | None = None,
                  max_bars: int = 40, dpi: int = 150) -> dict:
    """Persistence diagrams and barcodes of one run at a few checkpoints, for each source.

    For each source two rows: the diagram (birth, death) and the barcode, one column per checkpoint.
    Both are in units of the cloud's scale (its longest MST edge), so H0 deaths lie in (0, 1] and the
    checkpoints share axes; the infinite H0 bar is not drawn. Barcodes show the ``max_bars`` longest
    finite bars of each dimension (the panel title gives shown/total), H0 above H1, each block
    sorted by birth.

    Parameters
    ----------
    diagrams : dict
        ``(source, step)`` -> the dict of :func:`toposcale.topology.homology.load_diagrams` for that source's
        chosen layer at that step.
    run : str
        Run name (for the title).
    layers : dict
        Source -> layer drawn (e.g. the middle block, see :func:`~toposcale.plan.figures.default_layers`).
    tokens : dict, optional
        Step -> tokens seen (from log.csv), for the column titles.

    Returns
    -------
    dict
        ``sources``, ``steps``, ``title``.
    """
    if not diagrams:
        raise ValueError(f"plot_diagrams: no diagrams given for run {run!r}")
    sources = [s for s in ("weights", "activations") if any(k[0] == s for k in diagrams)]
    steps = sorted({k[1] for k in diagrams})
    missing = [(s, t) for s in sources for t in steps if (s, t) not in diagrams]
    if missing:
        raise ValueError(f"plot_diagrams: diagrams missing for (source, step) {missing}")
    style.setup()
    fig, axes = plt.subplots(2 * len(sources), len(steps), figsize=FIGSIZE_DIAGRAMS, squeeze=False,
                             gridspec_kw={"height_ratios": [1.25, 1] * len(sources)})
    for i, src in enumerate(sources):
        lim = 1.05 * max(max(1.0, float(np.max(_finite_bars(diagrams[(src, t)]["h1"]) / (diagrams[(src, t)]["scale"] or 1.0),
                                                 initial=0.0)))
                         for t in steps)
        for j, t in enumerate(steps):
            d = diagrams[(src, t)]
            ax = axes[2 * i, j]
            _draw_diagram(ax, d, lim)
            ax.set_title(f"{src} {layers.get(src, '?')}, {tokens_text(tokens, t)}\n"
                         f"{d['n_points']} points, scale {d['scale']:.3g}", fontsize=9.5)
            ax.set_xlabel("birth / scale", fontsize=9)
            if j == 0:
                ax.set_ylabel("death / scale", fontsize=9)
            bx = axes[2 * i + 1, j]
            shown = _draw_barcode(bx, d, lim, max_bars)
            bx.set_title(f"barcode, longest bars: {shown}", fontsize=9)
            bx.set_xlabel("filtration value / scale", fontsize=9)
    title = (f"Persistence diagrams and barcodes of {run} "
             f"({', '.join(f'{s}: {layers.get(s, chr(63))}' for s in sources)})")
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.975))
    style.save(fig, path, dpi)
    return {"sources": sources, "steps": steps, "title": title}
