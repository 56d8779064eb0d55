"""Topology over training (:func:`plot_metric_evolution`): scale-normalised H0 and H1 total persistence
and one baseline per layer over checkpoints, for a few runs (``results/metrics/{run}.parquet``).

Units as in :mod:`toposcale.report.plots.topology_common`; runs and layers chosen by
:mod:`toposcale.plan.figures`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from toposcale.plan.figures import default_runs, layer_order, layer_roles
from toposcale.report.plots import style
from toposcale.report.plots.style import fmt_count
from toposcale.report.plots.topology_common import check_columns
from toposcale.report.plots.training import run_size_colors, runs_table

#: Metric rows of :func:`plot_metric_evolution`: (column, axis label).
EVOLUTION_METRICS = (
    ("h0_total_persistence_norm", "H0 total persistence / scale"),
    ("h1_total_persistence_norm", "H1 total persistence / scale"),
)
#: Baseline columns with their units, for the baseline row of :func:`plot_metric_evolution`.
BASELINE_LABELS = {
    "mean_pairwise_distance": "mean pairwise distance (cloud units)",
    "frobenius_norm": "Frobenius norm of the cloud (cloud units)",
    "total_variance": "total variance (cloud units squared)",
    "scale": "scale = longest MST edge (cloud units)",
    "neural_persistence": "neural persistence (normalised, weights only)",
}
#: Panel title of each source.
SOURCE_TITLES = {"weights": "weights (neurons as points)", "activations": "activations (probe sequences)"}
#: Line style per layer role (cycled).
LAYER_STYLES = ["-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 3))]
#: Width of the null band, in null standard deviations either side of the null mean.
NULL_BAND_SD = 2.0
#: Total opacity shared by the null bands of one panel: each band gets this over the number of curves
#: (at most 0.15), so coinciding bands of several runs and layers do not hide the curves.
NULL_BAND_ALPHA = 0.6
#: Figure size (inches).
FIGSIZE_EVOLUTION = (11.0, 10.0)


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def evolution_roles(metrics, runs=(), layers_to_show=()):
    """Runs and layer roles of :func:`plot_metric_evolution`.

    Returns
    -------
    info : pandas.DataFrame
        :func:`~toposcale.report.plots.training.runs_table` of the chosen runs (``runs``, or
        :func:`~toposcale.plan.figures.default_runs`).
    roles : dict
        Role -> {(run, source): layer}, ordered embed, middle block, last block (or as
        ``layers_to_show``); a run lacking a layer has no entry for it.

    Raises
    ------
    ValueError
        No chosen run has any layer of ``layers_to_show``.
    """
    info = runs_table(metrics.drop_duplicates("run"))
    chosen = default_runs(info.rename(columns={"run": "name"}).to_dict("records"), names=list(runs or ()))
    info = info[info["run"].isin(chosen)]
    sources = [s for s in ("weights", "activations") if s in set(metrics["source"])]
    roles: dict = {}
    for r in info["run"]:
        for src in sources:
            names = list(dict.fromkeys(metrics.loc[(metrics["run"] == r) & (metrics["source"] == src), "layer"]))
            for role, layer in layer_roles(layer_order(names), layers_to_show).items():
                roles.setdefault(role, {})[(r, src)] = layer
    order = ["embed", "middle block", "last block"] + list(layers_to_show or ())
    roles = dict(sorted(roles.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    if not roles:
        raise ValueError(f"none of figures.layers_to_show {list(layers_to_show)} exists in runs {chosen}; "
                         f"change figures.layers_to_show in the config")
    return info, roles


def plot_metric_evolution(metrics, path, runs=(), layers_to_show=(), baseline: str = "mean_pairwise_distance",
                          dpi: int = 150) -> dict:
    """Normalised H0/H1 total persistence and a baseline per layer over checkpoints, a few runs.

    Rows: H0 total persistence / scale, H1 total persistence / scale (total persistence = sum of the
    finite lifetimes of a diagram; scale = the cloud's longest MST edge), and ``baseline`` (raw, in
    the cloud's units). Behind each H0/H1 curve, when the table has ``{m}_null_mean`` and
    ``{m}_null_sd``, a band in the curve's colour spans the covariance-matched Gaussian null's mean
    +- :data:`NULL_BAND_SD` sd (sd over the null draws of that cloud): a curve inside its band is
    what a cloud with the same geometry and no learned structure would give. Columns: sources. Colour = run (model size, :func:`~toposcale.report.plots.training.size_colors`),
    line style = layer role (:func:`~toposcale.plan.figures.layer_roles`). The x axis is ``step + 1`` on a log scale, so the
    initialisation (step 0) is drawn at 1.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Concatenated ``results/metrics/{run}.parquet`` tables (at least the drawn runs).
    runs : sequence of str
        Runs to draw (empty = :func:`~toposcale.plan.figures.default_runs` over the runs in ``metrics``).
    layers_to_show : sequence of str
        Config ``figures.layers_to_show`` (empty = embed, middle block, last block of each run).
    baseline : str
        A baseline column (:data:`BASELINE_LABELS`).

    Returns
    -------
    dict
        ``runs``, ``roles`` (role -> {run: layer}), ``title``, ``null_bands`` (number of bands drawn).
    """
    need = ["run", "activation", "size", "seed", "n_nonembed", "step", "source", "layer", baseline]
    check_columns(metrics, need + [c for c, _ in EVOLUTION_METRICS], "metrics table")
    if baseline not in BASELINE_LABELS:
        raise ValueError(f"baseline {baseline!r} unknown; use one of {sorted(BASELINE_LABELS)}")
    info, roles = evolution_roles(metrics, runs, layers_to_show)
    colors = run_size_colors(info)
    sources = [s for s in ("weights", "activations") if s in set(metrics["source"])]
    rows = list(EVOLUTION_METRICS) + [(baseline, BASELINE_LABELS[baseline])]
    role_style = {role: LAYER_STYLES[i % len(LAYER_STYLES)] for i, role in enumerate(roles)}

    has_null = {c: {f"{c}_null_mean", f"{c}_null_sd"} <= set(metrics.columns) for c, _ in EVOLUTION_METRICS}
    n_bands = 0
    style.setup()
    fig, axes = plt.subplots(len(rows), len(sources), figsize=FIGSIZE_EVOLUTION, sharex="col", squeeze=False)
    for j, src in enumerate(sources):
        n_here = sum((r, src) in per for r in info["run"] for per in roles.values())
        alpha = min(0.15, NULL_BAND_ALPHA / max(n_here, 1))
        for i, (col, label) in enumerate(rows):
            ax = axes[i, j]
            drawn = []
            for r in info.itertuples():
                sub = metrics[(metrics["run"] == r.run) & (metrics["source"] == src)]
                for role, per in roles.items():
                    layer = per.get((r.run, src))
                    if layer is None:
                        continue
                    g = sub[sub["layer"] == layer].sort_values("step")
                    y = g[col].to_numpy(float)
                    if not np.isfinite(y).any():
                        continue
                    if has_null.get(col):
                        band = _null_band(ax, g, col, colors[r.run], alpha)
                        n_bands += band is not None
                        drawn += [] if band is None else [band]
                    ax.plot(g["step"] + 1, y, color=colors[r.run], ls=role_style[role], lw=1.5)
                    drawn.append(y)
            ax.set_xscale("log")
            if drawn:
                style.log_y_if_wide(ax, np.concatenate(drawn))
            else:
                _empty(ax, f"{col} not defined for {src}")
            if i == 0:
                ax.set_title(SOURCE_TITLES.get(src, src))
            if j == 0 or not drawn:
                ax.set_ylabel(label)
            if i == len(rows) - 1:
                ax.set_xlabel("optimizer step + 1 (log; 1 = initialisation)")
    run_handles = [Line2D([], [], color=colors[r.run], lw=2.5, label=f"{r.run} ({_fmt_range([r.n_nonembed])} params)")
                   for r in info.itertuples()]
    role_handles = []
    for k in roles:
        used = sorted(set(roles[k].values()))
        label = k if used == [k] else f"{k} ({'/'.join(used)})"
        role_handles.append(Line2D([], [], color="0.3", ls=role_style[k], lw=1.5, label=label))
    if n_bands:
        role_handles.append(Patch(color="0.3", alpha=0.3, lw=0,
                                  label=f"Gaussian null: mean $\\pm$ {NULL_BAND_SD:g} sd (same covariance)"))
    fig.legend(handles=run_handles + role_handles, loc="lower center", ncol=min(4, len(run_handles) + len(role_handles)),
               fontsize=9, frameon=False, bbox_to_anchor=(0.5, 0.0))
    act = "/".join(sorted(info["activation"].unique()))
    seeds = ",".join(str(s) for s in sorted(info["seed"].unique()))
    title = (f"Topology over training: {len(info)} {act} runs (seed {seeds}), "
             f"{_fmt_range(info['n_nonembed'])} non-embedding params"
             + ("" if n_bands else "\n(no null columns in the metrics tables: null bands not drawn)"))
    fig.suptitle(title, fontsize=12)
    n_leg_rows = int(np.ceil((len(run_handles) + len(role_handles)) / 4))
    fig.tight_layout(rect=(0, 0.025 * n_leg_rows + 0.01, 1, 0.98))
    style.save(fig, path, dpi)
    return {"runs": list(info["run"]), "roles": roles, "title": title, "null_bands": n_bands}


def _null_band(ax, g, col, color, alpha):
    """Shade null mean +- NULL_BAND_SD sd of ``col`` over the rows ``g`` (sorted by step); the band's
    values, or None when the null is undefined at every step."""
    mean, sd = g[f"{col}_null_mean"].to_numpy(float), g[f"{col}_null_sd"].to_numpy(float)
    lo, hi = mean - NULL_BAND_SD * sd, mean + NULL_BAND_SD * sd
    ok = np.isfinite(lo) & np.isfinite(hi)
    if not ok.any():
        return None
    x = g["step"].to_numpy(float) + 1
    ax.fill_between(x, lo, hi, where=ok, color=color, alpha=alpha, lw=0)
    for edge in (lo, hi):                   # thin edges keep each band's extent legible where bands overlap
        ax.plot(x[ok], edge[ok], color=color, lw=0.4, alpha=0.6)
    return np.concatenate([lo[ok], hi[ok]])


def _fmt_range(values) -> str:
    lo, hi = float(np.min(values)), float(np.max(values))
    return fmt_count(lo) if lo == hi else f"{fmt_count(lo)}-{fmt_count(hi)}"
