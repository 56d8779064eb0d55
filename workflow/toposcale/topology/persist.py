"""Per-layer persistence jobs: point clouds in, one diagram file (and one null-draws file) per (source, layer, step) out.

This is the hot path of the workflow (thousands of jobs), so it imports only numpy and the compiled
homology backend: no torch, pandas, scipy or scikit-learn. Run it as a command::

    python -m toposcale.topology.persist --out-root results/diagrams/RUN [--only SOURCE/LAYER]
        [--null-root results/nulls/RUN --n-draws K --kinds gaussian permutation --seed S] CLOUDS.npz ...

Each ``CLOUDS.npz`` (from :mod:`toposcale.topology.clouds`, named ``step{step}.npz``) holds every layer of
one checkpoint; the job writes ``{out_root}/{source}/step{step}/{layer}.npz`` for each layer (or just
``--only``). Each diagram file carries, besides H0/H1 and the scale (largest finite H0 death), the
cloud's baselines, its hygiene (``n_distinct``, ``effective_rank``: :func:`toposcale.topology.hygiene.cloud_hygiene`)
and, for weights, the normalised neural persistence of the neuron matrix.

With ``--null-root`` the same job also draws ``K`` null clouds of every requested kind that applies to
the cloud's source (:data:`toposcale.topology.nulls.NULL_KINDS`: gaussian for every source, permutation
for weights, copula for activations), seeded by ``null_seed(seed, run, step, source, layer, kind)`` with ``run`` the name of
``out_root``, computes their diagrams with the same :func:`rips_persistence` call (same ``max_dim`` and
backend) and writes ``{null_root}/{source}/step{step}/{layer}.npz`` (:func:`save_null_diagrams`).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from toposcale.plan.paths import STEP_DIGITS
from toposcale.topology.cloud_io import load_clouds
from toposcale.topology.diagram_io import save_diagrams, save_null_diagrams
from toposcale.topology.distances import CloudError
from toposcale.topology.homology import rips_persistence
from toposcale.topology.hygiene import cloud_hygiene
from toposcale.topology.metrics import BASELINE_COLUMNS, diagram_scale, neural_persistence
from toposcale.topology.nulls import NULL_KINDS, null_clouds, null_seed


def persist_cloud(X: np.ndarray, source: str, baselines: np.ndarray, max_dim: int, backend: str,
                  where: str):
    """Diagrams of one cloud plus the scalar extras stored beside them (baselines, hygiene, neural persistence)."""
    dg = rips_persistence(X, max_dim=max_dim, backend=backend, where=where)
    extra = dict(zip(BASELINE_COLUMNS, (float(b) for b in baselines)))
    extra.update(cloud_hygiene(X))
    extra["neural_persistence"] = float(neural_persistence(X)) if source == "weights" else float("nan")
    return dg, diagram_scale(dg.h0), extra


def persist_nulls(X: np.ndarray, source: str, kinds, n_draws: int, seeds: dict, max_dim: int, backend: str,
                  where: str) -> dict:
    """Diagrams of ``n_draws`` null clouds of ``X`` per kind in ``kinds`` that applies to ``source``.

    Returns kind -> list of ``(Diagrams, scale)``, ready for :func:`save_null_diagrams`; every draw goes
    through the same :func:`rips_persistence` call (``max_dim``, ``backend``) as the real cloud.
    """
    out = {}
    for kind in kinds:
        if source not in NULL_KINDS[kind]:
            continue
        pairs = []
        for i, Y in enumerate(null_clouds(X, kind, n_draws, seeds[kind])):
            dg = rips_persistence(Y, max_dim=max_dim, backend=backend, where=f"{where} {kind} null draw {i}")
            pairs.append((dg, diagram_scale(dg.h0)))
        out[kind] = pairs
    return out


def _step_of(path: Path) -> str:
    m = re.fullmatch(rf"step(\d{{{STEP_DIGITS}}})\.npz", path.name)
    if not m:
        raise ValueError(f"cloud file {path} is not named step{{{STEP_DIGITS} digits}}.npz")
    return m.group(1)


def persist_files(clouds: list, out_root, only: str | None = None, max_dim: int = 1,
                  backend: str = "auto", log=None, null_root=None, n_draws: int = 0,
                  kinds=("gaussian", "permutation", "copula"), seed: int = 0) -> float:
    """Compute and write diagrams for every layer in ``clouds``; return the summed homology seconds.

    With ``null_root`` (and ``n_draws >= 1``), also write each layer's null draws (module docstring);
    the returned seconds then include the draws' homology.
    """
    out_root = Path(out_root)
    unknown = [k for k in kinds if k not in NULL_KINDS]
    if unknown:
        raise ValueError(f"null kinds {unknown} are unknown; use some of {sorted(NULL_KINDS)}")
    with_nulls = null_root is not None and n_draws > 0
    run = out_root.name
    total = 0.0
    for cpath in map(Path, clouds):
        step = _step_of(cpath)
        cloud = load_clouds(cpath, only)  # a corrupt file: InputFileError naming it and the command that rebuilds it
        keys = list(cloud)
        for key in keys:
            source, layer = key.split("/")
            X, base = cloud[key]
            where = f"{out_root.name} {source} step {step} layer {layer} ({cpath})"
            dg, scale, extra = persist_cloud(X, source, base, max_dim, backend, where)
            total += dg.seconds
            save_diagrams(out_root / source / f"step{step}" / f"{layer}.npz", dg, scale, extra)
            if with_nulls:
                seeds = {k: null_seed(seed, run, int(step), source, layer, k) for k in kinds}
                draws = persist_nulls(X, source, kinds, n_draws, seeds, max_dim, backend, where)
                total += sum(d.seconds for pairs in draws.values() for d, _ in pairs)
                save_null_diagrams(Path(null_root) / source / f"step{step}" / f"{layer}.npz", draws,
                                   {k: seeds[k] for k in draws})
        if log:
            log(f"{cpath}: diagrams written ({len(keys)} layers, {n_draws if with_nulls else 0} null draws per kind)")
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m toposcale.topology.persist", description=__doc__.split("\n\n")[0])
    ap.add_argument("clouds", nargs="+", help="clouds files step{step}.npz")
    ap.add_argument("--out-root", required=True, help="results/diagrams/{run}")
    ap.add_argument("--only", default=None, help="SOURCE/LAYER: write only this layer")
    ap.add_argument("--max-dim", type=int, default=1, choices=(0, 1))
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--null-root", default=None, help="results/nulls/{run}: also write null draws there")
    ap.add_argument("--n-draws", type=int, default=0, help="null draws per cloud and kind (config topology.nulls.n_draws)")
    ap.add_argument("--kinds", nargs="+", default=["gaussian", "permutation", "copula"], choices=sorted(NULL_KINDS),
                    help="null kinds (config topology.nulls.kinds)")
    ap.add_argument("--seed", type=int, default=0, help="the config's seed (null_seed's first part)")
    args = ap.parse_args(argv)
    if args.null_root is not None and args.n_draws < 1:
        ap.error("--null-root needs --n-draws >= 1 (config topology.nulls.n_draws)")
    try:
        persist_files(args.clouds, args.out_root, args.only, args.max_dim, args.backend,
                      log=lambda line: print(line, file=sys.stderr, flush=True), null_root=args.null_root,
                      n_draws=args.n_draws, kinds=args.kinds, seed=args.seed)
    except (CloudError, ValueError) as exc:  # InputFileError (a corrupt clouds file) is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
