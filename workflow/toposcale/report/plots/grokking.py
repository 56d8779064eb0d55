"""Figure of the grokking positive control: accuracy and progress measures over training, persistence
diagrams of the embedding before, during and after grokking, and the Fourier-plane circles."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from toposcale.experiments.grokking import POSITIVE_CONTROL, accuracy_thresholds, phase_steps, settle_step
from toposcale.experiments.grokking import positive_control as control_table  # the name is also a parameter
from toposcale.report.plots import style

#: Curves panels: (column of the checkpoint table, y label, log y).
CURVE_PANELS = (
    ("fourier_share", "Fourier share (top 5 freq.)", False),
    ("weight_norm", "weight norm (L2)", False),
    ("plane_loop_size", "Fourier-plane loop / RMS radius", False),
    ("embed_h1_max_lifetime_norm", "embed: max H1 life / scale", False),
    ("embed_h1_n_long", "embed: # long H1 bars", False),
    ("resid_h1_max_lifetime_norm", "resid: max H1 life / scale", False),
    ("resid_h1_n_long", "resid: # long H1 bars", False),
)
ARM_COLORS = {"grok": style.PALETTE[0], "control": style.PALETTE[1]}
ARM_LABELS = {"grok": "weight decay (groks)", "control": "no weight decay (control)"}


def _steps_axis(ax):
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=0)
    ax.set_xlabel("training step")


def _accuracy_panel(ax, df):
    for (arm, seed), run in df.groupby(["arm", "seed"]):
        run = run.sort_values("step")
        c = ARM_COLORS[arm]
        ax.plot(run["step"], run["train_acc"], color=c, lw=1, ls=":", alpha=0.8)
        ax.plot(run["step"], run["test_acc"], color=c, lw=1.4, alpha=0.8)
    ax.plot([], [], color="0.3", ls=":", label="train")
    ax.plot([], [], color="0.3", label="test")
    for arm, c in ARM_COLORS.items():
        ax.plot([], [], color=c, lw=3, label=ARM_LABELS[arm])
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="upper left", fontsize=7, frameon=True)
    ax.set_title(f"modular addition, {df['seed'].nunique()} seeds")
    _steps_axis(ax)


def _metric_title(summary, metric: str) -> str:
    if summary is None or metric not in set(summary["metric"]):
        return ""
    r = summary.set_index("metric").loc[metric]
    if not np.isfinite(r["auc"]):
        return "AUC n/a"
    timing = {"before": "moves before test acc", "with": "moves with test acc", "after": "moves after test acc",
              "never": "never settles", "mixed": "timing mixed"}.get(r["verdict"], r["verdict"])
    if "auc_matched" in r and np.isfinite(r["auc_matched"]):   # the tested, time-matched AUC
        title = f"matched AUC {r['auc_matched']:.2f} (q {r['q_matched']:.2g}); {timing}"
    else:
        title = f"pooled AUC {r['auc']:.2f} [{r['auc_lo']:.2f}, {r['auc_hi']:.2f}]; {timing}"
    if "null_auc_matched" in r and np.isfinite(r["null_auc_matched"]):
        short = {"topology beyond geometry": "beyond geometry", "beyond the gaussian null only": "beyond Gaussian only",
                 "cannot decide: need >= 2 seeds": "1 seed",
                 "explained by its null (covariance-matched Gaussian)": "explained by null"}.get(r["finding"], "")
        title += f"\nvs null (z): matched AUC {r['null_auc_matched']:.2f} (q {r['null_q_matched']:.2g})"
        title += f"; {short}" if short else ""
    elif "null_auc" in r and np.isfinite(r["null_auc"]):
        title += f"\nvs null (z): pooled AUC {r['null_auc']:.2f} [{r['null_auc_lo']:.2f}, {r['null_auc_hi']:.2f}]"
    return title


def _metric_panel(ax, df, metric, label, logy, summary, grok_steps):
    for (arm, seed), run in df.groupby(["arm", "seed"]):
        run = run.sort_values("step")
        ax.plot(run["step"], run[metric], color=ARM_COLORS[arm], lw=1.2, alpha=0.8)
        if f"{metric}_null_mean" in run:      # the covariance-matched Gaussian null: mean +- sd over its draws
            mean, sd = run[f"{metric}_null_mean"], run[f"{metric}_null_sd"].fillna(0)
            ax.plot(run["step"], mean, color=ARM_COLORS[arm], lw=0.8, ls=":", alpha=0.8)
            ax.fill_between(run["step"], mean - sd, mean + sd, color=ARM_COLORS[arm], alpha=0.12, lw=0)
    for s in grok_steps:
        ax.axvline(s, color="0.5", lw=0.8, ls="--")
    ax.set_ylabel(label)
    if logy:
        ax.set_yscale("log")
    ax.set_title(_metric_title(summary, metric), fontsize=9)
    _steps_axis(ax)


def _diagram_panel(ax, dg, title, lim):
    h0, h1 = dg["embed_h0"], dg["embed_h1"]
    h0 = h0[np.isfinite(h0[:, 1])]
    ax.plot([0, lim], [0, lim], color="0.6", lw=0.8)
    ax.scatter(h0[:, 0], h0[:, 1], s=10, color=style.PALETTE[0], label=f"H0 ({len(h0)})")
    ax.scatter(h1[:, 0], h1[:, 1], s=12, color=style.PALETTE[3], marker="^", label=f"H1 ({len(h1)})")
    ax.set_xlim(0, lim)
    ax.set_ylim(0, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("birth (embedding distance)")
    ax.set_ylabel("death")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right", fontsize=7)


def _plane_panel(ax, points, title):
    p = len(points)
    sc = ax.scatter(points[:, 0], points[:, 1], c=np.arange(p), cmap="twilight", s=14)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("Fourier-plane coordinate 1\n(colour: token a)")
    ax.set_ylabel("coordinate 2")
    ax.set_title(title, fontsize=9)
    return sc


def plot_grokking(checkpoints, summary, grok_diagrams, control_diagrams, seed: int, accuracy=None,
                  positive_control=None):
    """The grokking figure.

    Parameters
    ----------
    checkpoints : pandas.DataFrame
        ``analysis/grokking_checkpoints.csv``.
    summary : pandas.DataFrame or None
        ``analysis/grokking.csv`` (AUCs and verdicts quoted in the panel titles).
    grok_diagrams, control_diagrams : dict
        :func:`toposcale.experiments.grokking.load_run_diagrams` of the grok and control runs of ``seed``.
    seed : int
        The seed whose diagrams are shown.
    accuracy, positive_control : dict, optional
        The ``grokking.accuracy`` and ``grokking.positive_control`` config sections (defaults: the
        schema's): the grokking line, the phases and the circle verdict of the plane panels use them.

    Returns
    -------
    matplotlib.figure.Figure
    """
    acc_t = accuracy_thresholds(accuracy)
    pc = {**POSITIVE_CONTROL, **(positive_control or {})}
    style.setup()
    fig = plt.figure(figsize=(17, 11.5))
    outer = fig.add_gridspec(3, 1, height_ratios=[1, 1, 1.15], hspace=0.45, top=0.93)
    top = outer[0].subgridspec(1, 4, wspace=0.35)
    mid = outer[1].subgridspec(1, 4, wspace=0.35)
    bottom = outer[2].subgridspec(1, 5, wspace=0.5)
    curve_axes = [fig.add_subplot(top[0, i]) for i in range(4)] + [fig.add_subplot(mid[0, i]) for i in range(4)]
    grok = checkpoints[checkpoints["arm"] == "grok"]
    grok_steps = [s for s in (settle_step(r.sort_values("step")["step"], r.sort_values("step")["test_acc"], acc_t["grok"])
                              for _, r in grok.groupby("seed")) if np.isfinite(s)]
    _accuracy_panel(curve_axes[0], checkpoints)
    for ax, (metric, label, logy) in zip(curve_axes[1:], CURVE_PANELS):
        if metric in checkpoints.columns:
            _metric_panel(ax, checkpoints, metric, label, logy, summary, grok_steps)
        else:
            ax.set_visible(False)
    run = grok[grok["seed"] == seed]
    phases = phase_steps(run, acc_t) if len(run) else {}
    shown = [(name, step) for name, step in phases.items() if step in grok_diagrams]
    lim = 1.05 * max((np.nanmax(np.where(np.isfinite(d), d, np.nan)) for name, step in shown
                      for d in (grok_diagrams[step]["embed_h0"], grok_diagrams[step]["embed_h1"]) if d.size),
                     default=1.0)
    acc = run.set_index("step")["test_acc"] if len(run) else {}
    for i in range(3):
        ax = fig.add_subplot(bottom[0, i])
        if i < len(shown):
            name, step = shown[i]
            _diagram_panel(ax, grok_diagrams[step],
                           f"embedding, {name} grokking\nstep {step}, test acc {acc[step]:.2f}", lim)
        else:
            ax.set_visible(False)
    final = {"grok": (grok_diagrams, "weight decay"), "control": (control_diagrams, "no weight decay")}
    for i, (arm, (dgs, label)) in enumerate(final.items()):
        ax = fig.add_subplot(bottom[0, 3 + i])
        step = max(dgs)
        row = checkpoints[(checkpoints["arm"] == arm) & (checkpoints["seed"] == seed) & (checkpoints["step"] == step)]
        extra = ""
        if len(row):
            r = control_table(row.iloc[:1], **pc, accuracy=acc_t).iloc[0]   # the table's verdict, not a re-derivation
            expect = "undecided" if r["expected"] is None else "circle" if r["expected"] else "none"
            extra = (f", test acc {r['test_acc']:.2f}\nfreq. {int(r['fourier_freq'])}: H1 ratio "
                     f"{r['plane_ratio']:.3g}, loop/RMS {r['plane_loop_size']:.2f}\n"
                     f"{'circle' if r['circle'] else 'no circle'} (expected: {expect})")
        _plane_panel(ax, dgs[step]["plane_points"], f"{label}, step {step}{extra}")
    fig.suptitle(f"Grokking positive control (p = {int(len(next(iter(grok_diagrams.values()))['plane_points']))}): "
                 f"accuracy and progress measures (dashed: grok-arm test accuracy crosses {acc_t['grok']}), "
                 f"embedding diagrams of seed {seed}", y=0.985, fontsize=13)
    return fig
