"""Persistence cost of the copula null: one run's clouds persisted with K null draws of
(gaussian, permutation) and of (gaussian, permutation, copula), in-process, one BLAS thread, best of 2.

    .venv/bin/python benchmarks/null_cost.py results/clouds/RUN [K]

Prints the wall time and the summed homology seconds of each and the increase the copula null adds
(issue 22: the copula null applies to activation clouds only, so the increase is K x the activation
clouds' homology over the whole stage's).
"""
import glob
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from toposcale.topology.persist import persist_files  # noqa: E402


def main() -> None:
    run = sys.argv[1]
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    clouds = sorted(glob.glob(f"{run}/step*.npz"))
    if not clouds:
        raise SystemExit(f"no step*.npz clouds in {run}")
    res = {}
    for label, kinds in (("gaussian+permutation", ("gaussian", "permutation")),
                         ("gaussian+permutation+copula", ("gaussian", "permutation", "copula"))):
        best = None
        for _ in range(2):
            tmp = tempfile.mkdtemp()
            t = time.perf_counter()
            hom = persist_files(clouds, f"{tmp}/d/{Path(run).name}", null_root=f"{tmp}/n", n_draws=k, kinds=kinds)
            wall = time.perf_counter() - t
            shutil.rmtree(tmp)
            best = (wall, hom) if best is None or wall < best[0] else best
        res[label] = best
        print(f"{label}: wall {best[0]:.2f} s, homology {best[1]:.2f} s", flush=True)
    a, b = res["gaussian+permutation"], res["gaussian+permutation+copula"]
    print(f"copula adds {100 * (b[0] / a[0] - 1):.0f}% wall, {100 * (b[1] / a[1] - 1):.0f}% homology "
          f"({len(clouds)} checkpoint files, K={k})")


if __name__ == "__main__":
    main()
