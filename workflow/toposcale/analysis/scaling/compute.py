"""Compute-optimal allocation of the two-variable law and the compute a law needs to reach a loss."""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from toposcale.stats import percentile_ci
from toposcale.analysis.scaling.laws import predict_params


def compute_optimal(params: dict, C) -> dict:
    """Compute-optimal allocation for ``L = E + A/N^alpha + B/D^beta`` under ``C = 6 N D``.

    ``G = (alpha A / (beta B))**(1 / (alpha + beta))``, ``N* = G (C/6)**(beta / (alpha + beta))``,
    ``D* = (C/6)**(alpha / (alpha + beta)) / G``. Returns ``N_opt``, ``D_opt``,
    ``tokens_per_param`` (D*/N*), ``loss`` (the law at N*, D*) and the exponents ``a`` =
    beta/(alpha+beta) (N* ~ C^a) and ``b`` = alpha/(alpha+beta) (D* ~ C^b). Needs positive exponents.
    """
    al, be, A, B = params["alpha"], params["beta"], params["A"], params["B"]
    if not (al > 0 and be > 0):
        raise ValueError(f"compute-optimal allocation needs alpha > 0 and beta > 0, got "
                         f"alpha={al:.4g}, beta={be:.4g}; the fit has no interior optimum")
    C = np.asarray(C, float)
    G = (al * A / (be * B)) ** (1.0 / (al + be))
    N = G * (C / 6.0) ** (be / (al + be))
    D = (C / 6.0) ** (al / (al + be)) / G
    L = predict_params("chinchilla", params, N=N, D=D)
    return {"N_opt": N, "D_opt": D, "tokens_per_param": D / N, "loss": L,
            "a": be / (al + be), "b": al / (al + be)}


def loss_at_compute(law: str, params: dict, C) -> np.ndarray:
    """Loss reached with compute ``C``: the law itself ('compute', 'power') or its compute-optimal
    frontier ('chinchilla')."""
    if law == "chinchilla":
        return compute_optimal(params, C)["loss"]
    return predict_params(law, params, C=C)


def compute_for_loss(law: str, params: dict, loss: float) -> float:
    """Compute (FLOPs) at which the law (or its compute-optimal frontier) reaches ``loss``.

    'compute': ``C = (A / (L - E))**(1/alpha)``; 'power': ``C = (A / L)**(1/alpha)``;
    'chinchilla': root of ``L*(C) = loss`` on the compute-optimal frontier. Returns ``inf`` when
    the loss is at or below the reachable floor (``E``) or the law does not decrease.
    """
    E = params.get("E", 0.0) if law != "power" else 0.0
    if not loss > E or not params["alpha"] > 0 or (law == "chinchilla" and not params["beta"] > 0):
        return math.inf
    if law in ("compute", "power"):
        return float((params["A"] / (loss - E)) ** (1.0 / params["alpha"]))

    def gap(logc):
        return math.log(float(loss_at_compute(law, params, math.exp(logc)))) - math.log(loss)

    lo, hi = 0.0, 60.0
    while gap(hi) > 0 and hi < 700:
        hi += 60.0
    if gap(hi) > 0:
        return math.inf
    if gap(lo) < 0:
        return 1.0
    return float(math.exp(brentq(gap, lo, hi, xtol=1e-10)))



def compute_optimal_summary(params: dict, boot: dict) -> dict:
    """Exponents ``a = beta/(alpha+beta)`` (N* ~ C^a) and ``b = alpha/(alpha+beta)`` (D* ~ C^b) of the
    fit ``params`` with percentile intervals over the bootstrap draws ``boot`` (NaN without an optimum)."""
    s = boot["samples"]
    al, be = s["alpha"], s["beta"]
    with np.errstate(invalid="ignore", divide="ignore"):
        a_s, b_s = be / (al + be), al / (al + be)
    pt = compute_optimal(params, 1.0) if params["alpha"] > 0 and params["beta"] > 0 else None
    return {"a": pt["a"] if pt else float("nan"), "a_ci": percentile_ci(a_s),
            "b": pt["b"] if pt else float("nan"), "b_ci": percentile_ci(b_s),
            "definition": "N* ~ C^a, D* ~ C^b with a = beta/(alpha+beta), b = alpha/(alpha+beta)"}

