"""Which runs, checkpoints and layers the figures of the trained study draw.

Pure Python (standard library and numpy only), so the Snakemake rule files can call these while parsing
the workflow to name a figure's exact input files, and the figure modules
(:mod:`toposcale.report.plots.evolution`, :mod:`~toposcale.report.plots.diagrams`,
:mod:`~toposcale.report.plots.betti`) use the same choices.

* layers: :func:`default_layers`, :func:`layers_for_source`, :func:`middle_layer`, :func:`layer_roles`,
  :func:`layer_order`;
* checkpoints: :func:`choose_steps`;
* runs: :func:`pick_run`, :func:`default_runs`.
"""

from __future__ import annotations

import numpy as np


def _blocks(names) -> list[str]:
    return [n for n in names if str(n).startswith("block")]


def _get(r, key, default=None):
    return r.get(key, default) if isinstance(r, dict) else getattr(r, key, default)


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


def layer_order(names) -> list[str]:
    """Depth order: embed, blocks by index, final."""
    def key(n):
        n = str(n)
        if n == "embed":
            return (0, 0)
        if n.startswith("block"):
            return (1, int(n[5:]) if n[5:].isdigit() else 0)
        return (2, 0)

    return sorted(names, key=key)


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
    """Runs overlaid in :func:`toposcale.report.plots.evolution.plot_metric_evolution`.

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
