"""Progress measures of every checkpoint of a grokking run.

Per checkpoint:

* Fourier share: fraction of the (token-centred) embedding's variance carried by its 5 strongest
  Fourier frequencies over the token axis (see :func:`toposcale.experiments.grokking.fourier.fourier_power`).
* Topology of three point clouds (see :func:`toposcale.experiments.grokking.loops.cloud_measures`): the ``p``
  embedding rows of the number tokens (``embed``), the final-position residual stream for the inputs
  ``(a, 0, =)`` (``resid``), and the embedding projected onto the plane of its strongest Fourier
  frequency (``plane``); plus the plane's loop size (:func:`toposcale.experiments.grokking.loops.loop_size`)
  and the parameters' L2 norm (a non-topological reference, from the training log).
* The same topological measures of ``K`` covariance-matched Gaussian null draws of each cloud
  (:mod:`toposcale.topology.nulls`): their mean, sd and the standardised excess ``{measure}_null_z``,
  which asks whether the cloud's topology differs from that of a structureless cloud with the same
  points, mean and covariance.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from toposcale.experiments.grokking.diagrams import save_run_diagrams
from toposcale.experiments.grokking.fourier import fourier_plane, fourier_share, strongest_frequency
from toposcale.experiments.grokking.loops import CLOUDS, cloud_measures, dominance_ratio, loop_size
from toposcale.stats import null_excess
from toposcale.experiments.grokking.runs import LOG_COLUMNS, checkpoint_path, checkpoint_steps
from toposcale.experiments.grokking.training import load_checkpoint
from toposcale.io import read_table
from toposcale.topology.nulls import null_clouds, null_seed


def point_clouds(model) -> dict:
    """The three point clouds of a model, each with ``p`` rows (one per number ``a``).

    ``embed``: token embedding rows of ``0 .. p-1``; ``resid``: final-position residual stream after
    the block for the inputs ``(a, 0, =)``; ``plane``: :func:`fourier_plane` of ``embed``.
    """
    p = model.p
    with torch.no_grad():
        E = model.embed.weight[:p].double().numpy()
        x = torch.stack([torch.arange(p), torch.zeros(p, dtype=torch.long), torch.full((p,), p)], dim=1)
        R = model.residual(x).double().numpy()
    return {"embed": E, "resid": R, "plane": fourier_plane(E, p)}


def checkpoint_measures(model, noise_fraction: float = 0.05, backend: str = "auto", n_null_draws: int = 0,
                        null_key: tuple = ()):
    """All progress measures of one checkpoint, and their excess over the covariance-matched Gaussian null.

    Parameters
    ----------
    n_null_draws : int
        ``K``: Gaussian null draws per cloud (:func:`toposcale.topology.nulls.null_clouds`, kind
        ``gaussian``: same points, mean and sample covariance, no other structure); 0 computes no null.
    null_key : tuple
        Identifies the checkpoint, e.g. ``(seed, arm, step)``; cloud ``c``'s draws are seeded by
        ``null_seed(*null_key, c)`` (:func:`toposcale.topology.nulls.null_seed`).

    Returns
    -------
    row : dict
        ``fourier_share`` (:func:`fourier_share`, top 5), ``fourier_freq``
        (:func:`strongest_frequency`), ``plane_ratio`` (:func:`dominance_ratio` of the plane cloud),
        ``plane_loop_size`` (:func:`loop_size` of the plane cloud) and ``{cloud}_{measure}`` for
        cloud in :data:`CLOUDS` and measure in :data:`CLOUD_MEASURES`. With ``n_null_draws > 0`` also,
        for each of those ``{cloud}_{measure}`` and for ``plane_loop_size``, the columns
        ``{name}_null_mean``, ``{name}_null_sd``, ``{name}_null_z`` of :func:`null_excess` over the
        ``K`` draws, each draw measured by the same :func:`cloud_measures` (same homology, backend and
        ``noise_fraction``) as the cloud itself, and ``n_null_draws``.
    diagrams : dict
        cloud name -> :class:`toposcale.topology.homology.Diagrams`; ``'plane_points'`` -> the (p, 2) plane.
    """
    clouds = point_clouds(model)
    row = {"fourier_share": fourier_share(clouds["embed"], model.p),
           "fourier_freq": strongest_frequency(clouds["embed"], model.p)}
    diagrams = {"plane_points": clouds["plane"]}
    draws = {}
    for name in CLOUDS:
        where = f"grokking {name} cloud"
        m, dg = cloud_measures(clouds[name], noise_fraction, backend, where=where)
        row.update({f"{name}_{k}": v for k, v in m.items()})
        diagrams[name] = dg
        draws[name] = []
        for Y in null_clouds(clouds[name], "gaussian", n_null_draws, null_seed(*null_key, name)):
            nm, ndg = cloud_measures(Y, noise_fraction, backend, where=f"{where} (Gaussian null)")
            if name == "plane":
                nm["loop_size"] = loop_size(Y, ndg.h1)
            draws[name].append(nm)
    row["plane_ratio"] = dominance_ratio(diagrams["plane"].h1)
    row["plane_loop_size"] = loop_size(clouds["plane"], diagrams["plane"].h1)
    if n_null_draws > 0:
        for name in CLOUDS:
            for k in draws[name][0]:
                ex = null_excess(row[f"{name}_{k}"], [d[k] for d in draws[name]])
                row.update({f"{name}_{k}_{s}": v for s, v in ex.items()})
        row["n_null_draws"] = int(n_null_draws)
    return row, diagrams


def measure_run(run_dir, cfg: dict, arm: str, seed: int, noise_fraction: float = 0.05,
                backend: str = "auto", threads: int = 1, diagrams_path=None, *, n_null_draws: int):
    """Measures of every checkpoint of one run, joined with its log.

    Parameters
    ----------
    run_dir : path
        A folder written by :func:`toposcale.experiments.grokking.training.train` (``log.csv`` and
        ``checkpoints/``).
    cfg : dict
        The ``grokking`` config section it was trained with.
    arm, seed
        Copied into the table.
    noise_fraction, backend
        See :func:`cloud_measures`.
    n_null_draws : int
        ``topology.nulls.n_draws``: Gaussian null draws per cloud and checkpoint (>= 2, so that the
        null sd exists); draws of cloud ``c`` at ``step`` are seeded by ``null_seed(seed, arm, step, c)``
        (see :func:`checkpoint_measures`).
    diagrams_path : path, optional
        If given, the embedding's H0/H1 diagrams and its Fourier-plane points and diagrams at every
        checkpoint are written there (see :func:`save_run_diagrams`).

    Returns
    -------
    pandas.DataFrame
        One row per checkpoint step: ``seed``, ``arm``, the :data:`LOG_COLUMNS` of ``log.csv`` and
        the keys of :func:`checkpoint_measures`.
    """
    if int(n_null_draws) < 2:
        raise ValueError(f"n_null_draws = {n_null_draws}: topology.nulls.n_draws must be >= 2 (a null sd needs "
                         f"two draws); set it in the config")
    torch.set_num_threads(max(1, int(threads)))
    log = read_table(Path(run_dir) / "log.csv")
    missing = [s for s in checkpoint_steps(cfg) if s not in set(log["step"])]
    if missing:
        raise ValueError(f"{run_dir}/log.csv lacks checkpoint steps {missing[:5]}; the run was trained "
                         f"with a different grokking config (steps / n_checkpoints); retrain it")
    rows, per_step = [], {}
    for step in log["step"]:
        model = load_checkpoint(checkpoint_path(run_dir, step), cfg)
        row, dg = checkpoint_measures(model, noise_fraction, backend, n_null_draws=int(n_null_draws),
                                      null_key=(int(seed), arm, int(step)))
        rows.append({"seed": int(seed), "arm": arm, "step": int(step), **row})
        per_step[int(step)] = dg
    if diagrams_path is not None:
        save_run_diagrams(diagrams_path, per_step)
    measures = [k for k in rows[0] if k not in ("seed", "arm", "step")]
    return pd.DataFrame(rows).merge(log, on="step")[["seed", "arm", *LOG_COLUMNS, *measures]]
