"""Probes figure: n-gram divergences and induction of every checkpoint, against training tokens.

Reads ``results/analysis/probes/{run}.csv`` (:mod:`toposcale.analysis.probes`) and run.json contents;
nothing is recomputed. Four panels share the x axis (training tokens, log scale; step 0 is left out):
KL of the model from the corpus unigram table, from the bigram table, the induction attention score (best
head of layers >= 1, with the score of uniform causal attention, column ``induction_uniform``, as a
dotted line), and the loss drop on the
repeat. Colour = model size, line style = activation (the conventions of
:mod:`toposcale.report.plots.training`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from toposcale.report.plots import style
from toposcale.report.plots.training import activation_styles, run_size_colors, runs_table

#: (column, y label) of the four panels, in order.
PANELS = (
    ("kl_unigram", "KL(model || unigram table) (nats)"),
    ("kl_bigram", "KL(model || bigram table) (nats)"),
    ("induction_attention", "induction attention (best head, layers >= 1)"),
    ("induction_loss_drop", "loss drop on the repeat (nats)"),
)


def plot_probes(probes: dict, runs, path, dpi: int = 150) -> dict:
    """Draw the four probe panels for the runs in ``probes`` (run name -> its probes table).

    Parameters
    ----------
    probes : dict of str to pandas.DataFrame
        Run name -> ``analysis/probes/{run}.csv``.
    runs : list of dict
        run.json contents of (at least) those runs (see :func:`toposcale.report.plots.training.runs_table`).
    path : path-like
        Output PNG.
    dpi : int
        Resolution (config ``figures.dpi``).

    Returns
    -------
    dict
        ``runs`` (drawn, in order) and ``title``.
    """
    info = runs_table([r for r in runs if r["name"] in probes])
    absent = [r for r in probes if r not in set(info["run"])]
    if absent:
        raise ValueError(f"probes figure: no run.json given for runs {absent}")
    for name, df in probes.items():
        missing = [c for c, _ in PANELS if c not in df] + [c for c in ("tokens", "induction_uniform") if c not in df]
        if missing:
            raise ValueError(f"probes table of {name!r} lacks columns {missing}; rerun rule analysis_probes")
    colors = run_size_colors(info)
    dashes = activation_styles(info["activation"])
    style.setup()
    fig, axes = plt.subplots(2, 2, figsize=(10.0, 7.0), sharex=True)
    uniform = set()
    for r in info.itertuples():
        df = probes[r.run].sort_values("tokens")
        df = df[df["tokens"] > 0]
        uniform |= set(float(v) for v in df["induction_uniform"].dropna())
        for ax, (col, _) in zip(axes.flat, PANELS):
            if df[col].notna().any():
                ax.plot(df["tokens"], df[col], color=colors[r.run], ls=dashes[r.activation], lw=1.4, marker="o",
                        ms=2.5)
    for ax, (col, label) in zip(axes.flat, PANELS):
        ax.set_xscale("log")
        ax.set_ylabel(label, fontsize=9)
        if col.startswith("kl_"):
            ax.set_yscale("log")
    # 0 (no attention to the target) to at least 0.1: a perfect induction head scores 1, uniform ~ln(2)/L
    top = np.nanmax([probes[r]["induction_attention"].max() for r in info["run"]] + [0.0])
    axes[1, 0].set_ylim(0.0, max(0.1, 1.1 * top))
    for level in sorted(uniform):
        axes[1, 0].axhline(level, color="0.4", ls=":", lw=1)
    axes[1, 1].axhline(0.0, color="0.4", ls=":", lw=1)
    for ax in axes[1]:
        ax.set_xlabel("training tokens seen (log scale)")
    first = info.drop_duplicates("size_key")
    handles = [Line2D([], [], color=colors[s.run], lw=2.5, label=s.size_label) for s in first.itertuples()]
    handles += [Line2D([], [], color="0.3", ls=ls, lw=1.4, label=a) for a, ls in dashes.items()]
    if uniform:
        handles.append(Line2D([], [], color="0.4", ls=":", lw=1, label="uniform attention / no drop"))
    axes[0, 0].legend(handles=handles, fontsize=7, loc="lower left")
    n_multi = int(np.sum([probes[r]["induction_attention"].notna().any() for r in info["run"]]))
    title = (f"Probes of {len(info)} runs: divergence from the corpus n-gram tables and induction "
             f"({n_multi} runs with >= 2 layers have an induction score)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    style.save(fig, path, dpi)
    return {"runs": list(info["run"]), "title": title}


def read_probes(paths) -> dict:
    """Run name -> probes table, from ``analysis/probes/{run}.csv`` files."""
    out = {}
    for p in paths:
        df = pd.read_csv(p)
        out[str(df["run"].iloc[0]) if len(df) else str(p)] = df
    return out
