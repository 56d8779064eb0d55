"""Training figures: validation loss against training tokens for every run of the study.

Reads ``results/runs/{run}/log.csv`` (columns step, tokens, train_loss, val_loss, ...) and
``results/runs/{run}/run.json`` (name, activation, size, seed, n_nonembed, holdout, ...), and optionally
the corpus's n-gram loss levels (``data/{corpus}/ngram_levels.json``) and the stage crossings
(``analysis/stage_crossings.csv``). Nothing is recomputed: every plotted number is a value of those tables.

Conventions shared by the study figures (also used by :mod:`toposcale.report.plots.evolution` and
:mod:`toposcale.report.plots.summary`): colour encodes model size on a sequential, colour-blind-safe palette
(viridis, small = dark purple, large = green-yellow; see :func:`size_colors`), line style encodes the
activation (:data:`ACTIVATION_STYLES`).
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from toposcale.report.plots import style
from toposcale.report.plots.style import fmt_count

#: Line style per activation function (GELU solid, SwiGLU dashed); unknown activations cycle the rest.
ACTIVATION_STYLES = {"gelu": "-", "swiglu": "--"}
_EXTRA_STYLES = [":", "-."]
#: Figure size of :func:`plot_training_curves` in inches (width, height).
FIGSIZE = (8.0, 5.0)


def activation_styles(activations) -> dict:
    """Line style per activation: :data:`ACTIVATION_STYLES` for known names, then ':' and '-.'."""
    out, k = {}, 0
    for act in dict.fromkeys(activations):
        if act in ACTIVATION_STYLES:
            out[act] = ACTIVATION_STYLES[act]
        else:
            out[act] = _EXTRA_STYLES[k % len(_EXTRA_STYLES)]
            k += 1
    return out


def size_colors(sizes) -> dict:
    """Colour per model size on the viridis sequential palette, ordered by parameter count.

    Parameters
    ----------
    sizes : mapping of hashable to float
        Size key (e.g. a target parameter count or a label such as ``'d64L4'``) -> parameter count;
        keys are ordered by count, so the smallest model is darkest.

    Returns
    -------
    dict
        Size key -> RGBA tuple. The palette is cut at 0.9 so the largest model stays visible on white.
    """
    order = sorted(sizes, key=lambda s: (float(sizes[s]), str(s)))
    cmap = matplotlib.colormaps["viridis"]
    if len(order) == 1:
        return {order[0]: cmap(0.0)}
    return {s: cmap(0.9 * i / (len(order) - 1)) for i, s in enumerate(order)}


def runs_table(runs):
    """One row per run from run.json contents, with a ``size_key`` shared by runs of one model size.

    Parameters
    ----------
    runs : list of dict or pandas.DataFrame
        run.json dictionaries (key ``name``) or a table that already has a ``run`` column. Needs
        ``activation``, ``size``, ``seed`` and ``n_nonembed``; ``target_params``, ``holdout`` and
        ``tokens_per_param`` are used when present.

    Returns
    -------
    pandas.DataFrame
        The input columns plus ``size_key`` (``target_params`` when present, since the activations
        hit a target with slightly different shapes and counts; else ``n_nonembed``), ``size_n`` (the
        mean non-embedding count of the runs of that key) and ``size_label`` (see :func:`size_label`),
        sorted by size, activation and seed.
    """
    df = runs.copy() if isinstance(runs, pd.DataFrame) else pd.DataFrame(list(runs))
    if "run" not in df and "name" in df:
        df = df.rename(columns={"name": "run"})
    need = ["run", "activation", "size", "seed", "n_nonembed"]
    missing = [c for c in need if c not in df]
    if missing:
        raise ValueError(f"run table lacks {missing} (has {list(df.columns)}); pass run.json contents "
                         f"written by the current toposcale.train.trainer")
    df = df.drop_duplicates("run").copy()
    df["holdout"] = df["holdout"].fillna(False).astype(bool) if "holdout" in df else False
    df["size_key"] = df["target_params"] if "target_params" in df else df["n_nonembed"]
    df["size_n"] = df.groupby("size_key")["n_nonembed"].transform("mean")
    labels = {}
    for key, g in df.groupby("size_key"):
        shapes = "/".join(dict.fromkeys(str(s) for s in g["size"]))
        labels[key] = size_label(shapes, float(g["n_nonembed"].mean()), bool(g["holdout"].any()))
    df["size_label"] = df["size_key"].map(labels)
    return df.sort_values(["size_n", "activation", "seed", "run"]).reset_index(drop=True)


def size_label(shapes: str, n_nonembed: float, holdout: bool = False) -> str:
    """Legend label of a size: ``'6.3k (d16L2)'`` (mean non-embedding parameters and the shape label(s)),
    with ``', holdout'`` appended for sizes held out of the scaling fits."""
    return f"{fmt_count(n_nonembed)} ({shapes}{', holdout' if holdout else ''})"


def run_size_colors(info) -> dict:
    """Run name -> colour of its size, for a table from :func:`runs_table`."""
    sizes = info.drop_duplicates("size_key").set_index("size_key")["size_n"].to_dict()
    colors = size_colors(sizes)
    return {r.run: colors[r.size_key] for r in info.itertuples()}


def draw_training_curves(ax, logs: dict, runs, legend_fontsize: float = 8) -> dict:
    """Draw validation loss against tokens on ``ax`` (see :func:`plot_training_curves`).

    Returns
    -------
    dict
        ``info`` (:func:`runs_table` of the drawn runs) and ``init`` (the step-0 validation losses).
    """
    info = runs_table(runs)
    absent = [r for r in info["run"] if r not in logs]
    if absent:
        raise ValueError(f"training curves: no log.csv given for runs {absent}")
    for name in info["run"]:
        missing = [c for c in ("tokens", "val_loss") if c not in logs[name]]
        if missing:
            raise ValueError(f"log.csv of {name!r} lacks columns {missing} (has {list(logs[name].columns)})")
    colors = run_size_colors(info)
    dashes = activation_styles(info["activation"])
    tpps = sorted(info["tokens_per_param"].unique()) if "tokens_per_param" in info else []
    markers = dict(zip(tpps, "osD^v<>")) if len(tpps) > 1 else {}
    init = []
    for r in info.itertuples():
        log = logs[r.run].sort_values("tokens")
        init += [float(v) for v in log.loc[log["tokens"] == 0, "val_loss"].dropna()]
        g = log[(log["tokens"] > 0) & np.isfinite(log["val_loss"])]
        marker = markers.get(getattr(r, "tokens_per_param", None), "o" if len(g) <= 30 else None)
        ax.plot(g["tokens"], g["val_loss"], color=colors[r.run], ls=dashes[r.activation], lw=1.6,
                marker=marker, ms=3.5)
    ax.set_xscale("log")
    ax.set_xlabel("training tokens seen (log scale)")
    ax.set_ylabel("validation loss (nats / token)")
    first = info.drop_duplicates("size_key")
    size_handles = [Line2D([], [], color=colors[s.run], lw=2.5, label=s.size_label) for s in first.itertuples()]
    act_handles = [Line2D([], [], color="0.3", ls=ls, lw=1.6, label=a) for a, ls in dashes.items()]
    act_handles += [Line2D([], [], color="0.3", ls="", marker=m, label=f"{t:g} tokens/param")
                    for t, m in markers.items()]
    leg = ax.legend(handles=size_handles, title="non-embedding params (shape)", loc="upper right",
                    fontsize=legend_fontsize, title_fontsize=legend_fontsize + 1)
    ax.add_artist(leg)
    ax.legend(handles=act_handles, loc="lower left", fontsize=legend_fontsize, title_fontsize=legend_fontsize + 1,
              title="activation" + ("; tokens/param" if markers else ""))
    return {"info": info, "init": init}


def draw_stage_marks(ax, levels, crossings, info, colors: dict) -> None:
    """Horizontal dotted lines at the n-gram loss levels and a cross at each run's stage crossing.

    Levels are drawn down to the first one below every plotted loss (the next stage no run reached),
    labelled at the right edge. A crossing is marked at (``step_cross`` x tokens per step of the run,
    midpoint of its two levels), which is where its smoothed dense loss first fell below that midpoint.
    """
    lo, hi = ax.get_ylim()
    drawn = [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()]
    lowest = min((np.nanmin(y) for y in drawn if y.size and np.isfinite(y).any()), default=lo)
    shown = []
    for lv in sorted(levels or [], key=lambda lv: -float(lv["nats"])):
        shown.append(lv)
        if float(lv["nats"]) < lowest:
            break
    for lv in shown:
        y = float(lv["nats"])
        ax.axhline(y, color="0.45", ls=":", lw=0.9, zorder=0)
        ax.annotate(f"{lv['name']} {y:.2f}", xy=(1.0, y), xycoords=("axes fraction", "data"), xytext=(-2, 2),
                    textcoords="offset points", ha="right", va="bottom", fontsize=7, color="0.35")
    if shown:
        ax.set_ylim(min(lo, min(float(lv["nats"]) for lv in shown) - 0.05), hi)
    if crossings is None or len(crossings) == 0:
        return
    per_step = {r.run: getattr(r, "tokens_per_step", np.nan) for r in info.itertuples()}
    for r in crossings.itertuples(index=False):
        if r.run not in colors or not np.isfinite(r.step_cross) or not np.isfinite(per_step.get(r.run, np.nan)):
            continue
        ax.plot(r.step_cross * per_step[r.run], 0.5 * (r.level_from + r.level_to), marker="x", ms=6, mew=1.6,
                color=colors[r.run], ls="", zorder=5)


def training_title(info, init) -> str:
    """Title of the training figure from the data: counts of runs, sizes, activations, seeds, the
    parameter range and the validation loss at initialisation."""
    n_seeds = info["seed"].nunique()
    lo, hi = (min(init), max(init)) if init else (np.nan, np.nan)
    init_txt = "" if not init else (f"; loss at init {lo:.2f} nats" if hi - lo < 0.005
                                    else f"; loss at init {lo:.2f}-{hi:.2f} nats")
    n_act = info["activation"].nunique()
    return (f"Validation loss of {len(info)} runs: {info['size_key'].nunique()} sizes "
            f"({fmt_count(info['n_nonembed'].min())}-{fmt_count(info['n_nonembed'].max())} params) x "
            f"{n_act} activation{'s' if n_act > 1 else ''} x {n_seeds} seed{'s' if n_seeds > 1 else ''}"
            f"{init_txt}")


def plot_training_curves(logs: dict, runs, path, dpi: int = 150, levels=None, crossings=None) -> dict:
    """Validation loss against training tokens, one line per run.

    Colour = model size (non-embedding parameters, :func:`size_colors`), line style = activation
    (markers = tokens per parameter when the study varies it). The x axis is logarithmic, so the
    step-0 row (0 tokens) of each log is not drawn; the loss at initialisation is quoted in the title
    instead (its range over runs).

    Parameters
    ----------
    logs : dict of str to pandas.DataFrame
        Run name -> its ``log.csv`` (columns ``tokens`` and ``val_loss`` are used).
    runs : list of dict or pandas.DataFrame
        run.json contents of the same runs (see :func:`runs_table`).
    path : path-like
        Output PNG.
    dpi : int
        Resolution (config ``figures.dpi``).
    levels : list of dict, optional
        ``levels`` of ``ngram_levels.json``: drawn as dotted horizontal lines (:func:`draw_stage_marks`).
    crossings : pandas.DataFrame, optional
        ``analysis/stage_crossings.csv``: each crossing a cross in its run's colour.

    Returns
    -------
    dict
        ``runs`` (drawn, in order), ``title``.
    """
    style.setup()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    drawn = draw_training_curves(ax, logs, runs)
    if levels or crossings is not None:
        draw_stage_marks(ax, levels, crossings, drawn["info"], run_size_colors(drawn["info"]))
    title = training_title(drawn["info"], drawn["init"])
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    style.save(fig, path, dpi)
    return {"runs": list(drawn["info"]["run"]), "title": title}
