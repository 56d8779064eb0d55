"""Ranks and rank statistics: Spearman (plain, partial, row-wise) with exact or t p-values, and the ROC AUC."""

from __future__ import annotations

import math
from itertools import permutations

import numpy as np
from scipy import stats


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
