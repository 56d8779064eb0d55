"""Intermediate checkpoints as data: the lower envelope of loss against compute (Chinchilla's first approach).

Every checkpoint of every fitted run is a point (N, D, loss) with compute ``C = 6 N D`` (``D`` the
tokens seen at that checkpoint, ``N`` non-embedding parameters). The *lower envelope* keeps, in order of
increasing compute, each point whose validation loss is lower than that of every point at smaller or
equal compute (the Pareto frontier of compute and loss, over all runs and checkpoints of one
activation). ``L(C) = E + A C^-alpha`` is fitted to the envelope
(:func:`toposcale.analysis.scaling.fit_compute_law`) and checked on the held-out size exactly like the
final-checkpoint fit: its prediction at the holdout runs' final compute against their observed final
loss, beside the naive prediction (the largest fitted size's own final loss).

Biases, stated because the envelope is not the law of compute-optimal runs:

* **Not annealed.** The default schedule is warmup + cosine decay to 10%: an intermediate checkpoint
  is taken while the learning rate is still high, so its loss lies above what a run whose whole
  budget was that compute would reach. The envelope is therefore biased *upward* at every compute
  except the runs' final (annealed) checkpoints, most at small compute: the fitted curve is steeper
  than the compute-optimal one (alpha overestimated) and E less well determined. A constant learning
  rate with a short cooldown would make checkpoints comparable; this study does not use one.
* **Correlated points.** Consecutive checkpoints of one run share its noise; the envelope's points are
  not independent, so intervals resample whole sizes (every envelope point of a drawn size,
  :func:`~toposcale.analysis.scaling.bootstrap.size_draws`), never single points. The envelope itself is
  kept fixed across resamples (a resample does not recompute which points are on it), which narrows
  the interval slightly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toposcale.analysis.scaling.bootstrap import bootstrap_fit, prediction_interval, size_draws
from toposcale.analysis.scaling.laws import fit_compute_law, law_parameters
from toposcale.plan.decidability import fit_gate


def checkpoint_points(grid: pd.DataFrame, logs: dict) -> pd.DataFrame:
    """One row per checkpoint at step > 0 with a finite val_loss: run, activation, target, N, D, C, loss,
    holdout, final (the run's last such checkpoint). ``grid`` is
    :func:`~toposcale.analysis.scaling.grid_table`; ``logs`` run -> log.csv (step, tokens, val_loss)."""
    rows = []
    for r in grid.itertuples(index=False):
        log = logs.get(r.run)
        if log is None or not {"step", "tokens", "val_loss"} <= set(log.columns):
            continue
        g = log[(log["step"] > 0) & np.isfinite(log["val_loss"]) & (log["tokens"] > 0)].sort_values("step")
        for k, (tokens, loss) in enumerate(zip(g["tokens"], g["val_loss"])):
            rows.append({"run": r.run, "activation": r.activation, "target": r.target, "N": r.N,
                         "D": float(tokens), "C": 6.0 * r.N * float(tokens), "loss": float(loss),
                         "holdout": bool(r.holdout), "final": k == len(g) - 1})
    return pd.DataFrame(rows, columns=["run", "activation", "target", "N", "D", "C", "loss", "holdout", "final"])


def lower_envelope(points: pd.DataFrame) -> pd.DataFrame:
    """The points of ``points`` (columns C, loss) with a lower loss than every point at smaller or equal
    compute, sorted by compute.

    >>> p = pd.DataFrame({"C": [1, 2, 3, 4, 5], "loss": [5.0, 6.0, 4.0, 4.5, 3.0]})
    >>> lower_envelope(p)["C"].tolist()
    [1, 3, 5]
    """
    p = points.sort_values(["C", "loss"], kind="mergesort")
    best = np.minimum.accumulate(p["loss"].to_numpy(float))
    prev = np.concatenate([[np.inf], best[:-1]])
    return p[p["loss"].to_numpy(float) < prev].reset_index(drop=True)


def envelope_fit(grid: pd.DataFrame, logs: dict, n_bootstrap: int = 200, seed: int = 0,
                 delta: float = 1e-3) -> dict:
    """Per activation: the envelope of its fitted runs' checkpoints, the law fitted to it, and its holdout check.

    Returns activation -> dict with ``n_points`` (checkpoints), ``n_envelope``, ``n_sizes`` (sizes with a
    point on the envelope), ``gate`` (:func:`~toposcale.plan.decidability.fit_gate` on those sizes: the
    envelope's verdicts need as many residual degrees of freedom as the final-checkpoint fit's), ``envelope`` (C, loss, run of each envelope point), ``params`` and ``ci``
    (95% cluster-bootstrap intervals over sizes) of ``E + A C^-alpha``, ``holdout`` (per held-out run:
    observed final loss, predicted, 95% prediction interval, relative error %, the naive prediction and
    its error), or ``note`` saying why nothing was fitted.
    """
    pts = checkpoint_points(grid, logs)
    out = {}
    for act, g in pts.groupby("activation", sort=True):
        fitted = g[~g["holdout"]]
        env = lower_envelope(fitted)
        res = {"n_points": int(len(fitted)), "n_envelope": int(len(env)), "n_sizes": int(env["target"].nunique()),
               "envelope": env[["C", "loss", "run"]].to_dict("records"), "holdout": []}
        p = len(law_parameters("compute"))
        # envelope points of one size are one run's correlated checkpoints: residual dof count sizes
        res["gate"] = fit_gate(int(env["target"].nunique()), p, "sizes on the envelope")
        if env["target"].nunique() < p:
            res["note"] = (f"envelope spans {env['target'].nunique()} sizes; the law has {p} parameters: "
                           f"cannot fit")
            out[act] = res
            continue
        try:
            fit = fit_compute_law(env["C"], env["loss"], delta=delta)
        except ValueError as err:
            res["note"] = f"envelope law not fitted: {err}"
            out[act] = res
            continue
        draws = size_draws({"env": env["target"].to_numpy()}, {"env": p}, n_bootstrap, seed)
        boot = bootstrap_fit(fit, resamples=draws["rows"]["env"], seed=seed)
        res["params"], res["ci"] = fit["params"], boot["ci"]
        final = g[g["final"]]
        naive = final[~final["holdout"]].sort_values("N").iloc[-1]["loss"] if (~final["holdout"]).any() else np.nan
        for h in final[final["holdout"]].itertuples(index=False):
            pi = prediction_interval(fit, boot, C=[h.C], seed=seed)
            pred = pi["predicted"][0]
            res["holdout"].append({"run": h.run, "C": h.C, "observed": h.loss, "predicted": pred,
                                   "pi_lo": pi["lo"][0], "pi_hi": pi["hi"][0],
                                   "rel_error_pct": 100.0 * (pred - h.loss) / h.loss,
                                   "naive": float(naive), "naive_error_pct": 100.0 * (naive - h.loss) / h.loss})
        out[act] = res
    return out
