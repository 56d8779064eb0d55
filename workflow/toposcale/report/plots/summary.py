"""The one-page summary figure of a study (``results/figures/summary.png``).

Six panels, each drawn from tables only:

(a) validation loss against training tokens, every run (log.csv, run.json);
(b) final validation loss against training compute ``C = 6 N D`` per run, with the fitted law, its
    95% band and the holdout predictions with their prediction intervals when ``analysis/scaling.json``
    is given, and the corpus's n-gram loss levels inside its y-range (dashed, labelled), so the reader
    sees which stage each run ended on;
(c) topology against model size: the final checkpoint's scale-normalised H0 total persistence,
    averaged over layers (each layer weighted equally), against non-embedding parameters, per source
    and activation; the pooled exponent ``gamma`` (metric ~ N^gamma) and its CI from scaling.json
    when given;
(d), (e) topology against loss during training, weights and activations: the layer-mean
    scale-normalised H0 total persistence against validation loss at every checkpoint after
    initialisation, one trajectory per run; the median Spearman correlation with loss over the
    (run, layer) series, from ``analysis/dynamics.csv`` when given (raw, description; and the tested
    variant, detrended in log(step), with the number significant);
(f) key numbers of the analyses (:func:`toposcale.report.keys.key_numbers`), or a note of which analysis
    tables were absent.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from toposcale.report.plots import style
from toposcale.report.plots.scaling import draw_levels, data_ylim
from toposcale.report.plots.style import fmt_count
from toposcale.report.plots.training import activation_styles, draw_training_curves, run_size_colors, runs_table
from toposcale.report.variants import dynamics_variants, raw_rows

#: The topological metric of panels (c)-(e).
SUMMARY_METRIC = "h0_total_persistence_norm"
METRIC_LABEL = "H0 total persistence / scale\n(mean over layers)"
SOURCE_MARKERS = {"weights": "o", "activations": "s"}
FIGSIZE = (17.0, 10.0)
#: Characters per line of a panel title at FIGSIZE (a third of the width at 10.5 pt).
TITLE_WIDTH = 62


def layer_mean(metrics, column: str = SUMMARY_METRIC):
    """Mean over layers of ``column`` per (run, step, source), with the step's val_loss and tokens.

    Each layer counts once, whatever its number of points. Returns a DataFrame with columns run,
    activation, size, seed, n_nonembed, step, source, val_loss, ``column`` and n_layers.
    """
    need = ["run", "activation", "n_nonembed", "step", "source", "layer", "val_loss", column]
    missing = [c for c in need if c not in metrics]
    if missing:
        raise ValueError(f"metrics table lacks columns {missing} (has {list(metrics.columns)})")
    keys = ["run", "activation", "n_nonembed", "step", "source"]
    g = metrics.groupby(keys, as_index=False)
    out = g.agg(val_loss=("val_loss", "first"), value=(column, "mean"), n_layers=("layer", "nunique"))
    return out.rename(columns={"value": column})


def _panel_scaling(ax, info, scaling, levels=None) -> str:
    """(b): final loss vs compute, with the n-gram ``levels`` inside the y-range; returns the panel title."""
    colors = style.ACTIVATION_COLORS
    acts = sorted(info["activation"].unique())
    col = {a: colors.get(a, style.PALETTE[(i + 4) % len(style.PALETTE)]) for i, a in enumerate(acts)}
    for a in acts:
        g = info[info["activation"] == a]
        fit_pts, hold = g[~g["holdout"]], g[g["holdout"]]
        ax.scatter(fit_pts["C"], fit_pts["final_loss"], color=col[a], s=36, zorder=3, label=f"{a} runs (fitted)")
        if len(hold):
            ax.scatter(hold["C"], hold["final_loss"], facecolor="white", edgecolor=col[a], s=44, lw=1.6,
                       zorder=4, label=f"{a} holdout (observed)")
    parts = []
    acts_res = (scaling or {}).get("activations", {})
    for a, res in acts_res.items():
        c = col.get(a, "0.3")
        for curve in res.get("curves", []) or []:
            C = np.asarray(curve["C"], float)
            ax.plot(C, np.asarray(curve["loss"], float), color=c, lw=1.4)
            lo, hi = np.asarray(curve["lo"], float), np.asarray(curve["hi"], float)
            ax.fill_between(C, lo, hi, color=c, alpha=0.15, lw=0)
        for h in res.get("holdout", []) or []:
            if h.get("predicted") is not None:
                lo, hi = h.get("pi_lo"), h.get("pi_hi")
                yerr = None if lo is None or hi is None else [[h["predicted"] - lo], [hi - h["predicted"]]]
                ax.errorbar([h["C"]], [h["predicted"]], yerr=yerr, color=c, marker="x", ms=7, capsize=3,
                            lw=1.2, zorder=5)
                if h.get("rel_error_pct") is not None:
                    parts.append(f"{a} {h['rel_error_pct']:+.1f}%")
        fit = res.get("fit") or {}
        if "alpha" in fit.get("params", {}):
            lo, hi = (fit.get("ci", {}).get("alpha") or [None, None])
            ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
            ax.plot([], [], color=c, lw=1.4, label=f"{a} {res.get('law')} fit, alpha {fit['params']['alpha']:.3f}{ci}")
    if any(res.get("holdout") for res in acts_res.values()):
        ax.errorbar([], [], yerr=[[0], [0]], color="0.3", marker="x", ls="", capsize=3, label="predicted, 95% PI")
    ax.set_xscale("log")
    style.log_y_if_wide(ax, info["final_loss"])
    # y range from the data (final losses and holdout predictions), not from the fits' bands
    ys = np.concatenate([info["final_loss"].to_numpy(float),
                         [h["predicted"] for r in acts_res.values() for h in r.get("holdout", []) or []
                          if h.get("predicted") is not None]])
    ys = ys[np.isfinite(ys) & (ys > 0)]
    if ys.size:
        ax.set_ylim(*data_ylim(ys, top_pad=1.08, bottom_pad=1.06))
    draw_levels(ax, levels)
    tidy_log_axis(ax.xaxis)
    tidy_log_axis(ax.yaxis)
    ax.set_xlabel("training compute C = 6 N D (FLOPs, log)")
    ax.set_ylabel("final validation loss (nats / token)")
    ax.legend(fontsize=7.5, loc="best")
    if scaling is None:
        return "(b) final loss vs compute (no scaling.json: no fit)"
    refused = any(not (r.get("gate") or {}).get("decidable", True) for r in acts_res.values())
    if parts and refused:
        return "(b) final loss vs compute; law refused (see summary.md); descriptive holdout error " + ", ".join(parts)
    if parts:
        return "(b) final loss vs compute; holdout error " + ", ".join(parts)
    return "(b) final loss vs compute (no law fitted: see summary.md)"


def tidy_log_axis(axis) -> None:
    """Label a log axis at 1, 2 and 5 x powers of ten when it spans less than two decades (else at
    powers of ten only), never label minor ticks (so labels cannot overlap), and write labels as
    plain numbers (``20``, ``0.5``) when the axis lies within [1e-2, 1e4]."""
    if axis.get_scale() != "log":
        return
    axis.axes.autoscale_view()
    lo, hi = sorted(axis.get_view_interval())
    if lo <= 0:
        return
    subs = (1.0, 2.0, 5.0) if hi / lo < 100 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    plain = lo >= 1e-2 and hi <= 1e4
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}" if plain else _sci_label(v)))
    axis.set_minor_formatter(NullFormatter())


def _sci_label(v: float) -> str:
    """``2e9`` -> '$2\\times10^{9}$', ``1e10`` -> '$10^{10}$'."""
    if v <= 0:
        return ""
    e = int(np.floor(np.log10(v) + 1e-9))
    m = round(v / 10 ** e, 3)
    return f"$10^{{{e}}}$" if m == 1 else f"${m:g}\\times10^{{{e}}}$"


def _panel_topology_size(ax, lm, scaling) -> str:
    """(c): final-checkpoint layer-mean metric vs N."""
    last = lm[lm["step"] == lm.groupby("run")["step"].transform("max")]
    acts = sorted(last["activation"].unique())
    col = {a: style.ACTIVATION_COLORS.get(a, style.PALETTE[(i + 4) % len(style.PALETTE)]) for i, a in enumerate(acts)}
    for (src, a), g in last.groupby(["source", "activation"], sort=True):
        g = g.sort_values("n_nonembed")
        ax.plot(g["n_nonembed"], g[SUMMARY_METRIC], color=col[a], marker=SOURCE_MARKERS.get(src, "^"),
                ls="-" if src == "weights" else "--", lw=1.2, ms=6, label=f"{src}, {a}")
    ax.set_xscale("log")
    style.log_y_if_wide(ax, last[SUMMARY_METRIC], ratio=10.0)
    tidy_log_axis(ax.xaxis)
    tidy_log_axis(ax.yaxis)
    ax.set_xlabel("non-embedding parameters N (log)")
    ax.set_ylabel(METRIC_LABEL)
    lines = []
    for t in (scaling or {}).get("topology", []) or []:
        if t.get("metric") == SUMMARY_METRIC and t.get("group") == "all" and t.get("gamma") is not None:
            lo, hi = t.get("gamma_ci") or [None, None]
            ci = f" [{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else ""
            lines.append(f"{t['source']} pooled: ~N^gamma, gamma = {t['gamma']:.2f}{ci}")
    # the pooled exponents go in the title: as legend rows they made a box that covered the data
    ax.legend(fontsize=7.5, loc="best")
    return "\n".join(["(c) topology vs model size (final checkpoint)"] + lines)


def _panel_topology_loss(ax, lm, info, source, dynamics) -> str:
    """(d)/(e): layer-mean metric vs val loss over checkpoints for one source."""
    sub = lm[(lm["source"] == source) & (lm["step"] > 0)]
    if sub.empty:
        ax.text(0.5, 0.5, f"no {source} metrics", ha="center", va="center", transform=ax.transAxes, color="0.4")
        ax.set_xticks([])
        ax.set_yticks([])
        return f"({'d' if source == 'weights' else 'e'}) {source}: topology vs loss"
    colors = run_size_colors(info)
    dashes = activation_styles(info["activation"])
    for r in info.itertuples():
        g = sub[sub["run"] == r.run].sort_values("step")
        if g.empty:
            continue
        ax.plot(g["val_loss"], g[SUMMARY_METRIC], color=colors[r.run], ls=dashes[r.activation], lw=1.2,
                marker="o", ms=3)
        ax.plot(g["val_loss"].iloc[-1:], g[SUMMARY_METRIC].iloc[-1:], color=colors[r.run], marker="*", ms=10,
                ls="")
    ax.invert_xaxis()
    style.log_y_if_wide(ax, sub[SUMMARY_METRIC])
    tidy_log_axis(ax.yaxis)
    ax.set_xlabel("validation loss (nats / token; training runs right to left)")
    ax.set_ylabel(METRIC_LABEL)
    letter = "d" if source == "weights" else "e"
    title = f"({letter}) {source}: topology vs loss (checkpoints; star = final)"
    if dynamics is not None and {"source", "metric", "rho"} <= set(dynamics.columns):
        d = raw_rows(dynamics)
        d = d[(d["source"] == source) & (d["metric"] == SUMMARY_METRIC)]
        rho = d["rho"].dropna()
        if len(rho):
            lines = [_rho_text(d, "", "Spearman rho with loss (description)", len(rho))]
            variants = dynamics_variants(d)      # the tested variant (detrended); raw rho is description
            if variants and variants[-1][0]:
                suf, desc = variants[-1]
                lines.append(_rho_text(d, suf, desc.split(" ")[0], int(d[f"rho{suf}"].notna().sum())))
            title += "\n" + "\n".join(lines)
    return title


def _rho_text(d, suffix: str, what: str, n: int) -> str:
    """'<what>: median +0.82 (14 series, 10 significant)', series = (run, layer) pairs."""
    txt = f"{what}: median {d[f'rho{suffix}'].median():+.2f} ({n} series"
    if f"significant{suffix}" in d:
        txt += f", {int(d[f'significant{suffix}'].fillna(False).astype(bool).sum())} significant"
    return txt + ")"


def _panel_text(ax, lines, missing) -> None:
    ax.axis("off")
    body = []
    for line in lines:
        body += textwrap.wrap(line, 72, subsequent_indent="    ") or [""]
    if missing:
        body += [""] + textwrap.wrap("not available: " + ", ".join(missing), 72)
    if not body:
        body = ["no analysis tables given"]
    max_lines = 24
    if len(body) > max_lines:
        body = body[:max_lines - 1] + [f"... ({len(body) - max_lines + 1} more lines in summary.md)"]
    ax.text(0.0, 1.0, "\n".join(body), va="top", ha="left", fontsize=8.5, family="monospace",
            transform=ax.transAxes)
    ax.set_title("(f) key numbers (from results/analysis)", loc="left")


def final_losses(info, logs):
    """Final validation loss per run (last finite val_loss of its log) and compute C (run.json
    ``flops``, else ``6 * n_nonembed * tokens_seen``, else 6 N x the log's last tokens)."""
    rows = []
    for r in info.itertuples():
        log = logs[r.run]
        ok = log[np.isfinite(log["val_loss"])]
        if ok.empty:
            raise ValueError(f"log.csv of {r.run!r} has no finite val_loss")
        last = ok.sort_values("step").iloc[-1]
        C = getattr(r, "flops", None)
        if C is None or not np.isfinite(C):
            D = getattr(r, "tokens_seen", None)
            D = float(last["tokens"]) if D is None or not np.isfinite(D) else float(D)
            C = 6.0 * float(r.n_nonembed) * D
        rows.append((float(last["val_loss"]), float(C)))
    out = info.copy()
    out["final_loss"], out["C"] = zip(*rows) if rows else ([], [])
    return out


def plot_summary(logs: dict, runs, metrics, path, scaling: dict | None = None, dynamics=None,
                 key_lines=(), missing=(), dpi: int = 150, levels: list | None = None) -> dict:
    """The one-page summary figure (see the module docstring for the panels).

    Parameters
    ----------
    logs : dict of str to pandas.DataFrame
        Run name -> log.csv.
    runs : list of dict
        run.json contents.
    metrics : pandas.DataFrame
        Concatenated ``results/metrics/{run}.parquet`` tables.
    scaling : dict, optional
        Parsed ``analysis/scaling.json``.
    dynamics : pandas.DataFrame, optional
        ``analysis/dynamics.csv``.
    key_lines : sequence of str
        Lines for panel (f) (:func:`toposcale.report.keys.key_numbers`).
    missing : sequence of str
        Names of analysis tables that were not available (listed in panel (f)).
    levels : list of dict, optional
        ``levels`` of ``data/{corpus}/ngram_levels.json``, drawn in panel (b) where inside its y-range.

    Returns
    -------
    dict
        ``title`` and ``panels`` (panel titles).
    """
    info = final_losses(runs_table(runs), logs)
    lm = layer_mean(metrics)
    style.setup()
    fig, axes = plt.subplots(2, 3, figsize=FIGSIZE)
    titles = []
    draw_training_curves(axes[0, 0], logs, runs, legend_fontsize=7.5)
    titles.append("(a) validation loss during training")
    titles.append(_panel_scaling(axes[0, 1], info, scaling, levels))
    titles.append(_panel_topology_size(axes[0, 2], lm, scaling))
    titles.append(_panel_topology_loss(axes[1, 0], lm, info, "weights", dynamics))
    titles.append(_panel_topology_loss(axes[1, 1], lm, info, "activations", dynamics))
    for ax, t in zip(axes.flat, titles):
        # wrapped to the panel's width: a long title (e.g. four holdout errors) overprinted its neighbour
        t = "\n".join(textwrap.fill(line, TITLE_WIDTH) for line in t.split("\n"))
        ax.set_title(t, fontsize=10.5 if "\n" not in t else 9.5, loc="left")
    _panel_text(axes[1, 2], list(key_lines), list(missing))
    n_act = info["activation"].nunique()
    title = (f"toposcale study summary: {len(info)} runs, {fmt_count(info['n_nonembed'].min())}-"
             f"{fmt_count(info['n_nonembed'].max())} non-embedding params, {n_act} activation"
             f"{'s' if n_act > 1 else ''}, {fmt_count(info['C'].min())}-{fmt_count(info['C'].max())} FLOPs; "
             f"final val loss {info['final_loss'].min():.2f}-{info['final_loss'].max():.2f} nats")
    fig.suptitle(title, fontsize=13)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    style.save(fig, path, dpi)
    return {"title": title, "panels": titles + ["(f) key numbers"]}
