"""The alignment figure: headline topology series with the loss's stage drops shaded, and the pooled
rate of change at the crossings against its two nulls, with the lead/lag (toposcale.analysis.alignment).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from toposcale.analysis.alignment import TOPOLOGY_SERIES, complete_crossings
from toposcale.analysis.transitions import trajectory
from toposcale.report.plots import style
from toposcale.report.plots.training import activation_styles, run_size_colors, runs_table

#: Runs drawn in the upper panels (spread over sizes).
N_RUNS_SHOWN = 4
_NULL_STYLE = {"random": ("random position", "0.55"), "swap": ("swapped between runs", style.PALETTE[1])}


def shown_runs(metrics, crossings, n: int = N_RUNS_SHOWN) -> list[str]:
    """Up to ``n`` runs with a complete crossing, spread over sizes: the first activation and lowest seed
    where there are enough, in ascending size."""
    have = set(complete_crossings(crossings)["run"]) & set(metrics["run"])
    info = runs_table(metrics[metrics["run"].isin(have)].drop_duplicates("run"))
    if info.empty:
        return []
    first = info[info["activation"] == info["activation"].iloc[0]].sort_values(["seed", "size_n"])
    pool = first.drop_duplicates("size_key").sort_values("size_n")
    if len(pool) < n:
        pool = info.sort_values(["size_n", "seed"])
    idx = np.unique(np.linspace(0, len(pool) - 1, min(n, len(pool))).round().astype(int))
    return list(pool["run"].iloc[idx])


def _label(source, layer, metric) -> str:
    return f"{source} ({'block mean' if layer == 'blocks' else layer}):\n" + \
        metric.replace("_total_persistence_norm", " total persistence / scale").replace("h0", "H0").replace("h1", "H1")


def plot_alignment(metrics, crossings, table, nulls, path, dpi: int = 150, series=TOPOLOGY_SERIES) -> dict:
    """Upper row: each headline series (raw) against training step (log axis) for a few runs
    (:func:`shown_runs`; colour = size, line style = activation), each run's crossing drops
    ``[step_start, step_end]`` shaded in its colour and ``step_cross`` dotted. Lower left: per row of the
    alignment table (series x variant x crossing) the pooled rate (dot, 95% bootstrap interval as a bar)
    against the 2.5-97.5% range and median of each null's draws (random position: grey; swapped between
    runs: orange); a filled dot passed, an open one did not. Lower right: the pooled lag with its
    interval (negative: topology moves before the loss crosses).

    Returns
    -------
    dict
        ``runs`` (drawn in the upper row) and ``rows`` (labels of the lower panels, top to bottom).
    """
    runs = shown_runs(metrics, crossings)
    cr = complete_crossings(crossings)
    info = runs_table(metrics[metrics["run"].isin(runs)].drop_duplicates("run")) if runs else None
    colors = run_size_colors(info) if runs else {}
    dashes = activation_styles(info["activation"]) if runs else {}
    series = [s for s in series if s[2] in metrics.columns
              and np.isfinite(trajectory(metrics, *s)["value"].to_numpy(float)).any()]
    style.setup()
    n_top = max(len(series), 1)
    fig = plt.figure(figsize=(max(4.2 * n_top + 2.8, 15.0), 4.4 + 0.45 * max(len(table), 4)))
    outer = fig.add_gridspec(2, 1, height_ratios=[1.0, 0.13 * max(len(table), 4)], hspace=0.5)
    top = outer[0].subgridspec(1, n_top, wspace=0.3)
    bottom = outer[1].subgridspec(1, 3, width_ratios=[2.4, 1.0, 0.55], wspace=0.06)
    for k, (source, layer, metric) in enumerate(series):
        ax = fig.add_subplot(top[0, k])
        curves = trajectory(metrics, source, layer, metric)
        for run in runs:
            c = curves[curves["run"] == run]
            act = info.set_index("run").loc[run, "activation"]
            ax.plot(c["step"], c["value"], color=colors[run], ls=dashes[act], lw=1.5, marker=".", ms=4)
            for x in cr[cr["run"] == run].itertuples():
                ax.axvspan(x.step_start, x.step_end, color=colors[run], alpha=0.18, lw=0)
                ax.axvline(x.step_cross, color=colors[run], ls=":", lw=1)
        if not curves.empty:
            ax.set_xscale("log")
        ax.set_xlabel("training step (log scale)")
        ax.set_title(_label(source, layer, metric), fontsize=10)
    if runs and series:
        handles = [plt.Line2D([], [], color=colors[r], ls=dashes[info.set_index("run").loc[r, "activation"]],
                              label=f"{r} ({info.set_index('run').loc[r, 'size_label']})") for r in runs]
        handles.append(Patch(color="0.5", alpha=0.3, label="loss drop (10-90%), dotted: crossing"))
        fig.axes[len(series) - 1].legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                                         frameon=False)
    rows = [f"{r.source} {r.metric.split('_')[0].upper()} {r.variant} · {r.crossing}" for r in table.itertuples()]
    axr = fig.add_subplot(bottom[0, 0])
    axl = fig.add_subplot(bottom[0, 1], sharey=axr)
    y = np.arange(len(table))[::-1]
    for yi, r in zip(y, table.itertuples()):
        for off, null in ((0.18, "random"), (-0.18, "swap")):
            d = nulls[(nulls["source"] == r.source) & (nulls["layer"] == r.layer) & (nulls["metric"] == r.metric)
                      & (nulls["variant"] == r.variant) & (nulls["crossing"] == r.crossing)
                      & (nulls["null"] == null)]["statistic"].to_numpy(float)
            d = d[np.isfinite(d)]
            if len(d):
                lo, med, hi = np.quantile(d, [0.025, 0.5, 0.975])
                axr.plot([lo, hi], [yi + off] * 2, color=_NULL_STYLE[null][1], lw=5, alpha=0.6,
                         solid_capstyle="butt")
                axr.plot([med], [yi + off], "|", color="k", ms=8)
        if np.isfinite(r.statistic):
            passed = r.verdict.startswith("topology marks")
            if np.isfinite(r.ci_low):
                axr.plot([r.ci_low, r.ci_high], [yi, yi], color="k", lw=1.2)
            axr.plot([r.statistic], [yi], "o", color="k", mfc="k" if passed else "white", ms=7)
            if np.isfinite(r.lag):
                if np.isfinite(r.lag_ci_low):
                    axl.plot([r.lag_ci_low, r.lag_ci_high], [yi, yi], color="k", lw=1.2)
                axl.plot([r.lag], [yi], "D", color=style.PALETTE[0], ms=6)
        axl.text(1.02, yi, r.verdict, transform=axl.get_yaxis_transform(), va="center", fontsize=8)
    axr.set_yticks(y)
    axr.set_yticklabels(rows, fontsize=8)
    axr.axvline(1.0, color="0.7", lw=1, ls="--")
    axr.set_xlabel("rate at the crossing (x the run's median change per checkpoint interval)")
    axr.set_title("pooled rate at the crossings (dot: filled = passes; bar: 95% CI) vs 95% of the draws of the\n"
                  "random-position null (grey, above) and the swap-between-runs null (orange, below); | = median",
                  fontsize=9)
    axl.axvline(0.0, color="0.7", lw=1, ls="--")
    axl.tick_params(labelleft=False)
    axl.set_xlabel("lag (checkpoint intervals)\n< 0: topology moves first")
    axl.set_title("lead / lag", fontsize=10)
    if len(table) == 0:
        axr.text(0.5, 0.5, "no stage crossing in this study: cannot decide", transform=axr.transAxes,
                 ha="center", va="center", color="0.4")
    fig.suptitle("Does topology change at the loss's stage crossings?", fontsize=13, y=1.01)
    style.save(fig, path, dpi=dpi)
    return {"runs": runs, "rows": rows}
