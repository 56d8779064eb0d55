"""Per-layer persistence jobs: point clouds in, one diagram file per (source, layer, step) out.

This is the hot path of the workflow (thousands of jobs), so it imports only numpy and the compiled
homology backend: no torch, pandas, scipy or scikit-learn. Run it as a command::

    python -m toposcale.topology.persist --out-root results/diagrams/RUN [--only SOURCE/LAYER] CLOUDS.npz ...

Each ``CLOUDS.npz`` (from :mod:`toposcale.topology.clouds`, named ``step{step}.npz``) holds every layer of
one checkpoint; the job writes ``{out_root}/{source}/step{step}/{layer}.npz`` for each layer (or just
``--only``). Each diagram file carries, besides H0/H1 and the scale (largest finite H0 death), the
cloud's baselines and, for weights, the normalised neural persistence of the neuron matrix.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from toposcale.plan.paths import STEP_DIGITS
from toposcale.topology.diagram_io import save_diagrams
from toposcale.topology.distances import CloudError
from toposcale.topology.homology import rips_persistence
from toposcale.topology.metrics import BASELINE_COLUMNS, diagram_scale, neural_persistence


def persist_cloud(X: np.ndarray, source: str, baselines: np.ndarray, max_dim: int, backend: str,
                  where: str):
    """Diagrams of one cloud plus the scalar extras stored beside them."""
    dg = rips_persistence(X, max_dim=max_dim, backend=backend, where=where)
    extra = dict(zip(BASELINE_COLUMNS, (float(b) for b in baselines)))
    extra["neural_persistence"] = float(neural_persistence(X)) if source == "weights" else float("nan")
    return dg, diagram_scale(dg.h0), extra


def _step_of(path: Path) -> str:
    m = re.fullmatch(rf"step(\d{{{STEP_DIGITS}}})\.npz", path.name)
    if not m:
        raise ValueError(f"cloud file {path} is not named step{{{STEP_DIGITS} digits}}.npz")
    return m.group(1)


def persist_files(clouds: list, out_root, only: str | None = None, max_dim: int = 1,
                  backend: str = "auto", log=None) -> float:
    """Compute and write diagrams for every layer in ``clouds``; return the summed homology seconds."""
    out_root = Path(out_root)
    total = 0.0
    for cpath in map(Path, clouds):
        step = _step_of(cpath)
        try:
            npz = np.load(cpath, allow_pickle=False)
        except Exception as exc:
            raise CloudError(f"clouds file {cpath} is unreadable ({exc}); delete it and rerun snakemake") from exc
        with npz:
            keys = [k for k in npz.files if not k.endswith("/baselines")]
            if only is not None:
                if only not in keys:
                    raise CloudError(f"clouds file {cpath} has no layer {only!r} (has {keys})")
                keys = [only]
            for key in keys:
                source, layer = key.split("/")
                where = f"{out_root.name} {source} step {step} layer {layer} ({cpath})"
                dg, scale, extra = persist_cloud(npz[key], source, npz[key + "/baselines"], max_dim, backend, where)
                total += dg.seconds
                save_diagrams(out_root / source / f"step{step}" / f"{layer}.npz", dg, scale, extra)
        if log:
            log(f"{cpath}: diagrams written ({len(keys)} layers)")
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m toposcale.topology.persist", description=__doc__.split("\n\n")[0])
    ap.add_argument("clouds", nargs="+", help="clouds files step{step}.npz")
    ap.add_argument("--out-root", required=True, help="results/diagrams/{run}")
    ap.add_argument("--only", default=None, help="SOURCE/LAYER: write only this layer")
    ap.add_argument("--max-dim", type=int, default=1, choices=(0, 1))
    ap.add_argument("--backend", default="auto")
    args = ap.parse_args(argv)
    try:
        persist_files(args.clouds, args.out_root, args.only, args.max_dim, args.backend,
                      log=lambda line: print(line, file=sys.stderr, flush=True))
    except (CloudError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
