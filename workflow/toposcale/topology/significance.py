"""Which H1 bars are signal: the universal null law of Bobrowski and Skraba (Sci. Rep. 13:12274, 2023).

Definition (their eq. for the Vietoris-Rips filtration, as used here)
---------------------------------------------------------------------
For a finite H1 bar ``p = (b, d)`` with birth ``b > 0`` and death ``d > b``, the *multiplicative
persistence* is ``pi(p) = d / b`` (unit-free: the same whether filtration values are diameters, as in
:mod:`toposcale.topology.homology`, or radii). Over the ``m`` such bars of one diagram,

    ``ell(p) = A * log(log(pi(p))) + B``,   ``B = -lambda - A * mean_q log(log(pi(q)))``,

with ``lambda`` the Euler-Mascheroni constant (so the mean of ``ell`` over the diagram is ``-lambda``).
The paper's conjecture is that for random clouds ``ell`` follows the left-skewed Gumbel law LGumbel,
``P(L <= x) = 1 - exp(-exp(x))`` (mean ``-lambda``, sd ``pi / sqrt(6)``), whatever the sampling
distribution, so the p-value of a bar is ``P(L >= ell) = exp(-exp(ell))``.

Constant ``A``: the paper gives ``A = 1`` for Vietoris-Rips and ``A = 1/2`` for Cech. This project's
filtration is Rips, so ``A = 1`` is the default (:data:`A_RIPS`); the same value is used by the
``universal_null`` function of the R package TDApplied (Brown, ``R/inference.R``: ``A <- 1 # for VR
filtrations``). ``A`` only sets the spread of ``ell``; ``B`` always centres it.

Bars that are left out (p-value NaN): infinite deaths, zero-length bars (``pi = 1`` gives
``log log pi = -inf``) and bars born at 0 (``pi`` undefined). A diagram with fewer than
:data:`MIN_BARS` (= 2) usable bars has no normalisation (with one bar ``ell = -lambda`` whatever the bar),
so all its p-values are NaN and it has 0 signal bars.

Calibration on this project's clouds (``benchmarks/bar_significance.py``; see its output)
-----------------------------------------------------------------------------------------
Verdict: **the law is not calibrated on this project's clouds; it is conservative there**, so
``h1_n_signal`` is *not* a metric column (:data:`toposcale.topology.metrics.METRIC_COLUMNS`). Numbers
(``--draws 200`` Gaussian null clouds per setting, seed 0; pooled ``ell`` of all bars; LGumbel values in
brackets):

* Paper's setting (256 points, 2-d/3-d, uniform or Gaussian): close to the law. KS distance 0.014-0.040,
  sd(ell) 1.19-1.26 [1.283], per-bar false-positive rate at p < 0.05 of 0.017-0.037 [0.05], already
  somewhat conservative in 3-d.
* Activation-like clouds (n = 48, 128, 256 in d = 16, 32, 50, covariance eigenvalues 1/k) and weight-like
  clouds (n = 4d rows, d = 32, 64): **fails**. KS 0.049-0.063 on 4,600-79,000 bars, sd(ell) 1.14-1.19,
  95th percentile of ell 0.80-0.84 [1.097], per-bar false-positive rate at p < 0.05 of 0.009-0.014
  (4-5 times below nominal), at p < 0.01 of 0.0000-0.0011. The upper tail of ``ell`` is thinner than
  LGumbel's in 16-64 dimensions, so the p-values are too large: valid (no setting had any diagram with a
  BH-significant bar: 0/200 each) but under-powered, and how conservative they are depends on the
  dimension (per-bar rate 0.037 for 2-d uniform, 0.010 in 50-d), so counts are not comparable across it.
* Power (circle of radius 1 in a random 2-plane of R^50, n = 128, Gaussian noise sd ``sigma`` per
  coordinate): the most persistent bar has BH q <= 0.05 in 100 % of 66 clouds for each sigma <= 0.1
  (median p of that bar 5e-8 at sigma = 0.1) and in 80 % at sigma = 0.15.

So :func:`n_signal_bars` is a conservative count of loops (what it calls signal very likely is), not a
calibrated one; a matched-null comparison (:mod:`toposcale.topology.nulls`) is the calibrated test.
"""

from __future__ import annotations

import numpy as np

from toposcale.stats import bh_adjust

__all__ = ["A_CECH", "A_RIPS", "EULER_GAMMA", "MIN_BARS", "bar_ell", "bar_pvalues", "lgumbel_sf", "n_signal_bars"]

#: Euler-Mascheroni constant (``-digamma(1)``): minus the mean of LGumbel.
EULER_GAMMA = 0.5772156649015329
#: ``A`` for the Vietoris-Rips filtration (Bobrowski and Skraba 2023), the default.
A_RIPS = 1.0
#: ``A`` for the Cech filtration (Bobrowski and Skraba 2023).
A_CECH = 0.5
#: Fewest usable bars a diagram needs for ``B`` to be estimated.
MIN_BARS = 2


def _loglog_pi(h1) -> np.ndarray:
    """``log(log(death / birth))`` per row of ``h1``; NaN for rows that are not usable bars."""
    arr = np.asarray(h1, dtype=np.float64)
    if arr.size == 0:
        return np.empty(0, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"h1: expected an array of (birth, death) rows with shape (k, 2), got {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError("h1: contains NaN; diagrams must have numeric births and deaths")
    birth, death = arr[:, 0], arr[:, 1]
    if (death < birth).any():
        raise ValueError(f"h1: {int((death < birth).sum())} bar(s) die before they are born (death < birth)")
    if (birth < 0).any():
        raise ValueError("h1: negative birth; Rips filtration values are distances >= 0")
    usable = (birth > 0) & np.isfinite(death) & (death > birth)
    out = np.full(arr.shape[0], np.nan)
    out[usable] = np.log(np.log(death[usable] / birth[usable]))
    return out


def bar_ell(h1, A: float = A_RIPS) -> np.ndarray:
    """The normalised statistic ``ell`` of each bar (module docstring), aligned with the rows of ``h1``.

    Parameters
    ----------
    h1 : array_like, shape (k, 2)
        ``(birth, death)`` rows of one H1 diagram.
    A : float
        :data:`A_RIPS` (default) or :data:`A_CECH`.

    Returns
    -------
    numpy.ndarray, shape (k,)
        ``ell`` per row; NaN for unusable rows, and for every row when fewer than :data:`MIN_BARS` are usable.

    Examples
    --------
    >>> ell = bar_ell([(1.0, np.e), (1.0, np.e ** np.e)])   # log log pi = 0 and 1
    >>> np.allclose(ell, [-0.5 - EULER_GAMMA, 0.5 - EULER_GAMMA])
    True
    """
    if not (np.isfinite(A) and A > 0):
        raise ValueError(f"bar_ell: A must be a finite number > 0 (1 for Rips, 1/2 for Cech), got {A!r}")
    x = _loglog_pi(h1)
    usable = np.isfinite(x)
    if usable.sum() < MIN_BARS:
        return np.full(x.shape, np.nan)
    return A * x - A * x[usable].mean() - EULER_GAMMA


def lgumbel_sf(ell) -> np.ndarray:
    """Upper tail of LGumbel, ``P(L >= ell) = exp(-exp(ell))`` (NaN stays NaN)."""
    return np.exp(-np.exp(np.asarray(ell, dtype=np.float64)))


def bar_pvalues(h1, A: float = A_RIPS) -> np.ndarray:
    """p-value of each H1 bar under the universal null, ``exp(-exp(ell))``, aligned with the rows of ``h1``.

    Small p means a bar whose death/birth ratio is larger than the diagram's noise bars make likely.
    NaN for unusable rows and for diagrams with fewer than :data:`MIN_BARS` usable bars (module docstring).
    """
    return lgumbel_sf(bar_ell(h1, A))


def n_signal_bars(h1, alpha: float = 0.05, A: float = A_RIPS) -> int:
    """Number of H1 bars significant at false discovery rate ``alpha`` (Benjamini-Hochberg over the diagram).

    The BH family is the usable bars of this one diagram (:func:`toposcale.stats.bh_adjust` leaves the NaN
    p-values out); a bar is signal when its q-value is ``<= alpha``. 0 for a diagram with fewer than
    :data:`MIN_BARS` usable bars. Scale-invariant: multiplying a cloud by a constant changes nothing.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"n_signal_bars: alpha must lie in (0, 1), got {alpha!r}")
    q = bh_adjust(bar_pvalues(h1, A))
    return int(np.sum(np.isfinite(q) & (q <= alpha)))
