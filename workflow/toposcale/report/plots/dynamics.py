"""Figures of the training-dynamics analyses: metric-loss correlations, forecasts, transitions.

Each function reads analysis tables (``results/analysis/dynamics.csv``, ``forecast.csv`` and its
summaries, ``transitions.csv``; the metrics tables only to draw the curves themselves) and saves one
PNG. Runs are coloured by model size and styled by activation as in :mod:`toposcale.report.plots.training`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from toposcale.analysis.forecast_summary import evaluations_of, note_of, primary_rows
from toposcale.analysis.transitions import HEADLINE_SERIES, family_counts, trajectory
from toposcale.report.plots import style
from toposcale.report.plots.training import activation_styles, run_size_colors, runs_table
from toposcale.report.variants import raw_rows

#: Display names of the forecast methods, with their colours.
METHOD_STYLE = {
    "power_law": ("power law (loss only)", style.PALETTE[0], "o"),
    "ridge_loss": ("ridge, loss features", style.PALETTE[1], "s"),
    "ridge_topology": ("ridge, loss + topology", style.PALETTE[3], "D"),
    "ridge_topology_null": ("ridge, loss + null-adjusted topology", style.PALETTE[4], "^"),
    "last_observed": ("last observed loss", "0.45", "v"),
}
_LABELS = {"val_loss": "validation loss (nats/token)", "train_loss": "training loss (nats/token)"}
#: Suffix of a heatmap row that shows a metric's standardised excess over its Gaussian null.
NULL_ROW = " [null_z]"
#: Tick-label colour of the null_z rows of the heatmap.
NULL_ROW_COLOR = "#6a3d9a"


def _run_info(table):
    """Run table (size key, label, colour, line style) from the descriptor columns of ``table``."""
    info = runs_table(table.drop_duplicates("run"))
    return info, run_size_colors(info), activation_styles(info["activation"])


def _metric_label(metric: str) -> str:
    if metric in _LABELS:
        return _LABELS[metric]
    unit = " (/ scale)" if metric.endswith("_norm") else ""
    return metric.replace("_norm", "").replace("_", " ") + unit


# ----------------------------------------------------------------------------- correlations

def plot_correlation_heatmap(corr, path, dpi: int = 150, fdr_alpha: float = 0.05) -> dict:
    """Spearman correlation of each metric with validation loss: metrics x runs, per source.

    Top row: raw ``rho`` (description, not tested: no dots); bottom row: ``rho_detrended`` (both series
    detrended in log step, see :mod:`toposcale.analysis.dynamics`), the tested variant. A cell is the median
    over the run's layers; a dot marks cells where at least half of the layers are significant after
    Benjamini-Hochberg (``q_detrended <= fdr_alpha``, per run).
    With a ``variant`` column, each topological metric's null-adjusted series (its standardised excess
    over the covariance-matched Gaussian null) is the row right below the metric, labelled
    ``metric [null_z]`` in :data:`NULL_ROW_COLOR`: a dot on the raw row and none on the null_z row is a
    correlation explained by its null.

    Returns
    -------
    dict
        ``metrics`` (row labels), ``runs`` (in plotted order), ``title``.
    """
    info, _, _ = _run_info(corr)
    runs = list(info["run"])
    sources = [s for s in ("weights", "activations") if s in set(corr["source"])] or \
        sorted(corr["source"].unique())
    if "variant" in corr:   # one null-adjusted row per metric: the Gaussian null's (perm_z/copula_z are in the table)
        corr = corr[corr["variant"].isin(["raw", "null_z"])]
    has_null = "variant" in corr and (corr["variant"] == "null_z").any()
    corr = corr.assign(metric=corr["metric"] + np.where(corr["variant"] == "null_z", NULL_ROW, "")) \
        if has_null else corr
    base = list(dict.fromkeys(raw_rows(corr).sort_values("kind", ascending=False, kind="stable")["metric"]))
    labels = set(corr["metric"])
    metrics = [r for m in base for r in (m, m + NULL_ROW) if r in labels]
    variants = [("rho", None, "Spearman rho (description, not tested)"),   # not 'raw': raw vs null_z are the rows
                ("rho_detrended", "significant_detrended", "Spearman rho, detrended in log step (tested)")]
    style.setup()
    fig, axes = plt.subplots(2, len(sources), figsize=(1.0 + 0.62 * len(runs) * len(sources) + 3,
                                                       2.2 + 0.34 * len(metrics) * 2),
                             squeeze=False, sharey=True, layout="constrained")
    image = None
    for row, (col, sig, label) in enumerate(variants):
        for c, source in enumerate(sources):
            ax = axes[row, c]
            g = corr[corr["source"] == source]
            med = g.pivot_table(index="metric", columns="run", values=col, aggfunc="median")
            flags = g[sig].astype(float) if sig in g else pd.Series(np.nan, index=g.index)
            frac = g.assign(s=flags).pivot_table(index="metric", columns="run", values="s", aggfunc="mean",
                                                 dropna=False)
            med = med.reindex(index=metrics, columns=runs)
            frac = frac.reindex(index=metrics, columns=runs)
            image = ax.imshow(med.to_numpy(float), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
            yy, xx = np.nonzero(frac.to_numpy(float) >= 0.5)
            ax.scatter(xx, yy, s=14, c="k", marker="o", linewidths=0)
            ax.set_xticks(range(len(runs)))
            ax.set_xticklabels(runs if row == 1 else [], rotation=60, ha="right", fontsize=8)
            ax.set_yticks(range(len(metrics)))
            ax.set_yticklabels(metrics, fontsize=8)
            for tick, m in zip(ax.get_yticklabels(), metrics):
                if m.endswith(NULL_ROW):
                    tick.set_color(NULL_ROW_COLOR)
            ax.set_title(f"{source}\n{label}", fontsize=9)   # two lines: narrow panels with few runs
            ax.grid(False)
            missing = np.isnan(med.to_numpy(float))
            for y, x in zip(*np.nonzero(missing)):
                ax.text(x, y, "n/a", ha="center", va="center", fontsize=6, color="0.5")
    cbar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.5, pad=0.01, aspect=30)
    cbar.set_label("Spearman rho with validation loss\n(median over layers)")
    n_ckpt = int(corr["n"].median())
    title = (f"Metric vs validation loss across checkpoints ({len(runs)} runs, median {n_ckpt} checkpoints "
             f"per series); dot: detrended correlation BH-significant (q <= {fdr_alpha:g}) in >= half of the layers"
             + (f"\n{NULL_ROW.strip()} rows: excess over the covariance-matched Gaussian null, (metric - null mean)"
                f" / null sd" if has_null else "\nno null-adjusted rows (metrics tables predate the matched nulls)"))
    fig.suptitle(title, fontsize=11)
    style.save(fig, path, dpi)
    return {"metrics": metrics, "runs": runs, "title": title}


# ----------------------------------------------------------------------------- forecasts

def plot_forecast(methods, comparisons, path, dpi: int = 150) -> dict:
    """Forecast error against the observed fraction of training, per method, with jackknife-t CIs over sizes.

    Left: mean relative absolute error of the final validation loss over runs (log scale), with the
    95% interval (jackknife-t over sizes); the ridge methods under the primary evaluation (leave-one-size-out) as solid
    lines and under the secondary, leaky one (leave-one-run-out) as thin dotted lines without intervals;
    ``power_law`` and ``last_observed`` (the same in both) once. Right: paired difference in absolute
    error (nats), under the primary evaluation only, against the loss-only ridge (``ridge_loss``) of
    ridge_topology (raw topology features) and, when present, ridge_topology_null (null-adjusted
    features), and ridge_topology minus the power law; below zero means the topology-augmented forecast
    is better. Where the primary evaluation cannot decide (too few sizes) the panels say so.

    Parameters
    ----------
    methods, comparisons : pandas.DataFrame
        The ``methods`` and ``comparisons`` tables of :func:`toposcale.analysis.forecast_summary.summarise_forecasts`
        (tables without ``evaluation`` are drawn as their one evaluation).
    """
    style.setup()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.6))
    fracs = sorted(methods["fraction"].unique())
    ev = evaluations_of(methods)
    primary = primary_rows(methods)
    first = str(evaluations_of(primary).iloc[0]) if len(primary) else ""
    secondary = methods[(ev != first) & methods["method"].str.startswith("ridge")]
    offsets = np.linspace(-0.012, 0.012, len(METHOD_STYLE))
    for off, (method, (label, color, marker)) in zip(offsets, METHOD_STYLE.items()):
        g = secondary[secondary["method"] == method].sort_values("fraction")
        g = g[np.isfinite(g["mean_rel_error"])]
        if len(g):
            ax.plot(g["fraction"] + off, 100 * g["mean_rel_error"], color=color, ls=":", lw=1.0, marker=marker,
                    ms=3, mfc="none", alpha=0.8)
        g = primary[primary["method"] == method].sort_values("fraction")
        g = g[np.isfinite(g["mean_rel_error"])]
        if g.empty:
            continue
        y = 100 * g["mean_rel_error"].to_numpy(float)
        lo = 100 * g["mean_rel_error_ci_low"].to_numpy(float)
        hi = 100 * g["mean_rel_error_ci_high"].to_numpy(float)
        yerr = np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)])
        ax.errorbar(g["fraction"] + off, y, yerr=np.nan_to_num(yerr), color=color, marker=marker,
                    capsize=3, lw=1.5, ms=5, label=label)
    if note_of(primary):
        ax.text(0.02, 0.02, f"{first.replace('_', '-')}: {note_of(primary)}", transform=ax.transAxes, fontsize=7,
                color="0.3")
    if len(secondary):
        ax.plot([], [], color="0.4", ls=":", lw=1.0, label="ridge, leave-one-run-out (leaky)")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(fracs)
    ax.set_xticklabels([f"{100 * f:g}%" for f in fracs])
    ax.set_xlabel("fraction of training observed")
    ax.set_ylabel("mean |forecast - final| / final (log scale)")
    n_runs = int(methods["n_runs"].max())
    ax.set_title(f"Final-loss forecast error ({n_runs} runs, 95% jackknife-t CI over sizes)\nsolid: "
                 f"{first.replace('_', '-')}", fontsize=10)
    ax.legend(fontsize=8)

    comparisons = primary_rows(comparisons)
    pairs = [(m, r) for m, r in (("ridge_topology", "power_law"), ("ridge_topology", "ridge_loss"),
                                 ("ridge_topology_null", "ridge_loss"))
             if ((comparisons["method"] == m) & (comparisons["reference"] == r)).any()]
    for k, (off, (method, ref)) in enumerate(zip(np.linspace(-0.015, 0.015, max(len(pairs), 1)), pairs)):
        g = comparisons[(comparisons["method"] == method) & (comparisons["reference"] == ref)].sort_values("fraction")
        null = method.endswith("_null")                 # colour = reference; dashed, open = null-adjusted
        color, marker = METHOD_STYLE[ref][1], METHOD_STYLE[method][2]
        label = f"{'null-adj. topology' if null else 'topology'} minus {METHOD_STYLE[ref][0]}"
        y = g["mean_diff_abs_error"].to_numpy(float)
        yerr = np.vstack([y - g["ci_low"].to_numpy(float), g["ci_high"].to_numpy(float) - y])
        bx.errorbar(g["fraction"] + off, y, yerr=np.nan_to_num(np.clip(yerr, 0, None)), color=color,
                    marker=marker, capsize=3, lw=1.5, ms=5, label=label, ls="--" if null else "-",
                    mfc="none" if null else color)
        for f, yy, v in zip(g["fraction"], g["ci_high"], g["verdict"]):
            if v in ("better", "worse") and np.isfinite(yy):
                # stacked by series, so labels of neighbouring series at one fraction do not overprint
                bx.annotate(v, (f + off, yy), textcoords="offset points", xytext=(0, 3 + 9 * k), ha="center",
                            va="bottom", fontsize=7, color=color)
    bx.axhline(0.0, color="0.3", lw=1)
    bx.set_xticks(fracs)
    bx.set_xticklabels([f"{100 * f:g}%" for f in fracs])
    bx.set_xlabel("fraction of training observed")
    bx.set_ylabel("difference in absolute error (nats)")
    bx.set_title(f"Ridge with topology minus reference (< 0: topology helps)\n{first.replace('_', '-')}",
                 fontsize=10)
    blocked = sorted({v for v in comparisons["verdict"].astype(str) if v.startswith("cannot decide")})
    if blocked:
        bx.text(0.02, 0.9, blocked[0], transform=bx.transAxes, fontsize=8, color="0.3")
    if not any(m == "ridge_topology_null" for m, _ in pairs):
        bx.text(0.02, 0.02, "no null-adjusted method (metrics predate the matched nulls)", transform=bx.transAxes,
                fontsize=7, color="0.4")
    if pairs:
        bx.legend(fontsize=8)
    fig.tight_layout()
    style.save(fig, path, dpi)
    return {"fractions": fracs, "n_runs": n_runs}


# ----------------------------------------------------------------------------- transitions

def plot_transitions(metrics, transitions, path, dpi: int = 150, panels=HEADLINE_SERIES) -> dict:
    """Metric curves over log step with the detected transitions marked, and transition timing vs size.

    One panel per (source, layer, metric) of ``panels`` (layer ``blocks`` = mean over the blocks; the
    loss has source ``loss``): every run's series over training steps (log axis), its significant change
    points as open circles, its transition (the most significant one) as a filled circle and its
    diminishing-returns point as a cross. Only raw series (``variant == 'raw'``) are drawn. The last panel plots the training fraction of each significant
    transition (all series of the transitions table) against the run's non-embedding parameter count, with
    the end of the learning-rate warmup (the median warmup fraction of the runs) as a dotted line.

    Returns
    -------
    dict
        ``panels`` drawn, the number of ``significant`` series in the table, the figure's ``title`` (it
        names the test the table records in its ``method`` column) and the ``warmup_fraction`` drawn (None:
        not drawn).
    """
    info, colors, dashes = _run_info(metrics)
    transitions = raw_rows(transitions)             # the curves drawn are raw; null_z rows are in the report
    panels = [p for p in panels if p[2] in metrics.columns]
    n = len(panels) + 1
    ncols = 3
    nrows = -(-n // ncols)
    style.setup()
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 3.8 * nrows), squeeze=False)
    flat = axes.ravel()
    for ax, (source, layer, metric) in zip(flat, panels):
        curves = trajectory(metrics, source, layer, metric)
        tr = transitions[(transitions["source"] == source) & (transitions["layer"] == layer)
                         & (transitions["metric"] == metric)].set_index("run")
        n_sig = 0
        if curves.empty:
            ax.text(0.5, 0.5, "no data for this series", transform=ax.transAxes, ha="center",
                    va="center", color="0.4")
            ax.set_xticks([])
            ax.set_yticks([])
        for r in info.itertuples():
            c = curves[curves["run"] == r.run]
            if c.empty:
                continue
            ax.plot(c["step"], c["value"], color=colors[r.run], ls=dashes[r.activation], lw=1.4)
            if r.run not in tr.index:
                continue
            row = tr.loc[r.run]
            steps = [float(v) for v in str(row["change_point_steps"]).split(";") if v not in ("", "nan")]
            for s in steps:
                _mark(ax, c, s, colors[r.run], filled=(s == row["transition_step"]))
            n_sig += bool(steps)
            if np.isfinite(row["diminishing_returns_step"]):
                _mark(ax, c, row["diminishing_returns_step"], colors[r.run], marker="x")
        if not curves.empty:
            ax.set_xscale("log")
        ax.set_xlabel("training step (log scale)")
        ax.set_ylabel(_metric_label(metric))
        where = "" if source == "loss" else \
            f"{source}, {'mean over blocks' if layer == 'blocks' else layer}: "
        ax.set_title(f"{where}{metric}\n{n_sig}/{len(tr)} runs with a significant transition", fontsize=9)
    ax = flat[len(panels)]
    sig = transitions[transitions["significant"] & np.isfinite(transitions["transition_frac"])]
    for r in info.itertuples():
        s = sig[sig["run"] == r.run]
        jitter = np.exp(np.random.default_rng(0).uniform(-0.04, 0.04, len(s)))
        ax.scatter(np.full(len(s), r.n_nonembed) * jitter, s["transition_frac"], s=10, alpha=0.5,
                   color=colors[r.run], marker="o" if r.activation == "gelu" else "s", linewidths=0)
    wf = _warmup_fraction(sig)
    if sig.empty:                                   # log axes of an empty panel cannot be laid out
        ax.text(0.5, 0.5, "no significant transition", transform=ax.transAxes, ha="center", va="center",
                color="0.4")
    else:
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis, fmt in ((ax.xaxis, _count), (ax.yaxis, lambda v, _: f"{100 * v:g}%")):
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(fmt))
            axis.set_minor_formatter(NullFormatter())
        if wf is not None:                          # a transition below it happened while the rate rose
            ax.axhline(wf, color="0.45", ls=":", lw=1.0)
            ax.text(0.99, wf, "end of lr warmup", transform=ax.get_yaxis_transform(), ha="right", va="bottom",
                    fontsize=7, color="0.35")
    ax.set_xlabel("non-embedding parameters (log scale)")
    ax.set_ylabel("transition: % of training (log scale)")
    title = f"All series: {len(sig)}/{len(transitions)} with a significant transition"
    if {"q_value", "alpha", "p_min"} <= set(transitions.columns):
        fam = family_counts(transitions)
        title += (f" (BH q < {fam['alpha'].iloc[0]:g})\n{int(fam['n_raw'].sum())} with raw p < "
                  f"{fam['alpha'].iloc[0]:g}; {fam['expected_null'].sum():.3g} expected by chance")
    ax.set_title(title, fontsize=9)
    for extra in flat[len(panels) + 1:]:
        extra.set_visible(False)
    first = info.drop_duplicates("size_key")
    handles = [Line2D([], [], color=colors[s.run], lw=2.5, label=s.size_label) for s in first.itertuples()]
    handles += [Line2D([], [], color="0.3", ls=ls, label=a) for a, ls in dashes.items()]
    handles += [Line2D([], [], color="0.3", ls="", marker="o", mfc="0.3", label="transition"),
                Line2D([], [], color="0.3", ls="", marker="o", mfc="none", label="other change point"),
                Line2D([], [], color="0.3", ls="", marker="x", label="diminishing returns")]
    method = ("; ".join(dict.fromkeys(transitions["method"].dropna().astype(str)))
              if "method" in transitions.columns else "")       # the test that wrote the table names itself
    suptitle = ("Change points over log training step" + (f" ({method})" if method else "")
                + "\na series counts when it is pre-registered (primary) and Benjamini-Hochberg q < significance "
                "over the primary family")
    fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 0.98))
    fig.legend(handles=handles, loc="lower center", ncol=min(7, len(handles)), fontsize=8,
               bbox_to_anchor=(0.5, 0.0), frameon=False)
    style.save(fig, path, dpi)
    return {"panels": panels, "n_significant": int(transitions["significant"].sum()), "title": suptitle,
            "warmup_fraction": wf}


def _warmup_fraction(transitions):
    """The median over the table's trained runs of warmup steps / total steps (total = ``transition_step /
    transition_frac``), or None without a ``warmup_steps`` column or a transition to read the total from."""
    if "warmup_steps" not in transitions:
        return None
    t = transitions[["warmup_steps", "transition_step", "transition_frac"]].astype(float).dropna()
    t = t[t["transition_frac"] > 0]
    if t.empty:
        return None
    return float(np.median(t["warmup_steps"] * t["transition_frac"] / t["transition_step"]))


def _count(v, _pos=None) -> str:
    """Tick label of a parameter count: 25000 -> '25k'."""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:g}{unit}"
    return f"{v:g}"


def _mark(ax, curve, step, color, filled=True, marker="o"):
    hit = curve[np.isclose(curve["step"].to_numpy(float), float(step))]
    if hit.empty:
        return
    y = float(hit["value"].iloc[0])
    if marker == "x":
        ax.plot([step], [y], marker="x", color=color, ms=7, mew=1.6, ls="")
    else:
        ax.plot([step], [y], marker="o", ms=6.5, ls="", mec="k", mew=0.8,
                mfc=color if filled else "none")
