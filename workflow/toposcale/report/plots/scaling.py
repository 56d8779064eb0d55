"""Scaling figures, drawn from ``results/analysis/scaling.json`` (:func:`toposcale.analysis.scaling.analyse_grid`).

* :func:`plot_loss_vs_compute`: final validation loss against training compute ``C = 6 N D`` on
  log-log axes, per activation: the runs used in the fit (filled circles), the held-out runs
  (observed: open diamonds, drawn also when no law is fitted; predicted: crosses with their 95% prediction
  interval), the fitted law
  with its 95% bootstrap confidence band, the pure power law ``A C^-alpha`` (dotted) and, when logs
  are given, each run's validation-loss curve against the compute spent so far (thin lines). A fit or
  comparison that cannot decide (too few sizes, :mod:`toposcale.plan.decidability`; runs on different
  n-gram stages) is named in red text below the legend with what it needs (outside the axes, so it hides
  no data), and its comparison kind is left out of the title. The legend names only what is drawn.
* :func:`plot_topology_vs_size`: layer-mean topological metric at the final checkpoint against
  non-embedding parameters N, one panel per (source, metric), with per-activation power-law fits
  ``k N^gamma``, the covariance-matched Gaussian null's mean and band beside each raw series, and in
  each panel the pooled raw, null and null-adjusted exponents with 95% CIs, Spearman's rho and the
  size verdict.

Colour encodes the activation (:data:`toposcale.report.plots.style.ACTIVATION_COLORS`). Nothing is refitted
here except evaluating the stored power laws on a line.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch
from matplotlib.ticker import (FixedLocator, FuncFormatter, MaxNLocator, NullFormatter, NullLocator,
                               ScalarFormatter)

from toposcale.report.plots import style

#: Metrics drawn by :func:`plot_topology_vs_size` by default (raw and scale-normalised H0/H1
#: persistence, and the mean pairwise distance baseline).
DEFAULT_TOPO_METRICS = ("h0_total_persistence", "h0_total_persistence_norm",
                        "h1_total_persistence_norm", "mean_pairwise_distance")

_GREEK = {"alpha": "α", "beta": "β"}
#: Line styles of the two-variable law's curves, one per trained tokens-per-parameter ratio.
_TPP_STYLES = ("-", "--", "-.", (0, (5, 1, 1, 1, 1, 1)))
_LAW_TEXT = {"compute": "E + A·C^-α", "chinchilla": "E + A·N^-α + B·D^-β", "power": "A·C^-α"}


def _colors(acts) -> dict:
    extra = [c for c in style.PALETTE if c not in style.ACTIVATION_COLORS.values()]
    out, k = {}, 0
    for a in acts:
        if a in style.ACTIVATION_COLORS:
            out[a] = style.ACTIVATION_COLORS[a]
        else:
            out[a] = extra[k % len(extra)]
            k += 1
    return out


def _num(x) -> float:
    return float("nan") if x is None else float(x)


def _f(x: float, digits: int) -> str:
    """Fixed-point text without a negative zero ('-0.00' becomes '0.00')."""
    t = f"{x:.{digits}f}"
    return t[1:] if t.startswith("-") and float(t) == 0 else t


def _ci_text(ci, digits: int = 3) -> str:
    lo, hi = (_num(v) for v in (ci or [None, None]))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "[CI n/a]"
    return f"[{_f(lo, digits)}, {_f(hi, digits)}]"


def data_ylim(y, top_pad: float = 1.06, bottom_pad: float = 1.04) -> tuple[float, float]:
    """Log-axis y-limits that hold every value of ``y`` (positive, finite) with a small margin.

    >>> data_ylim([1.6, 3.4])
    (1.5384615384615385, 3.604)
    """
    y = np.asarray(y, float)
    return float(np.nanmin(y) / bottom_pad), float(np.nanmax(y) * top_pad)


def _holdout_values(acts: dict) -> np.ndarray:
    """Observed and predicted losses of the held-out runs (their intervals are not data)."""
    vals = [h.get(k) for a in acts.values() for h in a.get("holdout", []) for k in ("observed", "predicted")]
    return np.asarray([_num(v) for v in vals], float)


def draw_levels(ax, levels: list | None) -> list:
    """Dashed grey lines at the n-gram loss levels inside the current y-range, labelled at the right;
    returns the names drawn."""
    drawn = []
    if not levels:
        return drawn
    lo, hi = ax.get_ylim()
    for lev in levels:
        v = _num(lev.get("nats"))
        if not (np.isfinite(v) and lo < v < hi):
            continue
        ax.axhline(v, color="0.45", lw=0.8, ls=(0, (4, 3)), zorder=1.5)
        ax.text(1.0, v, f" {lev.get('name', 'order ' + str(lev.get('order')))} {v:.2f}", color="0.35",
                fontsize=7, va="center", ha="left", transform=ax.get_yaxis_transform(), clip_on=False)
        drawn.append(lev.get("name"))
    return drawn


def _training_curves(ax, logs: dict, points: list, color) -> None:
    N = {p["run"]: p["N"] for p in points}
    for run, log in logs.items():
        if run not in N or "tokens" not in log or "val_loss" not in log:
            continue
        t = np.asarray(log["tokens"], float)
        v = np.asarray(log["val_loss"], float)
        keep = (t > 0) & np.isfinite(v)
        ax.plot(6.0 * N[run] * t[keep], v[keep], color=color, lw=0.7, alpha=0.3, zorder=1)


def _draw_activation(ax, act: str, a: dict, color, logs: dict | None) -> None:
    pts = a.get("points", [])
    if logs:
        _training_curves(ax, logs, pts, color)
    fit_pts = [p for p in pts if not p["holdout"]]
    ax.scatter([p["C"] for p in fit_pts], [p["loss"] for p in fit_pts], color=color, s=34, zorder=4,
               edgecolor="white", lw=0.6)
    fit = a.get("fit")
    law = a.get("law", "compute")
    for k, curve in enumerate(a.get("curves") or []):
        C = np.asarray(curve["C"], float)
        ax.plot(C, np.asarray(curve["loss"], float), color=color, lw=1.6,
                ls=_TPP_STYLES[k % len(_TPP_STYLES)], zorder=3)
        lo = np.array([_num(v) for v in curve["lo"]])
        hi = np.array([_num(v) for v in curve["hi"]])
        ax.fill_between(C, lo, hi, color=color, alpha=0.18 / max(1, len(a["curves"])) ** 0.5, lw=0,
                        zorder=2)
    pl = a.get("power_law")
    if pl and a.get("curves"):
        C = np.asarray(a["curves"][0]["C"], float)
        ax.plot(C, pl["params"]["A"] * C ** (-pl["params"]["alpha"]), color=color, lw=1.0, ls=":",
                zorder=3)
    predicted = {h.get("run") for h in a.get("holdout", [])}
    for p in pts:                      # held-out runs without a prediction (no law fitted): observed only
        if p["holdout"] and p.get("run") not in predicted:
            ax.scatter([p["C"]], [p["loss"]], marker="D", facecolor="none", edgecolor=color, s=52, lw=1.6,
                       zorder=5)
    for h in a.get("holdout", []):
        ax.scatter([h["C"]], [h["observed"]], marker="D", facecolor="none", edgecolor=color, s=52,
                   lw=1.6, zorder=5)
        if h.get("predicted") is not None:
            lo, hi = _num(h.get("pi_lo")), _num(h.get("pi_hi"))
            yerr = [[h["predicted"] - lo], [hi - h["predicted"]]] if np.isfinite(lo + hi) else None
            ax.errorbar([h["C"]], [h["predicted"]], yerr=yerr, color="black", mec=color, marker="x",
                        ms=7, mew=1.8, capsize=4, lw=1.0, zorder=6, ls="")
    if fit:
        exps = ", ".join(f"{_GREEK[k]} = {fit['params'][k]:.3f} {_ci_text(fit['ci'].get(k))}"
                         for k in ("alpha", "beta") if k in fit["params"])
        label = f"{act}: {_LAW_TEXT.get(law, law)}, {exps}, n = {a.get('n_fit')}"
    else:
        label = f"{act}: no law fitted ({a.get('n_fit')} runs)"
    ax.plot([], [], color=color, lw=1.6, marker="o", ms=5, label=label)


def _plain_log_ticks(ax) -> None:
    """Readable ticks on a log y axis spanning less than a decade (e.g. 1.6 to 3 nats)."""
    lo, hi = ax.get_ylim()
    ticks = [t for t in MaxNLocator(nbins=7, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi) if lo <= t <= hi]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    fmt = ScalarFormatter()
    fmt.set_scientific(False)
    ax.yaxis.set_major_formatter(fmt)
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_formatter(NullFormatter())


def _legend_keys(ax, has_holdout: bool, has_logs: bool, has_power: bool, tpps=(), has_fit: bool = True,
                 has_prediction: bool | None = None) -> None:
    """Legend entries of what is drawn only: the band and power law need a fitted curve, the predicted
    holdout a prediction (``has_prediction``, default ``has_holdout``)."""
    grey = "0.35"
    for k, t in enumerate(tpps):
        ax.plot([], [], color=grey, lw=1.4, ls=_TPP_STYLES[k % len(_TPP_STYLES)],
                label=f"fit at D/N = {t:g} tokens per parameter")
    if has_fit:
        ax.fill_between([], [], [], color=grey, alpha=0.18, lw=0, label="95% bootstrap band of the fit")
    if has_power and has_fit:
        ax.plot([], [], color=grey, ls=":", lw=1.0, label="pure power law A·C^-α (fitted runs)")
    if has_holdout:
        ax.scatter([], [], marker="D", facecolor="none", edgecolor=grey, s=40, lw=1.4,
                   label="holdout run, observed")
    if has_holdout if has_prediction is None else has_prediction:
        ax.errorbar([], [], yerr=[[0], [0]], color="black", mec=grey, marker="x", mew=1.8, ls="",
                    capsize=4, label="holdout, predicted (95% prediction interval in black)")
    if has_logs:
        ax.plot([], [], color=grey, lw=0.7, alpha=0.5, label="val. loss during training")


def _loss_title(res: dict) -> str:
    parts = []
    for c in res.get("comparisons", []):
        if c.get("kind") == "cannot decide":
            continue                        # said on the panel (_decidability_note), not as a verdict
        mult = f"{_num(c['compute_multiplier']):.2f}× {_ci_text(c['compute_multiplier_ci'], 2)}"
        parts.append(f"{c['other']} vs {c['baseline']}: {c['kind']} ({c['other']} {mult} as "
                     f"compute-efficient)")
    errs = [(act, h["rel_error_pct"]) for act, a in res.get("activations", {}).items()
            for h in a.get("holdout", []) if h.get("rel_error_pct") is not None]
    refused = any(not (a.get("gate") or {}).get("decidable", True) for a in res.get("activations", {}).values())
    # a refused law's holdout error is description, not a result: the title says so before quoting it
    lead = "law refused (see below); descriptive " if refused else ""
    if 0 < len(errs) <= 3:
        parts.append(lead + "holdout error " + ", ".join(f"{a} {e:+.1f}%" for a, e in errs))
    elif errs:
        e = np.abs([e for _, e in errs])
        parts.append(f"{lead}holdout |error| mean {e.mean():.1f}%, max {e.max():.1f}% over {e.size} runs")
    return "Final validation loss vs training compute" + ("\n" + "; ".join(parts) if parts else "")


def _decidability_note(res: dict) -> str:
    """Panel text of the fits and comparisons that cannot decide ('' when every one can)."""
    lines = [f"{act}: {a['gate']['message']}" for act, a in res.get("activations", {}).items()
             if a.get("gate") and not a["gate"]["decidable"]]
    lines += [c["verdict"] for c in res.get("comparisons", []) if c.get("kind") == "cannot decide"]
    if not res.get("comparisons") and lines:
        lines.append("no activation comparison")
    return "\n".join(lines)


def plot_loss_vs_compute(res: dict, path, logs: dict | None = None, dpi: int = 150,
                         training_curves: bool = True, levels: list | None = None) -> dict:
    """Log-log final loss vs compute with fitted laws, bands and holdout predictions (module doc).

    Parameters
    ----------
    res : dict
        Parsed scaling.json.
    path : str or Path
        Output PNG.
    logs : dict, optional
        Run name -> log.csv DataFrame; draws each run's val_loss against ``6 N tokens``.
    dpi : int
        Resolution of the saved PNG.
    training_curves : bool
        Draw the per-run training curves when ``logs`` is given.
    levels : list of dict, optional
        The corpus's n-gram loss levels (``levels`` of ``data/{corpus}/ngram_levels.json``: ``order``,
        ``name``, ``nats``), drawn as labelled horizontal lines where they fall inside the y-range, so
        a reader sees which stage each run ended on.

    Returns
    -------
    dict
        ``ylim`` (the y-range drawn), ``levels`` (names of the levels drawn), ``legend`` (its labels)
        and ``note_inside_axes`` (whether the cannot-decide text overlaps the axes; False by design).
    """
    style.setup()
    acts = res.get("activations", {})
    if not acts:
        raise ValueError("scaling.json has no activations; run the scaling analysis on trained runs first")
    col = _colors(acts)
    fig, ax = plt.subplots(figsize=(8.5, 5.6))
    use_logs = logs if (logs and training_curves) else None
    ys = []
    for act, a in acts.items():
        _draw_activation(ax, act, a, col[act], use_logs)
        ys += [p["loss"] for p in a.get("points", [])]
    ax.set_xscale("log")
    ax.set_yscale("log")
    # y range from the data (final losses, held-out observations and predictions), never from the bands:
    # a bootstrap band of a law extrapolated past its points can reach tens of nats and would flatten
    # the data into one line. Bands and prediction intervals are clipped by the axes instead.
    y = np.concatenate([np.asarray(ys, float), _holdout_values(acts)])
    y = y[np.isfinite(y) & (y > 0)]
    if y.size:
        ax.set_ylim(*data_ylim(y, top_pad=1.25 if use_logs else 1.06))
        xs = np.concatenate([np.asarray(c["C"], float) for a in acts.values() for c in a.get("curves") or []]
                            or [np.asarray([p["C"] for a in acts.values() for p in a["points"]], float)])
        ax.set_xlim(xs.min() / 1.2, xs.max() * 1.2)
    drawn = draw_levels(ax, levels)
    if y.size:
        _plain_log_ticks(ax)
    ax.set_xlabel("training compute C = 6 N D (FLOPs)")
    ax.set_ylabel("validation loss (nats / token)")
    tpps = next(([c["tokens_per_param"] for c in a["curves"]] for a in acts.values()
                 if a.get("curves") and a["curves"][0].get("tokens_per_param") is not None), [])
    has_fit = any(a.get("curves") for a in acts.values())
    _legend_keys(ax, any(p["holdout"] for a in acts.values() for p in a.get("points", [])), bool(use_logs),
                 any(a.get("power_law") for a in acts.values()), tpps, has_fit=has_fit,
                 has_prediction=any(h.get("predicted") is not None for a in acts.values() for h in a.get("holdout", [])))
    leg = ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8, frameon=False)
    ax.set_title(_loss_title(res), fontsize=10.5)
    note = _decidability_note(res)
    note_box = None
    if note:
        # below the legend, outside the axes: inside them the box hid the largest runs and the holdout
        fig.canvas.draw()
        below = leg.get_window_extent().transformed(fig.transFigure.inverted()).y0
        left = ax.get_position().x0
        note_box = fig.text(left, below - 0.01, "\n".join(textwrap.fill(t, 120) for t in note.split("\n")),
                            ha="left", va="top", fontsize=7.5, color="firebrick")
    ylim = ax.get_ylim()
    fig.canvas.draw()
    inside = bool(note_box is not None and note_box.get_window_extent().overlaps(ax.get_window_extent()))
    style.save(fig, path, dpi=dpi)
    return {"ylim": ylim, "levels": drawn, "legend": [t.get_text() for t in leg.get_texts()],
            "note_inside_axes": inside}


def _gamma_text(r: dict, key: str = "gamma", name: str = "γ") -> str:
    if r.get(key) is None:
        return f"{name} n/a"
    return f"{name} = {_f(r[key], 2)} {_ci_text(r.get(f'{key}_ci'), 2)}"


def _size_ticks(ax, N: np.ndarray) -> None:
    """Label the x axis at the model sizes themselves (25k, 99k, 1.2M), no minor labels. Sizes within 5%
    of each other (the GELU and SwiGLU runs of one target size) share one tick, so labels never overlap."""
    sizes = []
    for n in np.unique(N):
        if not sizes or n > sizes[-1] * 1.05:
            sizes.append(float(n))
    ax.xaxis.set_major_locator(FixedLocator(sizes))
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda x, _: f"{x / 1e6:.3g}M" if x >= 1e6 else f"{x / 1e3:.3g}k" if x >= 1e3 else f"{x:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)


def _null_band(ax, r: dict, c) -> list:
    """Null mean (dashed) and its band mean +- 2 sd of the layer mean, over each size's runs; return
    the band's values (for the y range)."""
    p = r["points"]
    if "null_mean" not in p:
        return []
    N = np.asarray(p["N"], float)
    mu = np.array([_num(x) for x in p["null_mean"]])
    sd = np.array([_num(x) for x in p.get("null_sd", [None] * len(mu))])
    sd = np.where(np.isfinite(sd), sd, 0.0)
    sizes = np.unique(N[np.isfinite(mu)])
    if not sizes.size:
        return []
    m = np.array([np.nanmean(mu[N == x]) for x in sizes])
    lo = np.array([np.nanmin((mu - 2 * sd)[N == x]) for x in sizes])
    hi = np.array([np.nanmax((mu + 2 * sd)[N == x]) for x in sizes])
    ax.fill_between(sizes, lo, hi, color=c, alpha=0.15, lw=0, zorder=1)
    ax.plot(sizes, m, color=c, lw=1.1, ls="--", marker="o", ms=3.5, mfc="white", zorder=2)
    return list(lo) + list(hi)


def _topo_panel(ax, rows: list, col: dict) -> tuple[str, list]:
    """Draw one (source, metric) panel; return the pooled fit summary (for the title) and the
    per-activation legend labels."""
    pooled = next((r for r in rows if r["group"] == "all"), None)
    vals, Ns, labels = [], [], []
    for r in rows:
        if r["group"] == "all":
            continue
        c = col.get(r["group"], "0.3")
        N = np.asarray(r["points"]["N"], float)
        v = np.array([_num(x) for x in r["points"]["value"]])
        vals += [v, np.asarray(_null_band(ax, r, c), float)]
        Ns.append(N)
        ax.scatter(N, v, color=c, s=28, zorder=3, edgecolor="white", lw=0.5)
        if r.get("gamma") is not None and r.get("k") is not None:
            xx = np.geomspace(N.min(), N.max(), 30)
            ax.plot(xx, r["k"] * xx ** r["gamma"], color=c, lw=1.2, zorder=2)
        adj = f", {_gamma_text(r, 'gamma_adj', 'γ_adj')}" if "null_mean" in r["points"] else ""
        labels.append((c, f"{r['group']}: {_gamma_text(r)}{adj}"))
    ax.set_xscale("log")
    v = np.concatenate(vals) if vals else np.array([])
    v = v[np.isfinite(v)]
    if v.size and v.min() > 0:
        ax.set_yscale("log")
        pad = (v.max() / v.min()) ** 0.08
        ax.set_ylim(v.min() / pad, v.max() * pad)
        if v.max() / v.min() < 10:
            _plain_log_ticks(ax)
    if Ns:
        _size_ticks(ax, np.concatenate(Ns))
    if pooled is None:
        return "", labels
    rho, p = _num(pooled.get("spearman_rho")), _num(pooled.get("spearman_p"))
    sp = f"ρ = {rho:+.2f} (p = {p:.2g})" if np.isfinite(rho) else "ρ n/a"
    lines = [f"pooled raw {_gamma_text(pooled)}, {sp}, n = {pooled['n']}"]
    if pooled.get("gamma_null") is not None or pooled.get("gamma_adj") is not None:
        lines.append(f"null {_gamma_text(pooled, 'gamma_null')}; adjusted {_gamma_text(pooled, 'gamma_adj', 'γ_adj')}")
    verdict = pooled.get("verdict") or pooled.get("note") or "no size verdict (scaling.json predates it)"
    if pooled.get("n_degenerate"):
        verdict += f" ({pooled['n_degenerate']} degenerate clouds excluded)"
    lines.append(f"→ {verdict}")
    return "\n".join(lines), labels


def plot_topology_vs_size(res: dict, path, metrics=DEFAULT_TOPO_METRICS, dpi: int = 150) -> None:
    """Grid of layer-mean metric (final checkpoint) vs N, raw and against its null: rows = sources,
    columns = ``metrics``.

    Each panel: per activation the runs' raw values (filled dots) with the raw fit ``k N^γ`` (solid),
    and the covariance-matched Gaussian null's layer mean (dashed, open dots) with its band mean ± 2 sd
    (sd of a null draw's layer mean, see :func:`toposcale.analysis.scaling.topology_vs_size`). The
    title gives the pooled raw exponent, the null's exponent, the null-adjusted exponent ``γ_adj``
    (of metric / null mean) with 95% CIs, and the size verdict; the panel legend gives each
    activation's raw and null-adjusted exponents. Metrics absent from scaling.json's ``topology``
    entries are skipped; the figure says so when none is present (e.g. the grid was analysed without
    metrics).
    """
    style.setup()
    topo = res.get("topology") or []
    sources = sorted({t["source"] for t in topo})
    metrics = [m for m in metrics if any(t["metric"] == m for t in topo)]
    acts = sorted({t["group"] for t in topo if t["group"] != "all"})
    col = _colors(acts)
    if not sources or not metrics:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.text(0.5, 0.5, "no topological metrics in scaling.json\n(run the topology stage first)",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        style.save(fig, path, dpi=dpi)
        return
    fig, axes = plt.subplots(len(sources), len(metrics), figsize=(4.9 * len(metrics), 4.3 * len(sources)),
                             squeeze=False)
    for i, src in enumerate(sources):
        for j, m in enumerate(metrics):
            ax = axes[i, j]
            rows = [t for t in topo if t["source"] == src and t["metric"] == m]
            fits, labels = _topo_panel(ax, rows, col) if rows else ("", [])
            if not rows:
                ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
            if labels:
                ax.legend(handles=[plt.Line2D([], [], color=c, marker="o", ms=4, lw=1.2, label=t)
                                   for c, t in labels], fontsize=6.5, loc="best", frameon=True,
                          framealpha=0.8, handlelength=1.2)
            ax.set_title(f"{src}: {m}\n{fits}", fontsize=8)
            ax.set_xlabel("non-embedding parameters N" if i == len(sources) - 1 else "")
            ax.set_ylabel(m, fontsize=9)
    grey = "0.35"
    handles = [plt.Line2D([], [], color=col[a], marker="o", lw=1.2, label=a) for a in acts]
    handles += [plt.Line2D([], [], color=grey, marker="o", lw=1.2, label="raw value, fit k·N^γ"),
                plt.Line2D([], [], color=grey, marker="o", mfc="white", ls="--", lw=1.1,
                           label="null mean (covariance-matched Gaussian)"),
                Patch(color=grey, alpha=0.25, label="null mean ± 2 sd")]
    fig.suptitle("Topology vs model size (final checkpoint, mean over layers): raw and against its null\n"
                 "γ: metric = k·N^γ; γ_adj: metric / null mean = k'·N^γ_adj (95% jackknife-t CIs over sizes); "
                 "'topology beyond geometry' only where γ_adj's CI excludes 0", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8.5, frameon=False,
               bbox_to_anchor=(0.5, -0.01))
    style.save(fig, path, dpi=dpi)
