"""Statistics shared by the analyses: multiple testing, ranks, rank correlations and ROC AUC, log-log fits,
percentile intervals, bootstrap resampling. The one home of each: call these, never a copy.

numpy and scipy only. Every function ignores nothing silently: NaN inputs are either rejected with a
ValueError or, where documented, propagated as NaN results.
"""

from __future__ import annotations

import math
from itertools import permutations

import numpy as np
from scipy import stats


# ----------------------------------------------------------------------------- multiple testing

def bh_adjust(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values).

    For the ``m`` finite p-values sorted ascending, ``q_(i) = min_{k >= i} min(1, m * p_(k) / k)``;
    rejecting every hypothesis with ``q <= alpha`` controls the false discovery rate at ``alpha`` for
    independent or positively dependent tests. NaN p-values are left out of ``m`` and get NaN.

    Parameters
    ----------
    p : array_like
        p-values in [0, 1] (any shape); NaN allowed.

    Returns
    -------
    numpy.ndarray
        q-values, same shape as ``p``.
    """
    p = np.asarray(p, dtype=float)
    finite = np.isfinite(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    q = np.full(p.shape, np.nan)
    vals = p[finite]
    m = len(vals)
    if m == 0:
        return q
    order = np.argsort(vals, kind="mergesort")
    scaled = vals[order] * m / np.arange(1, m + 1)
    adj = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    out = np.empty(m)
    out[order] = adj
    q[finite] = out
    return q


def bh_reject(p, alpha: float = 0.05) -> np.ndarray:
    """Boolean mask of hypotheses rejected by Benjamini-Hochberg at FDR ``alpha`` (NaN p: False)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha} must lie in (0, 1)")
    q = bh_adjust(p)
    return np.where(np.isfinite(q), q <= alpha, False)


# ----------------------------------------------------------------------------- rank correlations

def ranks(x) -> np.ndarray:
    """Ranks 1..n of ``x`` along its last axis, ties sharing their average rank (``scipy.stats.rankdata``).

    Examples
    --------
    >>> ranks([10, 30, 20, 20]).tolist()
    [1.0, 4.0, 2.5, 2.5]
    """
    return stats.rankdata(np.asarray(x, dtype=float), axis=-1)


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of equal length, got shapes {x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite; drop NaN pairs before correlating")
    return x, y


def t_pvalue(r: float, df: int) -> float:
    """Two-sided p-value of a correlation ``r`` from ``t = r sqrt(df / (1 - r^2))`` on ``df`` degrees."""
    if not np.isfinite(r) or df < 1:
        return float("nan")
    if abs(r) >= 1.0:
        return 0.0
    t = r * math.sqrt(df / (1.0 - r * r))
    return float(2.0 * stats.t.sf(abs(t), df))


def spearman(x, y) -> tuple[float, float]:
    """Spearman rank correlation and its two-sided p-value.

    ``rho`` is the Pearson correlation of the ranks (ties get their average rank). For ``n <= 8`` the
    p-value is exact: the share of all ``n!`` orderings of y whose |rho| reaches the observed one (the
    t approximation claims p = 0 for a perfect rank correlation of 3 points, whose exact p is 1/3).
    For ``n > 8`` it is **approximate**, not exact: ``t = rho sqrt((n - 2) / (1 - rho^2))`` on ``n - 2``
    degrees of freedom (as scipy), which is 0 for a perfect rank correlation whatever ``n``. A caller
    that states a test is exact (e.g. :func:`toposcale.plan.decidability.min_spearman_p`'s floor) holds
    only up to 8 values.

    Examples
    --------
    >>> spearman([1, 2, 3], [10, 20, 30])
    (1.0, 0.3333333333333333)

    Returns
    -------
    (float, float)
        ``(rho, p)``; both NaN when ``n < 3`` or either variable is constant.
    """
    x, y = _pair(x, y)
    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    rx, ry = ranks(x), ranks(y)
    rho = float(np.corrcoef(rx, ry)[0, 1])
    if n <= 8:
        return rho, _exact_spearman_p(rx, ry, rho)
    return rho, t_pvalue(rho, n - 2)


def _exact_spearman_p(rx: np.ndarray, ry: np.ndarray, rho: float) -> float:
    """Two-sided permutation p-value of a rank correlation over all orderings of ``ry``."""
    perms = np.array(list(permutations(ry)))
    xc = rx - rx.mean()
    pc = perms - perms.mean(axis=1, keepdims=True)
    r = (pc @ xc) / (np.sqrt((pc ** 2).sum(axis=1)) * np.sqrt((xc ** 2).sum()))
    return float(np.mean(np.abs(r) >= abs(rho) - 1e-12))


def _residualise(a: np.ndarray, z: np.ndarray) -> np.ndarray:
    design = np.column_stack([np.ones(len(a)), z])
    coef, *_ = np.linalg.lstsq(design, a, rcond=None)
    return a - design @ coef


def partial_spearman(x, y, z) -> tuple[float, float]:
    """Spearman correlation of ``x`` and ``y`` controlling for ``z``, with its two-sided p-value.

    All variables are replaced by their ranks; the ranks of ``x`` and of ``y`` are each regressed (OLS,
    with intercept) on the ranks of the ``k`` columns of ``z``, and the result is the Pearson correlation
    of the two residual vectors. The p-value uses the t distribution with ``df = n - 2 - k`` (``n - 3``
    for one control variable).

    Parameters
    ----------
    x, y : array_like, shape (n,)
    z : array_like, shape (n,) or (n, k)
        Control variable(s), e.g. log training step to remove the shared trend with time.

    Returns
    -------
    (float, float)
        ``(rho, p)``; NaN when ``df < 1`` or a residual is identically zero (a variable is a monotone
        function of ``z``).
    """
    x, y = _pair(x, y)
    z = np.asarray(z, dtype=float)
    if z.ndim == 1:
        z = z[:, None]
    if z.ndim != 2 or z.shape[0] != len(x):
        raise ValueError(f"z must have shape (n,) or (n, k) with n = {len(x)}, got {np.shape(z)}")
    if not np.all(np.isfinite(z)):
        raise ValueError("z must be finite; drop NaN rows before correlating")
    df = len(x) - 2 - z.shape[1]
    if df < 1:
        return float("nan"), float("nan")
    rz = np.column_stack([ranks(col) for col in z.T])
    ex = _residualise(ranks(x), rz)
    ey = _residualise(ranks(y), rz)
    scale = float(len(x))
    if np.sqrt(ex @ ex) <= 1e-9 * scale or np.sqrt(ey @ ey) <= 1e-9 * scale:
        return float("nan"), float("nan")
    r = float(np.clip(ex @ ey / np.sqrt((ex @ ex) * (ey @ ey)), -1.0, 1.0))
    return r, t_pvalue(r, df)


def rowwise_spearman(x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
    """Spearman (or, with ``z``, partial Spearman given one control) for each row of (B, n) arrays.

    Vectorised companion of :func:`spearman` / :func:`partial_spearman` for bootstrap resamples;
    rows where a variable (or a residual) is constant give NaN.
    """
    rx = ranks(x)
    ry = ranks(y)
    if z is not None:
        rz = ranks(z)
        rx = _residualise_rows(rx, rz)
        ry = _residualise_rows(ry, rz)
    rx = rx - rx.mean(axis=1, keepdims=True)
    ry = ry - ry.mean(axis=1, keepdims=True)
    den = np.sqrt(np.sum(rx * rx, axis=1) * np.sum(ry * ry, axis=1))
    tol = 1e-9 * x.shape[1] ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > tol, np.sum(rx * ry, axis=1) / np.where(den > tol, den, 1.0), np.nan)
    return np.clip(r, -1.0, 1.0)


def _residualise_rows(a: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Residuals of each row of ``a`` after OLS on (1, row of ``z``)."""
    zc = z - z.mean(axis=1, keepdims=True)
    ac = a - a.mean(axis=1, keepdims=True)
    szz = np.sum(zc * zc, axis=1, keepdims=True)
    beta = np.where(szz > 0, np.sum(zc * ac, axis=1, keepdims=True) / np.where(szz > 0, szz, 1.0), 0.0)
    return ac - beta * zc


def roc_auc(scores, labels) -> float:
    """Area under the ROC curve of ``scores`` for ``labels`` (Mann-Whitney form).

    ``P(s_pos > s_neg) + 0.5 P(s_pos == s_neg)`` over all (positive, negative) pairs: 1 when every
    positive scores higher than every negative, 0 when every one scores lower, 0.5 for no
    separation. NaN scores are dropped. Computed from the average :func:`ranks` of the pooled scores:
    ``(R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)`` with ``R_pos`` the positives' rank sum.

    Parameters
    ----------
    scores : array_like, shape (n,)
    labels : array_like, shape (n,)
        Truthy = positive.

    Raises
    ------
    ValueError
        If the shapes differ or, after dropping NaN, either class is empty.

    Examples
    --------
    >>> roc_auc([1, 2, 3, 4], [0, 1, 0, 1])
    0.75
    >>> roc_auc([1, 1, float("nan")], [0, 1, 1])
    0.5
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    if s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape} must have the same shape")
    keep = ~np.isnan(s)
    s, y = s[keep], y[keep]
    pos, neg = s[y], s[~y]
    if pos.size == 0 or neg.size == 0:
        raise ValueError(f"auc needs both classes; got {pos.size} positive and {neg.size} negative scores")
    r = ranks(np.concatenate([pos, neg]))
    return float((r[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


# ----------------------------------------------------------------------------- nulls

def null_excess(value: float, draws) -> dict:
    """Summary of a measure against its null draws: ``null_mean``, ``null_sd`` and ``null_z``.

    ``null_mean`` and ``null_sd`` are the mean and the sample standard deviation (ddof = 1) of the
    measure over the ``K`` null draws (non-finite draws dropped); ``null_z = (value - null_mean) /
    null_sd`` is the standardised excess, NaN where ``null_sd`` is 0 (at most 1e-12 x max(1, |null_mean|),
    i.e. equal draws up to rounding) or undefined (fewer than 2 finite draws) or ``value`` is not finite.

    Examples
    --------
    >>> null_excess(5.0, [1.0, 2.0, 3.0])
    {'null_mean': 2.0, 'null_sd': 1.0, 'null_z': 3.0}
    """
    d = np.asarray(draws, dtype=np.float64).ravel()
    d = d[np.isfinite(d)]
    mean = float(d.mean()) if d.size else float("nan")
    sd = float(d.std(ddof=1)) if d.size > 1 else float("nan")
    v = float(value)
    # an sd at rounding level (draws equal up to float noise) is 0: dividing by it would give z ~ 1e15
    ok = np.isfinite(v) and np.isfinite(sd) and sd > 1e-12 * max(1.0, abs(mean))
    z = (v - mean) / sd if ok else float("nan")
    return {"null_mean": mean, "null_sd": sd, "null_z": float(z)}


def pooled_sd(sd, window: int) -> np.ndarray:
    """Root-mean of the variances ``sd**2`` over a moving window of ``+-window`` neighbours.

    ``sd`` is a 1-D sequence of per-checkpoint null sds of one series, in checkpoint order. Entry ``i``
    of the result is ``sqrt(mean(sd[j]**2 for |j - i| <= window, sd[j] finite))`` (the window is cut at
    the ends of the series; NaN where the window holds no finite sd). With ``K`` draws per checkpoint it
    estimates the null sd from up to ``(2 window + 1)(K - 1)`` degrees of freedom instead of ``K - 1``,
    assuming the null's spread varies little over ``2 window + 1`` neighbouring checkpoints (its mean may
    vary freely: each checkpoint keeps its own null mean). ``window = 0`` returns ``sd`` (NaN where not
    finite).

    Examples
    --------
    >>> pooled_sd([1.0, 1.0, 7.0, np.nan], 1).round(3).tolist()
    [1.0, 4.123, 5.0, 7.0]
    >>> pooled_sd([2.0], 3).tolist()
    [2.0]
    """
    sd = np.asarray(sd, dtype=np.float64).ravel()
    if window < 0:
        raise ValueError(f"window = {window} must be >= 0 (topology.nulls.sd_pool_window)")
    ok = np.isfinite(sd)
    var = np.where(ok, sd * sd, 0.0)
    if sd.size == 0:
        return sd
    w, cut = np.ones(2 * int(window) + 1), slice(int(window), int(window) + sd.size)
    total = np.convolve(var, w)[cut]    # full convolution: entry i + window sums var[i - window .. i + window]
    count = np.convolve(ok.astype(float), w)[cut]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.sqrt(total / np.maximum(count, 1)), np.nan)


def standardised_excess(value, mean, sd) -> np.ndarray:
    """``(value - mean) / sd`` elementwise; NaN where ``sd`` is not finite or at rounding level
    (``sd <= 1e-12 x max(1, |mean|)``, as in :func:`null_excess`) or ``value`` is not finite."""
    v, m, s = (np.asarray(a, dtype=np.float64) for a in (value, mean, sd))
    ok = np.isfinite(v) & np.isfinite(m) & np.isfinite(s) & (s > 1e-12 * np.maximum(1.0, np.abs(m)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, (v - m) / np.where(ok, s, 1.0), np.nan)


# ----------------------------------------------------------------------------- fits

def loglog_fit(x, y, clusters=None) -> dict:
    """Least-squares line in log-log space: ``log y = intercept + slope * log x`` (natural logs).

    The one power-law regression of the project (``y = exp(intercept) * x ** slope``). With ``clusters``
    (a label per point) it also refits the slope with each cluster's points left out in turn (the
    jackknife's leave-one-out estimates, from the sums of the other clusters' points: the same least
    squares, vectorised).

    Returns
    -------
    dict
        ``slope``, ``intercept``, ``r2`` (of the log-log regression; NaN when every ``log y`` is equal)
        and ``residuals`` (``log y`` minus the fitted line, as a numpy array); with ``clusters`` also
        ``clusters`` (the sorted distinct labels) and ``loo_slopes`` (the slope without each of them; NaN
        where the points left have one ``x``).

    Raises
    ------
    ValueError
        Unequal lengths, fewer than 2 points, a non-positive or non-finite value, or all ``x`` equal.

    Examples
    --------
    >>> fit = loglog_fit([1, 2, 4, 8], [3, 6, 12, 24])
    >>> round(fit["slope"], 12), round(math.exp(fit["intercept"]), 12)
    (1.0, 3.0)
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"loglog_fit: need two 1-D arrays of equal length >= 2, got {x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(x > 0) and np.all(y > 0)):
        raise ValueError("loglog_fit: every x and y must be finite and > 0")
    lx, ly = np.log(x), np.log(y)
    if np.ptp(lx) == 0:
        raise ValueError("loglog_fit: every x is equal, so the slope is undefined; vary x")
    xm, ym = lx.mean(), ly.mean()
    slope = float(np.sum((lx - xm) * (ly - ym)) / np.sum((lx - xm) ** 2))
    intercept = float(ym - slope * xm)
    resid = ly - (intercept + slope * lx)
    sst = float(np.sum((ly - ym) ** 2))
    r2 = float(1 - np.sum(resid ** 2) / sst) if sst > 0 else float("nan")
    out = {"slope": slope, "intercept": intercept, "r2": r2, "residuals": resid}
    if clusters is not None:
        labels = np.asarray(clusters)
        if labels.shape != x.shape:
            raise ValueError(f"loglog_fit: clusters has shape {labels.shape}, x has {x.shape}")
        levels, inv = np.unique(labels, return_inverse=True)
        # sums of the points outside each cluster, centred on the full means for numerical stability
        cx, cy = lx - xm, ly - ym
        sums = [np.bincount(inv, weights=w, minlength=len(levels)) for w in (np.ones_like(cx), cx, cy, cx * cx, cx * cy)]
        n, sx, sy, sxx, sxy = (s.sum() - s for s in sums)
        with np.errstate(invalid="ignore", divide="ignore"):
            den = sxx - sx * sx / n
            loo = (sxy - sx * sy / n) / den
        out["clusters"] = levels
        out["loo_slopes"] = np.where((n >= 2) & (den > 1e-12 * max(float(np.sum(cx * cx)), 1e-300)), loo, np.nan)
    return out


# ----------------------------------------------------------------------------- bootstrap

def moving_block_bootstrap_indices(n: int, block_length: int, n_resamples: int, seed: int = 0) -> np.ndarray:
    """Index arrays of the moving-block bootstrap for a series of length ``n`` (Kuensch 1989).

    Each resample concatenates ``ceil(n / block_length)`` blocks ``[s, s + block_length)`` whose starts
    ``s`` are drawn uniformly from ``0 .. n - block_length`` and keeps the first ``n`` indices, so serial
    dependence shorter than a block is preserved.

    Returns
    -------
    numpy.ndarray of int, shape (n_resamples, n)
    """
    if n < 1:
        raise ValueError(f"n={n} must be positive")
    if not 1 <= block_length <= n:
        raise ValueError(f"block_length={block_length} must lie in [1, n={n}]")
    if n_resamples < 1:
        raise ValueError(f"n_resamples={n_resamples} must be positive")
    rng = np.random.default_rng(seed)
    n_blocks = -(-n // block_length)
    starts = rng.integers(0, n - block_length + 1, size=(n_resamples, n_blocks))
    idx = (starts[:, :, None] + np.arange(block_length)[None, None, :]).reshape(n_resamples, -1)
    return idx[:, :n]


def default_block_length(n: int) -> int:
    """``max(2, round(n ** (1/3)))``, capped at ``n``: the usual order for the moving-block bootstrap."""
    return int(min(n, max(2, round(n ** (1.0 / 3.0)))))


def percentile_ci(samples, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval ``(q_{(1-level)/2}, q_{(1+level)/2})`` of ``samples`` (linear interpolation).

    The one percentile interval of the project. NaN samples are dropped (a resample where the statistic
    is undefined); infinite samples are kept, so an unreachable target gives an infinite bound instead of
    silently narrowing the interval. Where linear interpolation leaves a bound undefined (it interpolates
    between two infinite samples, or gives an infinite sample zero weight), that bound is the nearest-rank
    quantile instead (``numpy.quantile(..., method="nearest")``). ``(nan, nan)`` when no sample is left.

    Examples
    --------
    >>> percentile_ci([1.0, 2.0, 3.0, 4.0, float("nan")], level=0.5)
    (1.75, 3.25)
    >>> percentile_ci([1.0, 2.0, float("inf"), float("inf")], level=0.5)
    (1.75, inf)
    """
    if not 0 < level < 1:
        raise ValueError(f"percentile_ci: level must lie in (0, 1), got {level!r}")
    s = np.asarray(samples, dtype=float).ravel()
    s = s[~np.isnan(s)]
    if len(s) == 0:
        return float("nan"), float("nan")
    q = [(1 - level) / 2, (1 + level) / 2]
    with np.errstate(invalid="ignore"):
        lo, hi = np.quantile(s, q)
    if np.isnan(lo) or np.isnan(hi):
        near = np.quantile(s, q, method="nearest")
        lo, hi = (near[0] if np.isnan(lo) else lo), (near[1] if np.isnan(hi) else hi)
    return float(lo), float(hi)


#: The interval of every verdict resting on a few clusters (model sizes): the size verdicts
#: (:func:`toposcale.analysis.scaling.topology_vs_size`) and the forecasting comparisons
#: (:func:`toposcale.analysis.forecast_summary.summarise_forecasts`). Why not the percentile cluster
#: bootstrap: over 6-7 sizes it under-covers (simulated coverage of its 95% interval of a log-log slope,
#: 7 sizes x 2 seeds clustered by size: 0.87-0.90; ``benchmarks/interval_coverage.py``), because a
#: resample of G clusters has on average only 1 - (1 - 1/G)**G = 66% of them distinct, which narrows
#: its spread; the jackknife-t interval of :func:`jackknife_t_ci` covers 0.93-0.96 there.
CLUSTER_INTERVAL = "jackknife_t"


def jackknife_t_ci(estimate: float, loo, df: int | None = None, level: float = 0.95) -> tuple[float, float]:
    """Jackknife-t interval ``estimate +- t_{df, (1+level)/2} * se_J`` from leave-one-out estimates.

    ``loo``: the statistic recomputed with each of ``G`` clusters (or values) left out in turn;
    ``se_J**2 = (G - 1) / G * sum_g (loo_g - mean(loo))**2`` is the jackknife variance (Efron and Stein
    1981; for a mean over equal clusters it is the variance of the cluster means / G, so the interval is
    the textbook t interval over cluster means). ``df`` defaults to ``G - 1``; pass ``G - p`` for a
    statistic fitted with ``p`` parameters (``G - 2`` for a slope). ``(nan, nan)`` when ``G < 2``,
    ``df < 1``, or ``estimate`` or any leave-one-out value is not finite.

    Examples
    --------
    >>> lo, hi = jackknife_t_ci(2.0, [2.5, 1.5, 2.0])
    >>> round(lo, 4), round(hi, 4)
    (-0.4841, 4.4841)
    """
    if not 0 < level < 1:
        raise ValueError(f"jackknife_t_ci: level must lie in (0, 1), got {level!r}")
    loo = np.asarray(loo, dtype=float).ravel()
    g = len(loo)
    df = g - 1 if df is None else int(df)
    if g < 2 or df < 1 or not np.isfinite(estimate) or not np.all(np.isfinite(loo)):
        return float("nan"), float("nan")
    se = math.sqrt((g - 1) / g * float(np.sum((loo - loo.mean()) ** 2)))
    half = float(stats.t.ppf((1 + level) / 2, df)) * se
    return float(estimate) - half, float(estimate) + half


def bootstrap_ci(values, statistic=np.mean, n_resamples: int = 2000, level: float = 0.95,
                 seed: int = 0, clusters=None, method: str = "percentile") -> tuple[float, float]:
    """Interval of ``statistic`` of the finite ``values``, by resampling clusters (or values).

    ``method="percentile"``: percentile bootstrap. Without ``clusters`` the values are resampled one by
    one (i.i.d.). With ``clusters`` (a label per value) each resample draws as many clusters as there
    are, with replacement, and takes every finite value of each drawn cluster (a cluster bootstrap:
    values that share a cluster, e.g. the runs of one held-out size, move together).

    ``method="jackknife_t"`` (:data:`CLUSTER_INTERVAL`, the one to use over a handful of clusters): the
    statistic with each cluster (or, without ``clusters``, each value) left out in turn, and
    :func:`jackknife_t_ci` on ``G - 1`` degrees of freedom; deterministic, ``n_resamples`` and ``seed``
    are not used.

    Returns NaNs when fewer than 2 finite values (or 2 clusters) are given (3 for ``jackknife_t``).

    Examples
    --------
    >>> v = [1.0, 1.0, 3.0, 3.0]
    >>> bootstrap_ci(v, n_resamples=500, clusters=["a", "a", "b", "b"]) == bootstrap_ci([1.0, 3.0], n_resamples=500)
    True
    >>> [round(b, 4) for b in bootstrap_ci([1.0, 2.0, 3.0, 4.0], method="jackknife_t")]
    [0.4457, 4.5543]
    """
    if method not in ("percentile", "jackknife_t"):
        raise ValueError(f"bootstrap_ci: method {method!r} unknown; use 'percentile' or 'jackknife_t'")
    v = np.asarray(values, dtype=float)
    finite = np.isfinite(v)
    labels = np.arange(len(v)) if clusters is None else np.asarray(clusters)
    labels, v = labels[finite], v[finite]
    levels = list(dict.fromkeys(labels.tolist()))           # first-seen order: reproducible draws
    if method == "jackknife_t":
        if len(levels) < 3:
            return float("nan"), float("nan")
        loo = [statistic(v[labels != lv]) for lv in levels]
        return jackknife_t_ci(statistic(v), loo, len(levels) - 1, level)
    if clusters is None:
        if len(v) < 2:
            return float("nan"), float("nan")
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(v), size=(n_resamples, len(v)))
        stats_ = np.array([statistic(v[i]) for i in idx])
        return percentile_ci(stats_, level)
    if len(levels) < 2:
        return float("nan"), float("nan")
    members = [v[labels == lv] for lv in levels]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(levels), size=(n_resamples, len(levels)))
    stats_ = np.array([statistic(np.concatenate([members[j] for j in row])) for row in idx])
    return percentile_ci(stats_, level)
