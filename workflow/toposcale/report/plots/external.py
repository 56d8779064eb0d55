"""Figure of one analysed external training log (reads the tables of :mod:`toposcale.experiments.external`).

Four panels: (a) the log's beta against step with its stated uncertainty, the plateau levels found
by change-point detection, grokking windows and the claimed fixpoint ``Phi**3``; (b) successive
plateau ratios against the claimed ladder ratio ``Phi**(1/3)``; (c) capability with the fitted
logistic curves and detected change points; (d) loss with detected change points. Steps are drawn
on a log axis, so step 0 rows are not shown. The verdict of each claim is printed under the panels.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

from toposcale.analysis.logistic import logistic
from toposcale.experiments.external import FIXPOINT, LADDER_RATIO
from toposcale.report.plots import style

MAX_LEGEND_RUNS = 12


def _run_colors(runs):
    if len(runs) <= len(style.PALETTE) - 1:
        return {r: style.PALETTE[i] for i, r in enumerate(runs)}
    cmap = plt.get_cmap("viridis")
    return {r: cmap(i / max(len(runs) - 1, 1)) for i, r in enumerate(runs)}


def _empty(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _shade_windows(ax, g, color):
    f = g["grokking_detected"].astype("boolean").fillna(False).to_numpy(bool)
    steps = g["training_step"].to_numpy(float)
    edges = np.diff(np.concatenate([[0], f.astype(int), [0]]))
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1):
        if steps[b] > 0:
            ax.axvspan(max(steps[a], steps[steps > 0].min()), steps[b], color=color, alpha=0.12, lw=0)


def _log_axis_labels(ax, ylabel, ylog=False):
    ax.set_xscale("log")
    ax.set_xlabel("training step (log scale)")
    ax.set_ylabel(ylabel)
    if ylog:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(NullFormatter())


def _panel_beta(ax, series, colors, fixpoint):
    if series["beta_estimate"].notna().sum() == 0:
        _empty(ax, "no beta_estimate in this log")
        return
    for run, g in series.groupby("run_id", sort=False):
        g = g[g["training_step"] > 0]
        c = colors[run]
        b = g["beta_estimate"].to_numpy(float)
        u = g["beta_uncertainty"].to_numpy(float)
        s = g["training_step"].to_numpy(float)
        ax.plot(s, b, "o-", color=c, ms=2.5, lw=0.8, alpha=0.8)
        if np.isfinite(u).any():
            ax.fill_between(s, b - np.nan_to_num(u), b + np.nan_to_num(u), color=c, alpha=0.1, lw=0)
        plateaus = g[g["plateau_id"].notna()].groupby("plateau_id")
        if len(plateaus) < 2:  # one segment is a climb, not a plateau: drawing a level would mislead
            continue
        for _, p in plateaus:
            ax.plot([p["training_step"].min(), p["training_step"].max()], [p["plateau_beta"].iloc[0]] * 2,
                    color=c, lw=3, alpha=0.9, solid_capstyle="butt")
    for run, g in series.groupby("run_id", sort=False):
        _shade_windows(ax, g[g["training_step"] > 0], colors[run])
    ax.axhline(fixpoint, color="0.2", ls="--", lw=1)
    ax.annotate(f"claimed fixpoint $\\Phi^3$ = {fixpoint:.3f}", (0.01, fixpoint), xycoords=("axes fraction", "data"),
                xytext=(0, 3), textcoords="offset points", fontsize=8, color="0.2")
    _log_axis_labels(ax, "beta_estimate (log scale)", ylog=True)
    ax.set_title("(a) log's beta: rows ± beta_uncertainty, plateaus (thick, runs with 2 or more),\n"
                 "grokking windows (shaded)", fontsize=10)


def _panel_ratios(ax, series, colors, ratio, claims):
    if series["plateau_beta"].notna().sum() == 0:
        _empty(ax, "no beta plateaus")
        return
    any_ratio = False
    for run, g in series.groupby("run_id", sort=False):
        levels = g.dropna(subset=["plateau_id"]).drop_duplicates("plateau_id")["plateau_beta"].to_numpy(float)
        if levels.size < 2:
            continue
        r = levels[1:] / levels[:-1]
        ax.plot(np.arange(1, r.size + 1), r, "o-", color=colors[run], ms=5, lw=0.8)
        any_ratio = True
    if not any_ratio:
        _empty(ax, "fewer than 2 plateaus in every run")
        return
    ax.axhline(ratio, color="0.2", ls="--", lw=1, label=f"claimed $\\Phi^{{1/3}}$ = {ratio:.3f}")
    ax.axhline(1.0, color="0.6", ls=":", lw=1, label="no change (1)")
    ax.set_xlabel("plateau transition k (plateau k / plateau k-1, step order)")
    ax.set_ylabel("ratio of successive plateau betas")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="best", frameon=True)
    c = claims.set_index("claim")
    if "ladder" in c.index:
        row = c.loc["ladder"]
        ax.set_title(f"(b) ladder test: {row['verdict']}, p = {row['p_value']:.3g}, "
                     f"geometric mean {row['estimate']:.3f}", fontsize=10)


def _logistic_curve(row, steps):
    x = np.log10(steps)
    return logistic(x, row["lo"], row["hi"], row["beta"], row["x0"])


def _panel_series(ax, series, fits, colors, col, ylabel, letter, ylog=False):
    if series[col].notna().sum() == 0:
        _empty(ax, f"no {col} in this log")
        return
    fit_by_run = fits[fits["series"] == col].set_index("run_id") if len(fits) else None
    for run, g in series.groupby("run_id", sort=False):
        g = g[(g["training_step"] > 0) & g[col].notna()]
        c = colors[run]
        s = g["training_step"].to_numpy(float)
        ax.plot(s, g[col], "o", color=c, ms=2.5, alpha=0.6)
        if fit_by_run is not None and run in fit_by_run.index:
            row = fit_by_run.loc[run]
            if bool(row["converged"]) and np.isfinite(row["beta"]) and s.size:
                grid = np.geomspace(s.min(), s.max(), 200)
                ls = "-" if bool(row["logistic_supported"]) else ":"
                ax.plot(grid, _logistic_curve(row, grid), ls, color=c, lw=1.4)
        cp = g[g[f"cp_{col}"].astype(bool)]
        ax.plot(cp["training_step"], cp[col], "v", color=c, ms=7, mec="k", mew=0.6, ls="none")
        _shade_windows(ax, g, c)
    _log_axis_labels(ax, ylabel, ylog=ylog)
    ax.set_title(f"({letter}) {col}: logistic fit (solid = supported, dotted = not),\n"
                 f"detected change points (triangles)", fontsize=10)


def _claims_text(claims):
    lines = []
    for _, c in claims.iterrows():
        p = "" if not np.isfinite(c["p_value"]) else f", p = {c['p_value']:.3g}"
        lines.append(f"{c['claim']}: {c['verdict'].upper()}{p}. {c['detail']}")
    return "\n".join(lines)


def plot_external(fits, claims, series, path, *, name: str, dpi: int = 150, ladder_ratio=None, fixpoint=None):
    """Draw the four-panel figure of one analysed log and save it to ``path``.

    Parameters
    ----------
    fits, claims, series : pandas.DataFrame
        The tables written by :func:`toposcale.experiments.external.write_analysis`.
    name : str
        Log name for the title.
    """
    ladder_ratio = LADDER_RATIO if ladder_ratio is None else ladder_ratio
    fixpoint = FIXPOINT if fixpoint is None else fixpoint
    style.setup()
    runs = list(dict.fromkeys(series["run_id"]))
    colors = _run_colors(runs)
    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
    _panel_beta(axes[0, 0], series, colors, fixpoint)
    _panel_ratios(axes[0, 1], series, colors, ladder_ratio, claims)
    _panel_series(axes[1, 0], series, fits, colors, "capability_score", "capability_score (0-1)", "c")
    _panel_series(axes[1, 1], series, fits, colors, "loss", "loss (log scale)", "d", ylog=True)
    sizes = series.groupby("run_id", sort=False)["n_params_millions"].first()
    handles = [Line2D([], [], color=colors[r], marker="o", lw=1,
                      label=f"{r}" + (f" ({sizes[r]:g} M params)" if np.isfinite(sizes[r]) else ""))
               for r in runs[:MAX_LEGEND_RUNS]]
    extra = f" (+{len(runs) - MAX_LEGEND_RUNS} more)" if len(runs) > MAX_LEGEND_RUNS else ""
    if handles:
        fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 4), frameon=False,
                   bbox_to_anchor=(0.5, 0.97), title=f"runs{extra}")
    n_rows = len(series)
    fig.suptitle(f"External log '{name}': {len(runs)} run(s), {n_rows} usable rows", y=1.0, fontsize=13)
    fig.text(0.01, -0.005, _claims_text(claims), ha="left", va="top", fontsize=8.5, wrap=True)
    top = 0.93 - 0.025 * (max(len(handles) - 1, 0) // 4)
    fig.tight_layout(rect=(0, 0, 1, top))
    style.save(fig, path, dpi=dpi)
