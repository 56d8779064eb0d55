"""Operating characteristics of the dynamics verdict: the detrended correlation of a metric with the
validation loss (``significant_detrended`` of :func:`toposcale.analysis.dynamics.correlate`, the only
tested variant; raw and partial correlations are description).

Each simulated study is one run with one (metric, loss) series at the design's checkpoints (training
fractions ``design.checkpoint_fracs``, step > 0) and ``design.n_surrogates`` surrogates; ``correlate``
itself computes the verdict (BH over a family of one series, so ``q = p``; the study's families of
~1000 series per run need smaller p, which makes every rate here an upper bound for power and FPR).
Series share the loss's shape of trend, a power law in step, ``frac ** -0.4`` (a cubic in log step
follows it), and carry AR(1) noise with lag-1 autocorrelation ``PHI``:

* Planted: the metric's fluctuation around its trend is ``R * w + sqrt(1 - R^2) * e`` with ``w`` the
  loss's own AR(1) fluctuation and ``e`` independent AR(1) noise of the same law, i.e. a population
  correlation ``R`` = 0.5 of the detrended series. No observed detrended rho of the default study is
  recorded (the README gives counts of significant series only), so 0.5, a moderate co-fluctuation, is
  stated as chosen.
* Negative controls: independent metric and loss series that share the trend with AR(1) noise (the raw
  variant rejected 27-98% of these at nominal 5%); independent AR(1) series without a trend
  (autocorrelation 0.8).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from toposcale.analysis.dynamics import correlate
from toposcale.analysis.ar1 import ar1_noise
from toposcale.operating.characteristics import Characteristic, Design, proportion, register

VERDICT = "dynamics detrended correlation"
#: Planted population correlation of the detrended series, and the noise's lag-1 autocorrelation.
R, PHI = 0.5, 0.6
#: Noise sd relative to the loss trend's range (the metric's trend has 5x the loss's range).
NOISE = 0.05



def simulated_metrics(rng, fracs, n_sim: int) -> pd.DataFrame:
    """``n_sim`` runs per scenario in the results/metrics format (``run``, ``step``, ``source``,
    ``layer``, ``val_loss``, metric ``h1_entropy``); the run name starts with the scenario: ``planted``,
    ``trend`` (shared trend, independent noise), ``ar1`` (independent AR(1), no trend)."""
    fracs = np.asarray(fracs, dtype=float)
    steps = fracs * 1e6                    # only log(step) and the order enter the statistic
    trend = fracs ** -0.4
    trend = (trend - trend.min()) / np.ptp(trend)
    n = fracs.size
    w, e = ar1_noise(PHI, (n_sim, n), rng), ar1_noise(PHI, (n_sim, n), rng)
    loss = 2.0 + trend + NOISE * w
    series = {"planted": (loss, 5 * trend + 5 * NOISE * (R * w + np.sqrt(1 - R ** 2) * e)),
              "trend": (loss, 5 * trend + 5 * NOISE * e),
              "ar1": (2.0 + ar1_noise(0.8, (n_sim, n), rng), ar1_noise(0.8, (n_sim, n), rng))}
    frames = []
    for name, (lv, mv) in series.items():
        frames.append(pd.DataFrame({"run": np.repeat([f"{name}-{i:04d}" for i in range(n_sim)], n),
                                    "step": np.tile(steps, n_sim), "source": "weights", "layer": "embed",
                                    "val_loss": lv.ravel(), "h1_entropy": mv.ravel()}))
    return pd.concat(frames, ignore_index=True)


@register("dynamics")
def check(design: Design, n_sim: int, seed: int) -> list[Characteristic]:
    """Power and FPR of ``significant_detrended`` at the design's checkpoints and surrogate count."""
    rng = np.random.default_rng(seed)
    df = simulated_metrics(rng, design.checkpoint_fracs, int(n_sim))
    with warnings.catch_warnings():          # the simulated tables have no null columns, by design
        warnings.simplefilter("ignore", UserWarning)
        out = correlate(df, metric_cols=["h1_entropy"], n_bootstrap=0, seed=seed, n_surrogates=design.n_surrogates)
    sig = out.set_index("run")["significant_detrended"].fillna(False).astype(bool)
    rate = {name: proportion(int(sig[sig.index.str.startswith(name + "-")].sum()), int(n_sim))
            for name in ("planted", "trend", "ar1")}
    planted = (f"detrended rho {R} with the loss (metric fluctuation = {R} x the loss's AR({PHI}) fluctuation + "
               f"independent AR({PHI}); chosen: no observed detrended rho is recorded)")
    controls = {"trend": f"shared power-law trend, independent AR({PHI}) noise", "ar1": "independent AR(0.8), no trend"}
    where = f"{design.describe()}; {len(design.checkpoint_fracs)} checkpoints, B = {design.n_surrogates}"
    return [Characteristic(VERDICT, "dynamics", where, planted, *rate["planted"], name, *rate[key], int(n_sim),
                           note="one series per run (q = p); BH over a run's ~1000 series needs smaller p")
            for key, name in controls.items()]
