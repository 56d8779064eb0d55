"""The configured change-point test (config ``transitions.method``): one entry point, :func:`change_points`,
for the ramp scan (:mod:`toposcale.analysis.changepoint`), the rate rebound
(:mod:`toposcale.analysis.rebound`) and their Bonferroni combination ``ramp+rebound`` (the study's
default): each test at half the level, ``p = 2 x`` the smaller p, the change points of both. A series has
a change point when it makes a sharp move against a smooth curve (ramp) or moves again after a stall or a
turn (rebound); the combination's false-positive rate is at most the sum of the two tests' at half the
level (README "Change-point test" gives both tests' measured rates).
"""

from __future__ import annotations

import numpy as np

from toposcale.analysis.changepoint import change_points_batch
from toposcale.analysis.lr_schedule import ANNEAL_MAX_SHARE
from toposcale.analysis.rebound import REBOUND_ALLOWANCE, RATE_WINDOW, rebound_batch

#: The tests :func:`change_points` dispatches to (config ``transitions.method``).
METHODS = ("ramp", "rebound", "ramp+rebound")
COMBINED_METHOD = "ramp scan + rate rebound, Bonferroni (each at half the level, p = 2 x the smaller)"


def _rebound(Y, x, *, two_sided, window, allowance, noise, anneal, sigma_quantile, anneal_max_share,
             **kwargs) -> list[dict]:
    keep = {k: v for k, v in kwargs.items() if k in ("n_null", "significance", "max_change_points", "null_df",
                                                     "widths", "min_plateau", "seed")}
    return rebound_batch(Y, x, window=RATE_WINDOW if window is None else window,
                         allowance=REBOUND_ALLOWANCE if allowance is None else allowance, two_sided=two_sided,
                         noise=noise, anneal=anneal, sigma_quantile=sigma_quantile,
                         anneal_max_share=anneal_max_share, **keep)


def _combine(ramp: dict, rebound: dict, max_change_points: int) -> dict:
    """One series' ``ramp+rebound`` result from its two tests, each run at half the level: ``p_value`` twice
    the smaller p (Bonferroni, capped at 1; NaN where neither test can run; ``statistic``, ``phi`` and
    ``sigma`` from that test), and the
    change points of both with their p-values doubled, smallest p first (ties: the ramp's), a rebound point
    within one checkpoint of one already taken dropped, at most ``max_change_points``."""
    pr, pb = (np.inf if np.isnan(r["p_value"]) else r["p_value"] for r in (ramp, rebound))
    first = rebound if pb < pr else ramp                  # a test too short for the series has p NaN
    out = dict(first, p_value=float(np.minimum(1.0, 2.0 * first["p_value"])), method=COMBINED_METHOD,
               ramp_starts=list(ramp["ramp_starts"]), ramp_widths=list(ramp["ramp_widths"]),
               change_points=[], change_point_p_values=[], change_point_statistics=[])
    found = [(p, 0, c, t) for c, p, t in zip(ramp["change_points"], ramp["change_point_p_values"],
                                              ramp["change_point_statistics"])]
    found += [(p, 1, c, t) for c, p, t in zip(rebound["change_points"], rebound["change_point_p_values"],
                                               rebound["change_point_statistics"])]
    for p, _, c, t in sorted(found, key=lambda f: (f[0], f[1])):
        if len(out["change_points"]) >= max_change_points or any(abs(c - o) <= 1 for o in out["change_points"]):
            continue
        out["change_points"].append(int(c))
        out["change_point_p_values"].append(min(1.0, 2.0 * float(p)))
        out["change_point_statistics"].append(float(t))
    return out


def change_points(Y, x, method: str = "ramp", *, two_sided: bool = False, window: int | None = None,
                  allowance: float | None = None, noise: str = "spline", anneal=None, sigma_quantile=None,
                  anneal_max_share=ANNEAL_MAX_SHARE, **kwargs) -> list[dict]:
    """The configured test: ``'ramp'`` :func:`change_points_batch` (``two_sided``, ``window``, ``allowance``,
    ``noise``, ``sigma_quantile`` and ``anneal_max_share`` ignored: the ramp scan is already two-sided), ``'rebound'``
    :func:`toposcale.analysis.rebound.rebound_batch`; ``'ramp+rebound'`` both, each at half the level
    (``significance``), combined by Bonferroni (:func:`_combine`): a series has a change point when it makes
    a sharp move against a smooth curve (ramp) or moves again after a stall or a turn (rebound), and its
    false-positive rate is at most the sum of the two tests' at half the level. ``kwargs`` as there."""
    reb = dict(two_sided=two_sided, window=window, allowance=allowance, noise=noise, anneal=anneal,
               sigma_quantile=sigma_quantile, anneal_max_share=anneal_max_share)
    if method == "ramp":
        return change_points_batch(Y, x, anneal=anneal, **kwargs)
    if method == "rebound":
        return _rebound(Y, x, **reb, **kwargs)
    if method == "ramp+rebound":
        half = dict(kwargs, significance=float(kwargs.get("significance", 0.05)) / 2.0)
        mcp = int(kwargs.get("max_change_points", 3))
        ramp = change_points_batch(Y, x, anneal=anneal, **half)
        return [_combine(a, b, mcp) for a, b in zip(ramp, _rebound(Y, x, **reb, **half))]
    raise ValueError(f"transitions.method={method!r}; use one of {METHODS}")
