"""Calibration of the Bobrowski-Skraba universal null on clouds shaped like this project's, and its power.

For each setting it draws ``--draws`` Gaussian null clouds, computes their Vietoris-Rips H1 with
:func:`toposcale.topology.homology.rips_persistence`, and pools the normalised statistic ``ell`` of every bar
(:func:`toposcale.topology.significance.bar_ell`, ``A = 1``, Rips). Under the law ``ell ~ LGumbel``, so it
prints per setting:

* ``bars``: pooled H1 bars; ``KS``: Kolmogorov-Smirnov distance between the pooled ``ell`` and LGumbel;
* ``sd(ell)``: sample sd of pooled ``ell`` (LGumbel: pi/sqrt(6) = 1.283); ``A_fit`` = 1.283 / sd of the
  diagram-centred ``log log pi``, the ``A`` that would match LGumbel's spread;
* ``q95``: empirical 95th percentile of pooled ``ell`` (LGumbel: log(-log 0.05) = 1.097; a larger value is
  the threshold that would give a 5 % per-bar false-positive rate on these clouds);
* ``FPR bar``: fraction of bars with p < 0.05 (calibrated: 0.05); ``FPR bar .01``: with p < 0.01;
* ``FPR diag``: fraction of diagrams with ``n_signal_bars > 0`` (BH at 0.05; under the complete null BH
  controls this at <= 0.05).

Settings: the paper's (2-d and 3-d, uniform and Gaussian); activation-like clouds (n = 48, 128, 256 points
in d = 16, 32, 50 dims, covariance eigenvalues ``k^-1``, i.e. a decaying PCA spectrum); weight-like clouds
(n = 4 d rows in d = 32, 64, i.i.d. entries). Power: a circle of radius 1 in a random 2-plane of R^50 with
isotropic Gaussian noise of sd ``sigma`` per coordinate (n = 128): the fraction of clouds whose most
persistent bar (by death/birth) has BH q <= 0.05, for several ``sigma``.

Usage::

    PYTHONPATH=workflow .venv/bin/python benchmarks/bar_significance.py [--draws 30] [--seed 0]

The numbers quoted in :mod:`toposcale.topology.significance` come from ``--draws 200 --seed 0`` (about 1 min
on one core).
"""

from __future__ import annotations

import argparse
import os
import time

# One BLAS thread, as in a workflow job; override by exporting the variables.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from toposcale.stats import bh_adjust  # noqa: E402
from toposcale.topology.homology import rips_persistence  # noqa: E402
from toposcale.topology.significance import bar_ell, lgumbel_sf, n_signal_bars  # noqa: E402

LGUMBEL_SD = np.pi / np.sqrt(6)


def activation_like(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian cloud with covariance eigenvalues 1/k, k = 1..d (a decaying PCA spectrum), random rotation."""
    scales = 1.0 / np.sqrt(np.arange(1, d + 1))
    rot, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (rng.standard_normal((n, d)) * scales) @ rot.T


def settings():
    """(group, label, sampler(rng)) for every null setting."""
    out = [
        ("paper", "uniform 2-d n=256", lambda r: r.uniform(size=(256, 2))),
        ("paper", "gauss 2-d n=256", lambda r: r.standard_normal((256, 2))),
        ("paper", "uniform 3-d n=256", lambda r: r.uniform(size=(256, 3))),
        ("paper", "gauss 3-d n=256", lambda r: r.standard_normal((256, 3))),
    ]
    for d in (16, 32, 50):
        for n in (48, 128, 256):
            out.append(("activation", f"n={n} d={d}", lambda r, n=n, d=d: activation_like(n, d, r)))
    for d in (32, 64):
        out.append(("weights", f"n={4 * d} d={d}", lambda r, d=d: r.standard_normal((4 * d, d)) / np.sqrt(d)))
    return out


def calibrate(sampler, draws: int, rng: np.random.Generator) -> dict:
    ells, centred, any_signal, n_diag = [], [], 0, 0
    for _ in range(draws):
        h1 = rips_persistence(sampler(rng)).h1
        ell = bar_ell(h1)
        ell = ell[np.isfinite(ell)]
        if ell.size == 0:
            continue
        n_diag += 1
        ells.append(ell)
        centred.append(ell - ell.mean())  # = log log pi - its diagram mean (A = 1)
        any_signal += n_signal_bars(h1) > 0
    ell = np.concatenate(ells)
    p = lgumbel_sf(ell)
    return {
        "bars": ell.size,
        "bars_per_diag": ell.size / max(n_diag, 1),
        "ks": stats.kstest(ell, stats.gumbel_l.cdf).statistic,
        "sd": ell.std(ddof=1),
        "q95": float(np.quantile(ell, 0.95)),
        "A_fit": LGUMBEL_SD / np.concatenate(centred).std(ddof=1),
        "fpr05": float((p < 0.05).mean()),
        "fpr01": float((p < 0.01).mean()),
        "fpr_diag": any_signal / max(n_diag, 1),
    }


def circle(n: int, d: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    theta = rng.uniform(0, 2 * np.pi, n)
    frame, _ = np.linalg.qr(rng.standard_normal((d, 2)))
    return np.column_stack([np.cos(theta), np.sin(theta)]) @ frame.T + sigma * rng.standard_normal((n, d))


def power(sigma: float, draws: int, rng: np.random.Generator, n: int = 128, d: int = 50) -> dict:
    hits, top_p, signal = 0, [], []
    for _ in range(draws):
        h1 = rips_persistence(circle(n, d, sigma, rng)).h1
        ell = bar_ell(h1)
        if not np.isfinite(ell).any():
            top_p.append(np.nan)
            signal.append(0)
            continue
        q = bh_adjust(lgumbel_sf(ell))
        top = int(np.nanargmax(ell))
        hits += q[top] <= 0.05
        top_p.append(lgumbel_sf(ell[top]))
        signal.append(n_signal_bars(h1))
    return {"power": hits / draws, "median_top_p": float(np.nanmedian(top_p)), "mean_signal": float(np.mean(signal))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=30, help="null clouds per setting")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()

    print(f"## Calibration of ell ~ LGumbel (A = 1, Rips), {args.draws} null clouds per setting\n")
    print("| group | cloud | bars | bars/diag | KS | sd(ell) (1.283) | A_fit | q95 (1.097) | FPR bar p<.05 "
          "| FPR bar p<.01 | FPR diag (BH>0) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for group, label, sampler in settings():
        r = calibrate(sampler, args.draws, rng)
        print(f"| {group} | {label} | {r['bars']} | {r['bars_per_diag']:.1f} | {r['ks']:.3f} | {r['sd']:.3f} "
              f"| {r['A_fit']:.2f} | {r['q95']:.3f} | {r['fpr05']:.3f} | {r['fpr01']:.4f} | {r['fpr_diag']:.2f} |",
              flush=True)

    print("\n## Power: circle of radius 1 in R^50 + N(0, sigma^2) per coordinate, n = 128\n")
    print("| sigma | power (top bar q<=.05) | median p of top bar | mean n_signal_bars |")
    print("|---|---|---|---|")
    for sigma in (0.02, 0.05, 0.1, 0.15):
        r = power(sigma, max(args.draws // 3, 5), rng)
        print(f"| {sigma} | {r['power']:.2f} | {r['median_top_p']:.2g} | {r['mean_signal']:.2f} |", flush=True)
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
