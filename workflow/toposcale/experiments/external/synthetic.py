"""Synthetic logs in the beta-trajectory schema with known, planted effects (:func:`make_synthetic_log`),
and the demo log written by ``python -m toposcale.experiments.external make-example`` (:func:`write_demo_log`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import expit

from toposcale.experiments.external.schema import BETA_TRAJECTORY_COLUMNS, FIXPOINT, LADDER_RATIO
from toposcale.io import write_csv_atomic

#: Arguments of :func:`make_synthetic_log` for a log with none of the claimed effects: no ladder, no spike,
#: a random final beta and grokking windows at random positions.
NULL_EFFECTS = dict(ladder_ratio=None, spike_factor=1.0, final_beta=None, window="random")


def _steps(n_rows):
    steps = np.unique(np.round(np.geomspace(100, 100_000, max(n_rows - 1, 2))).astype(int))
    return np.concatenate([[0], steps])


def _plateau_levels(rng, n_plateaus, ladder_ratio, final_beta):
    if ladder_ratio is None:
        levels = np.exp(rng.uniform(math.log(1.0), math.log(5.0), n_plateaus))
        if final_beta is not None:
            levels[-1] = final_beta
        return levels
    final = FIXPOINT if final_beta is None else final_beta
    return final * ladder_ratio ** (np.arange(n_plateaus) - (n_plateaus - 1))


def make_synthetic_log(*, n_runs: int = 4, n_rows: int = 90, n_plateaus: int = 6,
                       ladder_ratio: float | None = LADDER_RATIO, final_beta: float | None = FIXPOINT,
                       final_beta_sd: float = 0.0, spike_factor: float = 1.6, beta_noise: float = 0.02,
                       capability_beta: float = 6.0, capability_noise: float = 0.015,
                       loss_drop: float = 0.5, window: str = "transition", seed: int = 0):
    """A log in the beta-trajectory schema with known, planted effects (labelled synthetic).

    Per run: ``n_rows`` rows at step 0 and log-spaced steps 100 .. 100 000. Capability is
    ``0.02 + 0.88 * sigma(capability_beta * (log10 step - x0))`` plus Gaussian noise
    (sd ``capability_noise``), with ``x0 = log10(2000) + 0.25 * run``; loss is
    ``0.4 + 4.5 (1 + step/200)^-0.35`` minus a linear ramp (in log step) of height ``loss_drop`` from
    ``x0 - w`` to ``x0 + w``, ``w = 1 / capability_beta``, plus noise (sd 0.01): an abrupt change of
    slope, the kind of transition the change-point detector is built for. The grokking window is
    the rows with ``|log10 step - x0| <= w`` (``window='transition'``) or a window of
    the same length at a uniformly random position (``window='random'``). Beta is piecewise constant on
    ``n_plateaus`` equal-length plateaus (in row order), with levels ``f * ladder_ratio**(k - K + 1)``
    where ``f = final_beta`` (+ Gaussian run-to-run noise of sd ``final_beta_sd``), or i.i.d.
    log-uniform on [1, 5] when ``ladder_ratio`` is None (the last level set to ``f`` if given); each
    row is multiplied by ``exp(N(0, beta_noise))`` and rows inside the window by ``spike_factor``.
    ``beta_uncertainty = beta_noise * beta``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BETA_TRAJECTORY_COLUMNS`; ``df.attrs['planted']`` holds the planted values.
    """
    if window not in ("transition", "random"):
        raise ValueError(f"window must be 'transition' or 'random', got {window!r}")
    rng = np.random.default_rng(seed)
    steps = _steps(n_rows)
    n = steps.size
    lx = np.log10(np.maximum(steps, 1))
    bounds = np.linspace(0, n, n_plateaus + 1).round().astype(int)
    frames, planted = [], {"ladder_ratio": ladder_ratio, "spike_factor": spike_factor,
                           "capability_beta": capability_beta, "runs": {}}
    for r in range(n_runs):
        x0 = math.log10(2000) + 0.25 * r
        s = expit(capability_beta * (lx - x0))
        cap = np.clip(0.02 + 0.88 * s + rng.normal(0, capability_noise, n), 0, 1)
        w = 1.0 / capability_beta
        ramp = np.clip((lx - (x0 - w)) / (2 * w), 0, 1)
        loss = 0.4 + 4.5 * (1 + steps / 200) ** -0.35 - loss_drop * ramp + rng.normal(0, 0.01, n)
        flags = (np.abs(lx - x0) <= w) & (steps > 0)
        if window == "random":
            width = int(flags.sum())
            start = int(rng.integers(1, n - width + 1))
            flags = np.zeros(n, bool)
            flags[start:start + width] = True
        f = None if final_beta is None else final_beta + rng.normal(0, final_beta_sd)
        levels = _plateau_levels(rng, n_plateaus, ladder_ratio, f)
        beta = np.repeat(levels, np.diff(bounds)) * np.exp(rng.normal(0, beta_noise, n))
        beta = np.where(flags, beta * spike_factor, beta)
        size = float(np.round(125 * 4 ** r))
        plateau_of_row = np.repeat(np.arange(n_plateaus), np.diff(bounds))
        frames.append(pd.DataFrame({
            "run_id": f"syn_{r:03d}", "model_family": "synthetic", "architecture": "transformer",
            "n_params_millions": size, "dataset": "synthetic", "training_step": steps,
            "loss": np.round(loss, 5), "capability_score": np.round(cap, 5), "R_proxy": np.round(s, 5),
            "Theta_proxy": 0.8, "beta_estimate": np.round(beta, 5),
            "beta_uncertainty": np.round(beta_noise * beta, 5), "field_type": "synthetic",
            "grokking_detected": flags,
            "notes": [f"synthetic (toposcale seed {seed}); plateau {k}" for k in plateau_of_row]}))
        planted["runs"][f"syn_{r:03d}"] = {"x0": x0, "levels": levels.tolist(),
                                          "window_steps": steps[flags].tolist()}
    df = pd.concat(frames, ignore_index=True)[BETA_TRAJECTORY_COLUMNS]
    df.attrs["planted"] = planted
    return df


def write_demo_log(path, seed: int = 0, *, null: bool = False):
    """Write the synthetic demo log (:func:`make_synthetic_log` with its defaults and ``seed``) to the CSV
    ``path`` atomically, without an index column.

    Parameters
    ----------
    path : str or Path
        The CSV to write.
    seed : int
        Seed of :func:`make_synthetic_log`; the same seed writes the same bytes.
    null : bool
        Plant none of the claimed effects (:data:`NULL_EFFECTS`: no ladder, no spike, random final beta,
        grokking windows at random positions).

    Returns
    -------
    pandas.DataFrame
        The log that was written.
    """
    df = make_synthetic_log(seed=seed, **(NULL_EFFECTS if null else {}))
    write_csv_atomic(df, path)
    return df
