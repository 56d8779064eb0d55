"""Betti-0 and Betti-1 curves of one run on the shared scale-normalised grid at a few checkpoints
(:func:`plot_betti_curves`, from ``results/metrics/{run}.betti.parquet``).

Units as in :mod:`toposcale.report.plots.topology_common`; checkpoints and layers chosen by
:mod:`toposcale.plan.figures`.
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from toposcale.plan.figures import choose_steps, layer_order, layers_for_source
from toposcale.report.plots import style
from toposcale.report.plots.topology_common import check_columns, tokens_text

#: Figure size (inches).
FIGSIZE_BETTI = (11.5, 12.0)


def step_colors(steps) -> dict:
    """Colour per checkpoint on the cividis sequential palette (early dark blue, late yellow)."""
    steps = sorted(steps)
    cmap = matplotlib.colormaps["cividis"]
    if len(steps) == 1:
        return {steps[0]: cmap(0.0)}
    return {s: cmap(0.9 * i / (len(steps) - 1)) for i, s in enumerate(steps)}


def betti_layers(betti, layers_to_show=(), run: str = "the run") -> dict:
    """Source -> layers drawn in :func:`plot_betti_curves` (:func:`~toposcale.plan.figures.layers_for_source` per source),
    sources in the order weights, activations."""
    sources = [s for s in ("weights", "activations") if s in set(betti["source"])]
    return {src: layers_for_source(layer_order(betti.loc[betti["source"] == src, "layer"].unique()),
                                   layers_to_show, f"{run} {src}") for src in sources}


def plot_betti_curves(betti, path, run: str, steps=(), layers_to_show=(), tokens: dict | None = None,
                      dpi: int = 150) -> dict:
    """Betti-0 and Betti-1 curves of one run on the shared normalised grid at a few checkpoints.

    ``betti_k(t)`` = number of dimension-``k`` bars alive at filtration value ``t * scale``
    (birth <= t*scale < death; the infinite H0 bar counts, so ``betti_0 >= 1``), with ``t`` in units
    of the cloud's scale on the grid of ``topology.betti_grid_max`` / ``betti_grid_size``. Rows:
    (source, dimension); columns: layers (:func:`~toposcale.plan.figures.default_layers`); colour = checkpoint.
    Betti-0 is drawn on a log axis (it falls from the number of points to 1).

    Parameters
    ----------
    betti : pandas.DataFrame
        ``results/metrics/{run}.betti.parquet``: step, source, layer, dim, t, betti.
    steps : sequence of int
        Checkpoints to draw (empty = :func:`~toposcale.plan.figures.choose_steps` with 3: init, middle, final).

    Returns
    -------
    dict
        ``steps``, ``layers`` (source -> list), ``title``.
    """
    check_columns(betti, ["step", "source", "layer", "dim", "t", "betti"], f"Betti table of {run}")
    have = sorted(betti["step"].unique())
    steps = sorted(int(s) for s in steps) if len(steps) else choose_steps(have, 3)
    absent = [s for s in steps if s not in set(have)]
    if absent:
        raise ValueError(f"Betti table of {run} has no checkpoints {absent} (has {have})")
    layers = betti_layers(betti, layers_to_show, run)
    sources = list(layers)
    ncol = max(len(v) for v in layers.values())
    colors = step_colors(steps)
    style.setup()
    fig, axes = plt.subplots(2 * len(sources), ncol, figsize=FIGSIZE_BETTI, squeeze=False, sharex=True)
    for i, src in enumerate(sources):
        for dim in (0, 1):
            for j in range(ncol):
                ax = axes[2 * i + dim, j]
                if j >= len(layers[src]):
                    ax.set_visible(False)
                    continue
                layer = layers[src][j]
                sub = betti[(betti["source"] == src) & (betti["layer"] == layer) & (betti["dim"] == dim)]
                for s in steps:
                    g = sub[sub["step"] == s].sort_values("t")
                    ax.step(g["t"], g["betti"], where="post", color=colors[s], lw=1.6)
                if dim == 0:
                    ax.set_yscale("log")
                else:
                    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
                ax.set_title(f"{src} {layer}: $\\beta_{dim}$", fontsize=10)
                if j == 0:
                    ax.set_ylabel(f"$\\beta_{dim}$ ({'components' if dim == 0 else 'loops'})")
                if 2 * i + dim == 2 * len(sources) - 1:
                    ax.set_xlabel("filtration value t / scale")
    handles = [Line2D([], [], color=colors[s], lw=2.5, label=tokens_text(tokens, s)) for s in steps]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=9,
               title="checkpoint", title_fontsize=9)
    title = f"Betti curves of {run} at {len(steps)} checkpoints (t in units of each cloud's scale)"
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0.045, 1, 0.975))
    style.save(fig, path, dpi)
    return {"steps": steps, "layers": layers, "title": title}
