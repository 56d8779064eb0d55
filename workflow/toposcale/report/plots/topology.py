"""Topology figures of the trained runs, drawn from the summarise and persistence tables only.

* :func:`plot_metric_evolution` -- scale-normalised H0 and H1 total persistence and one baseline per
  layer over checkpoints, for a few runs (``results/metrics/{run}.parquet``).
* :func:`plot_diagrams` -- persistence diagrams and barcodes of one run at a few checkpoints, both
  sources (``results/diagrams/{run}/{source}/step{step}/{layer}.npz``).
* :func:`plot_betti_curves` -- Betti-0 and Betti-1 curves on the shared scale-normalised grid at a few
  checkpoints (``results/metrics/{run}.betti.parquet``).

The selection helpers (:func:`default_layers`, :func:`choose_steps`, :func:`pick_run`,
:func:`default_runs`) are pure Python without heavy imports, so Snakemake rule files can call them
while parsing the workflow to name a figure's exact input files.

Units. A cloud's *scale* is its largest finite H0 death (the longest edge of its minimum spanning
tree). "Normalised" values are divided by it, so every diagram and Betti curve here is in units of
its own cloud's scale and clouds of different norm (init vs trained, weights vs activations) share
axes. Total persistence is the sum of the finite bars' lifetimes (death - birth); the infinite H0
bar is never summed or drawn.
"""

from __future__ import annotations

import numpy as np

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
SOURCE_TITLES = {"weights": "weights (neurons as points)", "activations": "activations (probe sequences)"}
DIM_COLORS = {0: "#0072B2", 1: "#D55E00"}  # Okabe-Ito blue and vermillion
LAYER_STYLES = ["-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 3))]
#: Figure sizes (inches) per figure.
FIGSIZE_EVOLUTION = (11.0, 10.0)
FIGSIZE_DIAGRAMS = (11.5, 13.0)
FIGSIZE_BETTI = (11.5, 12.0)


# ---------------------------------------------------------------------------------------------
# selection helpers (no heavy imports; callable from rule files)
# ---------------------------------------------------------------------------------------------

def _blocks(names) -> list[str]:
    return [n for n in names if str(n).startswith("block")]


def default_layers(names, show=()) -> list[str]:
    """Layers drawn in per-layer figures.

    Parameters
    ----------
    names : sequence of str
        The layers a run has, in depth order (``embed``, ``block00``, ..., maybe ``final``).
    show : sequence of str
        Config ``figures.layers_to_show``. When non-empty, these layers in the given order (every one
        must exist); when empty, ``embed``, the middle block (``block{(n-1)//2}`` of ``n`` blocks, so
        two blocks give ``block00`` and ``block01``) and the last block, without repeats.

    Raises
    ------
    ValueError
        A name in ``show`` that ``names`` lacks.
    """
    names = list(names)
    if show:
        bad = [s for s in show if s not in names]
        if bad:
            raise ValueError(f"figures.layers_to_show names {bad}, which this run lacks (it has {names}); "
                             f"change figures.layers_to_show in the config")
        return list(dict.fromkeys(show))
    blocks = _blocks(names)
    out = ["embed"] if "embed" in names else []
    if blocks:
        out += [blocks[(len(blocks) - 1) // 2], blocks[-1]]
    return list(dict.fromkeys(out)) or names[:1]


def layers_for_source(names, show=(), where: str = "this source") -> list[str]:
    """:func:`default_layers` for one source of a run when ``show`` may name layers of the other
    source (``final`` exists for activations only): the names of ``show`` this source has, in order.

    Raises
    ------
    ValueError
        ``show`` is non-empty and names none of ``names``.
    """
    names = list(names)
    if not show:
        return default_layers(names)
    keep = [s for s in dict.fromkeys(show) if s in names]
    if not keep:
        raise ValueError(f"figures.layers_to_show {list(show)} names no layer of {where} (it has {names}); "
                         f"change figures.layers_to_show in the config")
    return keep


def middle_layer(names, show=(), where: str = "this source") -> str:
    """The layer drawn in single-layer figures (persistence diagrams): the middle entry of
    :func:`layers_for_source` (with the default list, the middle block)."""
    chosen = layers_for_source(names, show, where)
    return chosen[len(chosen) // 2]


def layer_roles(names, show=()) -> dict:
    """Legend role -> layer of this run, for figures that overlay runs of different depth.

    With ``show`` empty the roles are ``'embed'``, ``'middle block'`` and ``'last block'`` (one
    role when two coincide, named after the last), so a 2-block and a 6-block run line up by role.
    With ``show`` given, each role is the layer name itself and layers the run lacks are left out.
    """
    names = list(names)
    if show:
        return {s: s for s in dict.fromkeys(show) if s in names}
    blocks = _blocks(names)
    roles = {}
    if "embed" in names:
        roles["embed"] = "embed"
    if blocks:
        mid, last = blocks[(len(blocks) - 1) // 2], blocks[-1]
        if mid != last:
            roles["middle block"] = mid
        roles["last block"] = last
    return roles


def choose_steps(steps, n: int = 3) -> list[int]:
    """``n`` checkpoints spread over a log-spaced schedule: the first (init), the last, and between
    them the checkpoints at evenly spaced positions of the sorted list (so ``n = 3`` gives init, the
    middle checkpoint of the schedule and the final one). Fewer when the schedule is shorter."""
    steps = sorted({int(s) for s in steps})
    if not steps:
        raise ValueError("choose_steps: the run has no checkpoint steps")
    if n < 1:
        raise ValueError(f"choose_steps: n = {n}; use n >= 1")
    if n == 1 or len(steps) == 1:
        return [steps[-1]]
    idx = np.round(np.linspace(0, len(steps) - 1, min(n, len(steps)))).astype(int)
    return sorted({steps[i] for i in idx})


def _get(r, key, default=None):
    return r.get(key, default) if isinstance(r, dict) else getattr(r, key, default)


def pick_run(runs, name: str | None = None) -> str:
    """The run drawn in single-run figures (diagrams, Betti curves).

    Parameters
    ----------
    runs : sequence of dict or objects
        Runs with ``name``, ``n_nonembed``, ``holdout``, ``seed`` and ``activation`` (run.json contents or
        :class:`toposcale.plan.study.RunSpec`).
    name : str, optional
        An explicit choice (must be one of ``runs``).

    Returns
    -------
    str
        ``name`` when given; else the largest run not held out of the scaling fits (by
        ``target_params`` when present, since activations reach a target with slightly different
        counts, else by ``n_nonembed``), lowest seed, activation in alphabetical order ('gelu' before
        'swiglu'); the largest run overall when every run is held out.
    """
    names = [_get(r, "name") for r in runs]
    if not names:
        raise ValueError("pick_run: the study has no runs")
    if name:
        if name not in names:
            raise ValueError(f"figure run {name!r} is not a run of this study; choose one of {names}")
        return name
    pool = [r for r in runs if not _get(r, "holdout", False)] or list(runs)
    ranked = sorted(pool, key=lambda r: (-float(_get(r, "target_params", None) or _get(r, "n_nonembed")),
                                         int(_get(r, "seed", 0)), str(_get(r, "activation", "")),
                                         -float(_get(r, "n_nonembed")), _get(r, "name")))
    return _get(ranked[0], "name")


def default_runs(runs, max_runs: int = 4, names=()) -> list[str]:
    """Runs overlaid in :func:`plot_metric_evolution`.

    ``names`` when given (each must exist); else the runs of one activation ('gelu' when present, else
    the first in alphabetical order) and its lowest seed, at up to ``max_runs`` sizes spread evenly
    over the sorted sizes (always the smallest and the largest).
    """
    all_names = [_get(r, "name") for r in runs]
    if names:
        bad = [n for n in names if n not in all_names]
        if bad:
            raise ValueError(f"runs {bad} are not runs of this study; choose from {all_names}")
        return list(names)
    acts = sorted({_get(r, "activation") for r in runs})
    act = "gelu" if "gelu" in acts else acts[0]
    pool = [r for r in runs if _get(r, "activation") == act]
    seed = min(int(_get(r, "seed", 0)) for r in pool)
    pool = sorted((r for r in pool if int(_get(r, "seed", 0)) == seed),
                  key=lambda r: (float(_get(r, "n_nonembed")), _get(r, "name")))
    idx = np.round(np.linspace(0, len(pool) - 1, min(max_runs, len(pool)))).astype(int)
    return [_get(pool[i], "name") for i in sorted(set(idx))]


# ---------------------------------------------------------------------------------------------
# shared drawing helpers
# ---------------------------------------------------------------------------------------------

def _log_if_wide(ax, values, ratio: float = 30.0) -> bool:
    """Log y axis when the finite values are all positive and span more than ``ratio``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size and v.min() > 0 and v.max() / v.min() > ratio:
        ax.set_yscale("log")
        return True
    return False


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _tokens_text(tokens: dict | None, step: int) -> str:
    if not tokens or step not in tokens:
        return f"step {step}"
    from toposcale.report.plots.training import _fmt_count

    return f"step {step} ({_fmt_count(tokens[step])} tokens)"


def _check_columns(df, cols, what: str) -> None:
    missing = [c for c in cols if c not in df]
    if missing:
        raise ValueError(f"{what} lacks columns {missing} (has {list(df.columns)}); regenerate it with "
                         f"the current toposcale.topology.summarise")


# ---------------------------------------------------------------------------------------------
# metric evolution
# ---------------------------------------------------------------------------------------------

def evolution_roles(metrics, runs=(), layers_to_show=()):
    """Runs and layer roles of :func:`plot_metric_evolution`.

    Returns
    -------
    info : pandas.DataFrame
        :func:`~toposcale.report.plots.training.runs_table` of the chosen runs (``runs``, or
        :func:`default_runs`).
    roles : dict
        Role -> {(run, source): layer}, ordered embed, middle block, last block (or as
        ``layers_to_show``); a run lacking a layer has no entry for it.

    Raises
    ------
    ValueError
        No chosen run has any layer of ``layers_to_show``.
    """
    from toposcale.report.plots.training import runs_table

    info = runs_table(metrics.drop_duplicates("run"))
    chosen = default_runs(info.rename(columns={"run": "name"}).to_dict("records"), names=list(runs or ()))
    info = info[info["run"].isin(chosen)]
    sources = [s for s in ("weights", "activations") if s in set(metrics["source"])]
    roles: dict = {}
    for r in info["run"]:
        for src in sources:
            names = list(dict.fromkeys(metrics.loc[(metrics["run"] == r) & (metrics["source"] == src), "layer"]))
            for role, layer in layer_roles(_layer_order(names), layers_to_show).items():
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
    the cloud's units). Columns: sources. Colour = run (model size, :func:`~toposcale.report.plots.training.size_colors`),
    line style = layer role (:func:`layer_roles`). The x axis is ``step + 1`` on a log scale, so the
    initialisation (step 0) is drawn at 1.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Concatenated ``results/metrics/{run}.parquet`` tables (at least the drawn runs).
    runs : sequence of str
        Runs to draw (empty = :func:`default_runs` over the runs in ``metrics``).
    layers_to_show : sequence of str
        Config ``figures.layers_to_show`` (empty = embed, middle block, last block of each run).
    baseline : str
        A baseline column (:data:`BASELINE_LABELS`).

    Returns
    -------
    dict
        ``runs``, ``roles`` (role -> {run: layer}), ``title``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from toposcale.report.plots import style
    from toposcale.report.plots.training import run_size_colors

    need = ["run", "activation", "size", "seed", "n_nonembed", "step", "source", "layer", baseline]
    _check_columns(metrics, need + [c for c, _ in EVOLUTION_METRICS], "metrics table")
    if baseline not in BASELINE_LABELS:
        raise ValueError(f"baseline {baseline!r} unknown; use one of {sorted(BASELINE_LABELS)}")
    info, roles = evolution_roles(metrics, runs, layers_to_show)
    colors = run_size_colors(info)
    sources = [s for s in ("weights", "activations") if s in set(metrics["source"])]
    rows = list(EVOLUTION_METRICS) + [(baseline, BASELINE_LABELS[baseline])]
    role_style = {role: LAYER_STYLES[i % len(LAYER_STYLES)] for i, role in enumerate(roles)}

    style.setup()
    fig, axes = plt.subplots(len(rows), len(sources), figsize=FIGSIZE_EVOLUTION, sharex="col", squeeze=False)
    for j, src in enumerate(sources):
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
                    ax.plot(g["step"] + 1, y, color=colors[r.run], ls=role_style[role], lw=1.5)
                    drawn.append(y)
            ax.set_xscale("log")
            if drawn:
                _log_if_wide(ax, np.concatenate(drawn))
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
    fig.legend(handles=run_handles + role_handles, loc="lower center", ncol=min(4, len(run_handles) + len(role_handles)),
               fontsize=9, frameon=False, bbox_to_anchor=(0.5, 0.0))
    act = "/".join(sorted(info["activation"].unique()))
    seeds = ",".join(str(s) for s in sorted(info["seed"].unique()))
    title = (f"Topology over training: {len(info)} {act} runs (seed {seeds}), "
             f"{_fmt_range(info['n_nonembed'])} non-embedding params")
    fig.suptitle(title, fontsize=12)
    n_leg_rows = int(np.ceil((len(run_handles) + len(role_handles)) / 4))
    fig.tight_layout(rect=(0, 0.025 * n_leg_rows + 0.01, 1, 0.98))
    style.save(fig, path, dpi)
    return {"runs": list(info["run"]), "roles": roles, "title": title}


def _fmt_range(values) -> str:
    from toposcale.report.plots.training import _fmt_count

    lo, hi = float(np.min(values)), float(np.max(values))
    return _fmt_count(lo) if lo == hi else f"{_fmt_count(lo)}-{_fmt_count(hi)}"


def _layer_order(names) -> list[str]:
    """Depth order: embed, blocks by index, final."""
    def key(n):
        n = str(n)
        if n == "embed":
            return (0, 0)
        if n.startswith("block"):
            return (1, int(n[5:]) if n[5:].isdigit() else 0)
        return (2, 0)

    return sorted(names, key=key)


# ---------------------------------------------------------------------------------------------
# persistence diagrams and barcodes
# ---------------------------------------------------------------------------------------------

def _finite_bars(bars) -> np.ndarray:
    a = np.asarray(bars, dtype=float).reshape(-1, 2)
    return a[np.isfinite(a).all(axis=1)]


def _draw_diagram(ax, d: dict, lim: float) -> None:
    scale = d["scale"] if d["scale"] > 0 else 1.0
    for dim in (0, 1):
        bars = _finite_bars(d.get(f"h{dim}", np.empty((0, 2)))) / scale
        ax.scatter(bars[:, 0], bars[:, 1], s=9, alpha=0.65, color=DIM_COLORS[dim], lw=0,
                   label=f"H{dim}: {len(bars)} finite")
    ax.plot([0, lim], [0, lim], color="0.5", lw=0.8)
    ax.set_xlim(-0.02 * lim, lim)
    ax.set_ylim(-0.02 * lim, lim)
    ax.set_aspect("equal", adjustable="box")
    ax.legend(loc="lower right", fontsize=7.5, handletextpad=0.2, borderpad=0.3)


def _draw_barcode(ax, d: dict, lim: float, max_bars: int) -> str:
    scale = d["scale"] if d["scale"] > 0 else 1.0
    y, parts = 0, []
    for dim in (1, 0):  # H0 on top
        bars = _finite_bars(d.get(f"h{dim}", np.empty((0, 2)))) / scale
        life = bars[:, 1] - bars[:, 0]
        order = np.argsort(-life, kind="stable")[:max_bars]
        keep = bars[order]
        keep = keep[np.argsort(keep[:, 0], kind="stable")]
        ys = y + np.arange(len(keep))
        ax.hlines(ys, keep[:, 0], keep[:, 1], color=DIM_COLORS[dim], lw=1.4)
        y += len(keep) + 2
        parts.append(f"H{dim} {len(keep)} of {len(bars)}")
    ax.set_xlim(0, lim)
    ax.set_ylim(-1, max(y - 1, 1))
    ax.set_yticks([])
    return ", ".join(reversed(parts))


def plot_diagrams(diagrams: dict, path, run: str, layers: dict, tokens: dict | None = None,
                  max_bars: int = 40, dpi: int = 150) -> dict:
    """Persistence diagrams and barcodes of one run at a few checkpoints, for each source.

    For each source two rows: the diagram (birth, death) and the barcode, one column per checkpoint.
    Both are in units of the cloud's scale (its longest MST edge), so H0 deaths lie in (0, 1] and the
    checkpoints share axes; the infinite H0 bar is not drawn. Barcodes show the ``max_bars`` longest
    finite bars of each dimension (the panel title gives shown/total), H0 above H1, each block
    sorted by birth.

    Parameters
    ----------
    diagrams : dict
        ``(source, step)`` -> the dict of :func:`toposcale.topology.homology.load_diagrams` for that source's
        chosen layer at that step.
    run : str
        Run name (for the title).
    layers : dict
        Source -> layer drawn (e.g. the middle block, see :func:`default_layers`).
    tokens : dict, optional
        Step -> tokens seen (from log.csv), for the column titles.

    Returns
    -------
    dict
        ``sources``, ``steps``, ``title``.
    """
    import matplotlib.pyplot as plt

    from toposcale.report.plots import style

    if not diagrams:
        raise ValueError(f"plot_diagrams: no diagrams given for run {run!r}")
    sources = [s for s in ("weights", "activations") if any(k[0] == s for k in diagrams)]
    steps = sorted({k[1] for k in diagrams})
    missing = [(s, t) for s in sources for t in steps if (s, t) not in diagrams]
    if missing:
        raise ValueError(f"plot_diagrams: diagrams missing for (source, step) {missing}")
    style.setup()
    fig, axes = plt.subplots(2 * len(sources), len(steps), figsize=FIGSIZE_DIAGRAMS, squeeze=False,
                             gridspec_kw={"height_ratios": [1.25, 1] * len(sources)})
    for i, src in enumerate(sources):
        lim = 1.05 * max(max(1.0, float(np.max(_finite_bars(diagrams[(src, t)]["h1"]) / (diagrams[(src, t)]["scale"] or 1.0),
                                                 initial=0.0)))
                         for t in steps)
        for j, t in enumerate(steps):
            d = diagrams[(src, t)]
            ax = axes[2 * i, j]
            _draw_diagram(ax, d, lim)
            ax.set_title(f"{src} {layers.get(src, '?')}, {_tokens_text(tokens, t)}\n"
                         f"{d['n_points']} points, scale {d['scale']:.3g}", fontsize=9.5)
            ax.set_xlabel("birth / scale", fontsize=9)
            if j == 0:
                ax.set_ylabel("death / scale", fontsize=9)
            bx = axes[2 * i + 1, j]
            shown = _draw_barcode(bx, d, lim, max_bars)
            bx.set_title(f"barcode, longest bars: {shown}", fontsize=9)
            bx.set_xlabel("filtration value / scale", fontsize=9)
    title = (f"Persistence diagrams and barcodes of {run} "
             f"({', '.join(f'{s}: {layers.get(s, chr(63))}' for s in sources)})")
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.975))
    style.save(fig, path, dpi)
    return {"sources": sources, "steps": steps, "title": title}


# ---------------------------------------------------------------------------------------------
# Betti curves
# ---------------------------------------------------------------------------------------------

def step_colors(steps) -> dict:
    """Colour per checkpoint on the cividis sequential palette (early dark blue, late yellow)."""
    import matplotlib

    steps = sorted(steps)
    cmap = matplotlib.colormaps["cividis"]
    if len(steps) == 1:
        return {steps[0]: cmap(0.0)}
    return {s: cmap(0.9 * i / (len(steps) - 1)) for i, s in enumerate(steps)}


def betti_layers(betti, layers_to_show=(), run: str = "the run") -> dict:
    """Source -> layers drawn in :func:`plot_betti_curves` (:func:`layers_for_source` per source),
    sources in the order weights, activations."""
    sources = [s for s in ("weights", "activations") if s in set(betti["source"])]
    return {src: layers_for_source(_layer_order(betti.loc[betti["source"] == src, "layer"].unique()),
                                   layers_to_show, f"{run} {src}") for src in sources}


def plot_betti_curves(betti, path, run: str, steps=(), layers_to_show=(), tokens: dict | None = None,
                      dpi: int = 150) -> dict:
    """Betti-0 and Betti-1 curves of one run on the shared normalised grid at a few checkpoints.

    ``betti_k(t)`` = number of dimension-``k`` bars alive at filtration value ``t * scale``
    (birth <= t*scale < death; the infinite H0 bar counts, so ``betti_0 >= 1``), with ``t`` in units
    of the cloud's scale on the grid of ``topology.betti_grid_max`` / ``betti_grid_size``. Rows:
    (source, dimension); columns: layers (:func:`default_layers`); colour = checkpoint.
    Betti-0 is drawn on a log axis (it falls from the number of points to 1).

    Parameters
    ----------
    betti : pandas.DataFrame
        ``results/metrics/{run}.betti.parquet``: step, source, layer, dim, t, betti.
    steps : sequence of int
        Checkpoints to draw (empty = :func:`choose_steps` with 3: init, middle, final).

    Returns
    -------
    dict
        ``steps``, ``layers`` (source -> list), ``title``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    from toposcale.report.plots import style

    _check_columns(betti, ["step", "source", "layer", "dim", "t", "betti"], f"Betti table of {run}")
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
    handles = [Line2D([], [], color=colors[s], lw=2.5, label=_tokens_text(tokens, s)) for s in steps]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=9,
               title="checkpoint", title_fontsize=9)
    title = f"Betti curves of {run} at {len(steps)} checkpoints (t in units of each cloud's scale)"
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0.045, 1, 0.975))
    style.save(fig, path, dpi)
    return {"steps": steps, "layers": layers, "title": title}
