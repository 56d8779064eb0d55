"""The descent-rate rebound test of a training curve, an alternative to the ramp scan of
:mod:`toposcale.analysis.changepoint` (config ``transitions.method: rebound``).

Rate rebound (``method: rebound``, :func:`rebound_batch`)
--------------------------------------------------------
An alternative test aimed at a second drop after a slowdown (a plateau between two stages), which a
spline absorbs when the drop spans several log-spaced checkpoints. With ``x`` = log step:

* *Local rate*: ``d_k = -slope`` of the least-squares line of ``y`` on ``x`` over the ``window`` (default 3)
  points ``k .. k + window - 1`` (units of ``y`` per e-fold of step), ``se_k = 1 / sqrt(sum (x - mean)^2)``
  its sd for unit white noise, centre checkpoint ``k + window // 2``.
* *Statistic*: ``a = allowance * max d_k`` over windows with ``se_k <= median se`` (default allowance 0.2:
  a rebound smaller than 20% of the peak descent rate is not counted, which absorbs the learning-rate
  schedule's late speed-up); ``L_i = max_{h<i} (d_h - d_i) / s_hi``, ``R_i = max_{j>i} (d_j - d_i - a) /
  s_ji`` with ``s_hi = sqrt(se_h^2 + se_i^2)``; valley depth ``V_i = max(0, min(L_i, R_i)) / sigma_hat``
  (first and last windows excluded), ``T = max_i V_i``. ``sigma_hat``
  (:func:`toposcale.analysis.rebound_noise.high_pass_sigma`) is the
  robust noise scale of 5-point local quadratic residuals, so ``V`` is studentised.
* *Null*: the rate is unimodal (rises during warmup, then falls: the loss is concave then convex in
  ``x``). :func:`unimodal_rate_fit` is the least-squares fit with that shape (piecewise linear, knots at
  every point; NNLS per mode, best mode). Null draws are that fit plus ``sigma * AR(1)(phi)`` (unit
  marginal variance) with ``phi`` the bias-corrected noise model of the ramp scan's spline null fit
  (:func:`toposcale.analysis.changepoint_noise.noise_model`) and ``sigma = sigma_hat / high_pass_ar1_factor(phi)`` (the high-pass residual of
  AR(1) noise is smaller than its marginal sd by an exact factor of the design; without it the FPR at
  39 checkpoints and phi 0.5 was 0.53); each
  draw's ``T`` is computed exactly as the data's (own ``sigma_hat``; until issue 21's s7 branch the data's
  ``V`` was divided by the marginal sd ``sigma`` instead, ~4-6 times ``sigma_hat`` at phi 0.9-0.95, which
  made the test conservative by accident and cost it its power). Every valley ``i`` gets the max-T
  p-value ``(1 + #{T_null >= V_i}) / (n_null + 1)`` (1 where ``V_i = 0``), which controls the
  family-wise error over valleys; the series' p-value is the smallest (ties: the deepest valley).
* *Locations*: for each significant valley (smallest p first, up to ``max_change_points``, at least
  ``window`` + 1 checkpoints apart) the centre of the window of largest raw rate in the contiguous
  rebound after ``i`` (windows ``k > i`` with ``d_k > d_i`` around ``j_i``): the drop's steepest point.
* ``two_sided`` (topology series): ``y`` and ``-y`` are both tested, p = 2 * the smaller (Bonferroni;
  on equal p the sign with the deeper valley gives the change points). Not located well: in the flipped
  series a drop is a trough of the rate followed by a recovery to ~0, often the deeper valley, so the
  change point can sit at the end of the move (``tests/test_changepoint.py``).

By construction it cannot see a single drop from a flat start (a plateau-drop-plateau curve has a
unimodal rate, the null's shape) nor a drop that merges with the first descent without a slowdown.

Noise model 'sup' (``noise='sup'``, config ``transitions.rebound_noise``) and the schedule in the null
(``anneal``, config ``transitions.anneal``, which also gives the ramp scan the schedule); both on in the study's default
------------------------------------------------------------------------------------------------------
Why real crossings are missed with the defaults: on every one of the 10 real runs the spline null fit reads
phi 0.95 (its misfit of the staircase, not noise), and the allowance 0.2 exceeds the rate rebound of the
two largest runs (gelu-d56, -d64: ~0.11-0.2 of the peak rate; the cosine shape's own late rebound is
0.07-0.095 of it at 25-39 checkpoints, window 3 / 2). phi cannot be read off high-pass residuals instead:
their lag-1 autocorrelation moves only from -0.80 to -0.75 between phi 0 and 0.95 (25 log checkpoints).

* ``noise='sup'`` does not estimate phi: each valley's p-value is the largest of its p-values under null
  draws at phi 0, 0.5 and 0.9 (``SUP_PHIS``), each with marginal sd ``sigma_hat /
  high_pass_ar1_factor(phi)``; the reported ``phi`` gave the series' smallest p-value.
* *Schedule in the null* (``anneal``, :func:`toposcale.analysis.lr_schedule.anneal_covariate`, the lr decay so far ``1 - lr / lr_max``
  after warmup): the null curve is the unimodal-rate fit plus ``-c * anneal``, ``0 <= c <= c_max`` (one more
  column; ``c_max``: :func:`toposcale.analysis.lr_schedule.anneal_bound`, for the loss at most 0.2 of
  the series' range, topology series unbounded by default), so the annealing speed-up is in the null without an allowance. Its late valleys are then
  deterministic in every null draw and would dominate the maximum, so each valley depth is centred by its
  null median before the maximum over valleys (data and draws alike). The benchmark's cosine shape is
  generated with exactly such a term (``anneal * lr / lr_max``), so its calibration is partly circular; a
  real schedule response (Tissue et al. 2024: an annealing area with momentum) is close to but not exactly
  this. Unbounded (until issue 21's session 15) it could not tell a real drop during annealing from the
  schedule (the simulated staircase's drop at 39 checkpoints: power 0.05-0.22); bounded, one beyond 0.2.

Measured without the noise-scale bound (``sigma_quantile`` None, section "Noise scale" below;
``benchmarks/changepoint_power.py --method rebound [...] --sigma-quantile 0 --draws 200 --n-null 199
--densities log,log+linear``; MC se <= 0.035). FPR power decay / cosine at phi 0, 0.5, 0.9, and staircase power (located
within 1) at phi 0, 0.5, 0.9:

* defaults (spline, window 3, allowance 0.2): 25 log 0.000/0.000 at every phi, staircase 0.27 (0.27), 0.43
  (0.43), 0.54 (0.54); 39 log+linear 0.030/0.040, 0.095/0.110, 0.125/0.055 (NOT nominal at phi >= 0.5),
  staircase 0.60 (0.45), 0.83 (0.62), 0.97 (0.77). Real runs 5 of 7.
* sup, window 2, allowance 0: 25 log 0.030/0.070, 0.080/0.165, 0.085/0.695; 39 log+linear 0.015/0.030,
  0.090/0.120, and at phi 0.9 (100 draws) 0.11/0.36 (NOT nominal: the cosine speed-up is outside the
  null); staircase 0.20 (0.17), 0.44 (0.35), 0.87 (0.81) and 0.52 (0.25), 0.91 (0.52), 1.00 (0.50). Real runs: 7 of 7 complete
  unigram->bigram crossings found within one checkpoint (offsets -1, 0, -1, 0, 0, +1, -1; 999 null draws).
* sup, window 2, allowance 0, anneal: 25 log 0.030/0.000, 0.060/0.025, 0.060/0.020 (nominal within MC
  error); 39 log+linear 0.055/0.055, 0.115/0.070, 0.115/0.045 (power decay NOT nominal at phi >= 0.5);
  staircase 0.14 (0.11), 0.31 (0.26), 0.83 (0.78) and 0.05 (0.04), 0.22 (0.18), 0.45 (0.26). Real runs 6 of 7
  (gelu-d64 missed: its slowdown is one checkpoint, ~3 noise sds at the checkpoints, p 0.07-0.09).

Noise scale (``sigma_quantile``, config ``transitions.rebound_sigma_quantile``, default 0.95)
------------------------------------------------------------------------------------------------
The null draws' noise sd is plugged in from ``sigma_hat``, a median of ~n - 4 high-pass residuals whose
relative sd is about 0.2 at 25-32 points (true sd / ``sigma_hat`` has its 90% quantile at 1.4-1.57 under
AR(1) noise). The statistic is studentised, but its null distribution still depends on the noise relative
to the curve, and a low ``sigma_hat`` both raises the data's valley depth and narrows its null. With
``sigma_quantile`` each valley's p-value is the larger of those under draws at ``sigma_hat /
high_pass_ar1_factor`` and at the upper bound ``sigma_hat * sigma_upper_factor(x, phi, q)`` (both, not the
bound alone: with the schedule in the null, more noise lowers the null's median valley depths and the
p-value is not monotone in the sd; at the bound alone the cosine FPR at phi 0.9 was 0.092). A plug-in of a
confidence bound for a nuisance parameter (Berger and Boos 1994, without their additive gamma, which would
floor every p-value at gamma); its calibration is measured, not proven.

Measured at the default study's schedule (26 log + 8 linear checkpoints, 32 at 4336 steps; 1,200 draws in
batches of 200 with their own 199 null draws; sup, window 2, allowance 0, anneal): without the bound FPR
power decay / cosine 0.033/0.028, 0.048/0.033, **0.097**/0.039 at phi 0, 0.5, 0.9; with q 0.9
0.025/0.018, 0.033/0.029, 0.068/0.038; with q 0.95 at phi 0.9 0.058/0.038 (MC se <= 0.007, but the
same configuration moves by ~2 se between null seeds: the 200 curves of a batch share their null draws).
At 25 log checkpoints (q 0.9) every FPR is <= 0.037, at 39 log+linear <= 0.059. Real recall with the
bound (q 0.9 or 0.95): 14 of 16, as without it (gelu-d64 both missed, p 0.054-0.059: their bigram drop
merges with the first descent).

Two-sided on smooth topology-like shapes (``benchmarks/changepoint_topology_fpr.py``, those settings, 600
series each): a sigmoid, a linear drift and a late rise in log step 0.007-0.035 at phi 0-0.9, but a smooth
hump (rise then fall) 0.030, 0.073, **0.59** at phi 0, 0.5, 0.9: a hump's rate has a valley by its shape,
so the unimodal-rate null is the wrong null for series that may turn back.

None of these meets issue 21's done-when (recall >= 0.9 located within one AND nominal FPR at 25 and 39
checkpoints up to phi 0.9).

Neither test alone serves the study: the ramp scan finds a drop from a flat start but absorbs the staircase
(1 of 16 crossings), this test finds the staircase (14 of 16) but not a drop from a flat start. The
study's default, ``method: ramp+rebound`` (:func:`toposcale.analysis.change_test.change_points`), runs both
at half the level with Bonferroni, this test with the settings above (sup, window 2, allowance 0, the
schedule in the null, bound 0.95; ``benchmarks/changepoint_power.py --method ramp+rebound --noise sup
--window 2 --allowance 0 --anneal --draws 600 --n-null 199 --densities study,log+linear``; since issue 21's
session 10 the ramp scan's null draws have the right noise scale and the schedule in its smooth): FPR power
decay / cosine at phi 0, 0.5, 0.9 0.017/0.020, 0.025/0.023, 0.057/0.032 at the study's 32 checkpoints and
0.025/0.018, 0.047/0.038, 0.047/0.040 at 39 (MC se <= 0.01; nominal within MC error; before the fix
0.073/0.035 and 0.105/0.077 at phi 0.9); the flat-start plateau drop is found within one checkpoint in
0.07, 0.04, 0.43 (32) of series; real recall 14 of 16 (every crossing this test finds has p <= 0.022,
under half the level). Two-sided on the smooth hump
(``benchmarks/changepoint_topology_fpr.py 0.1 ramp+rebound``) 0.07, 0.12, 0.67 at phi 0, 0.5, 0.9 (0.15, 0.23,
0.84 before the ramp scan's noise-scale fix): by the
null of one movement episode a turn-back is a change.
"""

from __future__ import annotations


import numpy as np

from toposcale.analysis.ar1 import ar1_from_normals
from toposcale.analysis.lr_schedule import ANNEAL_MAX_SHARE, anneal_bound, check_anneal
from toposcale.analysis.changepoint import MIN_PLATEAU, NULL_DF, RAMP_WIDTHS, _check, ramp_candidates, spline_basis
from toposcale.analysis.changepoint_noise import _null_fit, noise_model
from toposcale.analysis.rebound_noise import high_pass_sigma, sigma_upper_factor

REBOUND_METHOD = "rate rebound: valley depth of the local descent rate in log step, unimodal-rate null, AR(1)"
RATE_WINDOW = 3
REBOUND_ALLOWANCE = 0.2
#: Noise models of the null draws (config ``transitions.rebound_noise``): ``'spline'`` phi from the spline null
#: fit (:func:`toposcale.analysis.changepoint_noise.noise_model`), ``'sup'`` the largest p-value over the AR(1) coefficients ``SUP_PHIS``.
NOISE_MODELS = ("spline", "sup")
SUP_PHIS = (0.0, 0.5, 0.9)
#: A series is tested only if its high-pass noise scale exceeds this fraction of its range.
_SIGMA_FLOOR = 1e-9
#: Null-draw values per block of series (``rows x n_null x points``): 16 MB of float64 per array.
_NULL_BLOCK = 1 << 21
#: Rows per block of :func:`_valley_stat` (1 MB per array at 32 windows): 1.5-2.3 times faster than whole
#: arrays of 5,041-60,000 rows, whose temporaries leave the CPU cache.
_VALLEY_BLOCK = 4096


def rebound_min_points(window: int = RATE_WINDOW) -> int:
    """Fewest points the rate-rebound test accepts (:func:`toposcale.plan.decidability.rebound_min_points`)."""
    from toposcale.plan.decidability import rebound_min_points as need

    return need(window)

def local_rates(Y, x, window: int = RATE_WINDOW):
    """``(d, se, centre)``: the descent rate ``d[..., i] = -slope`` of the least-squares line of ``Y``
    against ``x`` over the ``window`` consecutive points ``i .. i + window - 1`` (units of ``Y`` per unit of
    ``x``, i.e. per e-fold of step when ``x`` is log step), its standard error for unit-variance white noise
    ``se_i = 1 / sqrt(sum (x - mean x)^2)`` over the window, and the window's centre checkpoint
    ``i + window // 2``."""
    Y = np.asarray(Y, dtype=float)
    wx = np.lib.stride_tricks.sliding_window_view(x, window)
    dx = wx - wx.mean(axis=1, keepdims=True)
    sxx = np.sum(dx * dx, axis=1)
    wy = np.lib.stride_tricks.sliding_window_view(Y, window, axis=-1)
    d = -np.sum(dx * wy, axis=-1) / sxx
    return d, 1.0 / np.sqrt(sxx), np.arange(len(sxx)) + window // 2


def _valley_stat(d, se, allowance: float = 0.0, with_peak: bool = True):
    """Valley depths of the descent rates ``d`` (rows, rate windows along the last axis), standardised.

    With ``s(h, i) = sqrt(se_h^2 + se_i^2)``, ``a = allowance * max_k d_k`` over the windows ``k`` whose ``se_k`` is at most the median (the row's
    peak rate, over the windows that are not dominated by noise, e.g. two checkpoints a step apart):
    ``L_i = max_{h < i} (d_h - d_i) / s(h, i)`` (the slowdown into window ``i``) and ``R_i = max_{j > i}
    (d_j - d_i - a) / s(j, i)`` (the rebound after it, beyond the allowance), ``V_i = min(L_i, R_i)`` (first
    and last window excluded) and ``j_i`` the smallest ``j`` attaining ``R_i``. Returns ``(V, j)``, shape of
    ``d``; ``j`` is None without ``with_peak`` (the null draws need only ``V``).

    The maxima run over the pair distance ``k = i - h`` (or ``j - i``) on 2-d slices instead of forming the
    ``(rows, n, n)`` pair array (the same numbers, about 8 times faster on 999 null draws of 32 points), in
    blocks of :data:`_VALLEY_BLOCK` rows."""
    d = np.asarray(d, dtype=float)
    n = d.shape[-1]
    a = allowance * np.max(d[..., se <= np.median(se)], axis=-1, keepdims=True) if allowance else None
    s = [np.sqrt(se[:-k] ** 2 + se[k:] ** 2) for k in range(1, n)]      # s(m, m + k)
    neg_s = [-v for v in s]
    L = np.full(d.shape, -np.inf)
    R = np.full(d.shape, -np.inf)
    j = np.zeros(d.shape, dtype=int) if with_peak else None
    rows, Lr, Rr = d.reshape(-1, n), L.reshape(-1, n), R.reshape(-1, n)
    ar = None if a is None else a.reshape(-1, 1)
    jr = None if j is None else j.reshape(-1, n)
    for lo in range(0, len(rows), _VALLEY_BLOCK):      # blocks of rows: their temporaries stay in the cache
        hi = lo + _VALLEY_BLOCK
        db, Lb, Rb = rows[lo:hi], Lr[lo:hi], Rr[lo:hi]
        for k in range(1, n):
            rise = db[:, k:] - db[:, :-k]                                  # d_{m+k} - d_m
            np.maximum(Lb[:, k:], rise / neg_s[k - 1], out=Lb[:, k:])      # h = i - k: (d_h - d_i) / s(h, i)
            r = (rise if ar is None else rise - ar[lo:hi]) / s[k - 1]     # j = i + k: (d_j - d_i - a) / s(j, i)
            if jr is not None:
                better = r > Rb[:, :-k]                                    # strictly: the smallest j wins ties
                jr[lo:hi, :-k][better] = (np.arange(n - k) + k)[np.nonzero(better)[-1]]
            np.maximum(Rb[:, :-k], r, out=Rb[:, :-k])
    V = np.minimum(L, R)
    V[..., 0] = V[..., -1] = -np.inf
    return V, j


_DESIGN_CACHE: dict = {}


def _unimodal_designs(x, extra) -> list[np.ndarray]:
    """The design matrix of every mode ``m`` of :func:`unimodal_rate_fit` at positions ``x`` (with the
    ``extra`` columns last), cached per ``(x, extra)``: the series of a run share them, and building them
    cost as much as the fits."""
    n = len(x)
    ext = None if extra is None else np.asarray(extra, dtype=float).reshape(n, -1)
    key = (x.tobytes(), None if ext is None else ext.tobytes())
    if key not in _DESIGN_CACHE:
        if len(_DESIGN_CACHE) > 64:
            _DESIGN_CACHE.clear()
        knots = x[1:-1]
        designs = []
        for m in range(n):
            c = x - x[m]
            cols = [np.ones(n), -np.ones(n), c, -c]
            cols += [-np.maximum(k - x, 0.0) for k in knots if k <= x[m]]
            cols += [np.maximum(x - k, 0.0) for k in knots if k >= x[m]]
            if ext is not None:
                cols += list(ext.T)
            designs.append(np.column_stack(cols))
        _DESIGN_CACHE[key] = designs
    return _DESIGN_CACHE[key]


def unimodal_rate_fit(y, x, extra=None, return_extra: bool = False, extra_max=None):
    """Least-squares fit of ``y`` (one series) by a continuous piecewise-linear function of ``x`` with knots
    at the points whose descent rate ``-f'`` is unimodal: concave up to a mode ``x_m`` and convex after it
    (a smooth decay in log step, including the slow start of a warmup, has this shape; a plateau followed
    by a second drop does not). For each mode ``m`` the fit is non-negative least squares
    (``scipy.optimize.nnls``) on ``[1, -1, x - x_m, -(x - x_m), -(x_k - x)_+ (k <= m), (x - x_k)_+ (k >= m)]``
    over interior knots ``x_k``; the mode with the smallest residual sum of squares wins. ``extra`` (shape
    ``(n,)`` or ``(n, k)``, optional): further columns with non-negative coefficients in every mode's fit
    (the annealing covariate of :func:`rebound_batch`); with ``return_extra`` the result is ``(fit,
    extra_part)``, ``extra_part`` the fitted contribution of those columns (zeros without ``extra``).
    ``extra_max`` (one extra column only, optional): the upper bound of its coefficient; each mode's fit is
    the exact least squares under it."""
    from scipy.optimize import nnls

    x = np.asarray(x, dtype=float)
    n = len(x)
    best, fit, part = np.inf, None, np.zeros(n)
    k_extra = 0 if extra is None else np.asarray(extra, dtype=float).reshape(n, -1).shape[1]
    if extra_max is not None and k_extra != 1:
        raise ValueError(f"extra_max bounds one extra column; got {k_extra}")
    for A in _unimodal_designs(x, extra):
        coef, rn = nnls(A, y, maxiter=50 * A.shape[1])
        if extra_max is not None and coef[-1] > extra_max:
            # the residual's minimum over the other coefficients is convex in c, so when the unbounded
            # optimum lies above the bound the bounded one is at it: one NNLS with c fixed there
            coef = np.r_[nnls(A[:, :-1], y - A[:, -1] * extra_max, maxiter=50 * A.shape[1])[0], extra_max]
            rn = float(np.linalg.norm(A @ coef - y))
        if rn < best:
            best, fit = rn, A @ coef
            if k_extra:
                part = A[:, -k_extra:] @ coef[-k_extra:]
    return (fit, part) if return_extra else fit


def _bump_peak(d, i: int, j: int) -> int:
    """The window of largest raw rate ``d`` in the rebound after valley ``i`` that contains ``j``: the
    contiguous windows ``k > i`` around ``j`` with ``d_k > d_i`` (the drop's steepest point)."""
    lo, hi = j, j
    while lo - 1 > i and d[lo - 1] > d[i]:
        lo -= 1
    while hi + 1 < len(d) and d[hi + 1] > d[i]:
        hi += 1
    return lo + int(np.argmax(d[lo:hi + 1]))


def rebound_batch(Y, x, *, n_null: int = 999, significance: float = 0.05, window: int = RATE_WINDOW,
                  allowance: float = REBOUND_ALLOWANCE, two_sided: bool = False, max_change_points: int = 3,
                  null_df: int = NULL_DF, widths=RAMP_WIDTHS, min_plateau: int = MIN_PLATEAU, seed: int = 0,
                  noise: str = "spline", anneal=None, sigma_quantile=None,
                  anneal_max_share=ANNEAL_MAX_SHARE, **_ignored) -> list[dict]:
    """The rate-rebound test (module docstring, "Rate rebound") of every row of ``Y`` at positions ``x``.

    Parameters
    ----------
    Y : array_like, shape (m, n)
        Series, one per row (a loss: descending; ``two_sided`` for series that may move either way).
    x : array_like, shape (n,)
        Strictly increasing positions (log step).
    n_null, significance, max_change_points, seed
        As in :func:`change_points_batch` (the null draws' standard normals are shared by all rows).
    window : int
        Points per local rate (least-squares slope), >= 2.
    allowance : float
        Rebound not counted, as a fraction of the series' peak rate (the lr schedule's late speed-up).
    two_sided : bool
        Test ``y`` and ``-y`` and take the smaller p times 2 (Bonferroni).
    null_df, widths, min_plateau
        Design of the spline null fit whose residuals give ``phi`` (:func:`noise_model`; ``noise='spline'``).
    anneal : array_like, shape (n,), optional
        The learning-rate decay at the points (:func:`toposcale.analysis.lr_schedule.anneal_covariate`): the null curve becomes the
        unimodal-rate fit plus ``-c * anneal`` with ``0 <= c`` fitted (module docstring, "Schedule in the
        null"), and each valley's depth is centred by its null median before the maximum over valleys.
    anneal_max_share : float or array_like of shape (m,), optional
        With ``anneal``: ``c <= anneal_max_share * ptp(y) / ptp(anneal)``, one share for all rows or one per
        row (NaN: that row unbounded; :func:`toposcale.analysis.lr_schedule.anneal_bound` says why 0.2 for
        the loss); None: unbounded.
    sigma_quantile : float, optional
        Also null draws at the one-sided upper confidence bound ``sigma_hat * sigma_upper_factor(x, phi,
        sigma_quantile)`` of the noise sd, each valley's p-value the larger of the two (module docstring,
        "Noise scale"); None: the point estimate only.
    noise : {'spline', 'sup'}
        ``'spline'``: null draws at the spline null fit's bias-corrected ``phi``. ``'sup'``: null draws at
        every ``phi`` of ``SUP_PHIS`` (0, 0.5, 0.9; marginal sd ``sigma_hat / high_pass_ar1_factor(phi)``)
        and each valley's p-value the largest over them (module docstring, "Noise model 'sup'"); the
        reported ``phi`` is the one giving the series' p-value.

    Returns
    -------
    list of dict as :func:`change_points_batch` (``ramp_starts`` and ``ramp_widths`` empty); ``change_points``
    are the checkpoints of the rate peaks after significant valleys, strongest first. A series whose
    high-pass noise scale is not above ``1e-9`` of its range (a constant series, or a count that is flat
    in most 5-point windows: its valley depths would be divided by rounding error) gets ``p_value`` NaN.
    """
    Y, x = _check(Y, x)
    m, n = Y.shape
    if window < 2:
        raise ValueError(f"rebound window={window} must be at least 2 points")
    if not 0 <= allowance < 1:
        raise ValueError(f"rebound allowance={allowance} must lie in [0, 1)")
    anneal = check_anneal(anneal, n)
    if noise not in NOISE_MODELS:
        raise ValueError(f"transitions.rebound_noise={noise!r}; use one of {NOISE_MODELS}")
    out = [dict(p_value=np.nan, statistic=np.nan, phi=np.nan, sigma=np.nan, change_points=[],
                change_point_p_values=[], change_point_statistics=[], ramp_starts=[], ramp_widths=[],
                method=REBOUND_METHOD) for _ in range(m)]
    if m == 0 or n < rebound_min_points(window):
        return out
    signs = (1.0, -1.0) if two_sided else (1.0,)
    sigmas = high_pass_sigma(Y, x)
    if noise == "spline":
        Sf = spline_basis(x, null_df)
        Z, tau, w, _ = ramp_candidates(n, widths, min_plateau)
        _, resid, kb = _null_fit(Y, Sf, Z, np.ones(Z.shape[1], dtype=bool))
        phi_rows = [(float(ph),) for ph in noise_model(resid, kb, Sf, Z, (tau - 1, tau + w + 1))[0]]
    else:
        phi_rows = [tuple(float(ph) for ph in SUP_PHIS)] * m
    gen = np.random.default_rng(seed)
    E = gen.standard_normal((int(n_null), n))
    ar_cache: dict = {}
    # null noise scales per phi: the point estimate and, with sigma_quantile, its upper confidence bound
    scales = [(phi, sigma_upper_factor(x, phi, q, gen)) for phi in dict.fromkeys(sum(phi_rows, ()))
              for q in ((None,) if sigma_quantile is None else (None, sigma_quantile))]
    d0, se, centre = local_rates(Y, x, window)
    # one virtual row per (series, sign): its null curve, valley depths and null p-values; a series whose
    # noise scale is rounding error against its range (constant, or a count flat in most 5-point windows)
    # has no studentised valley depth and gets no test
    scale = np.ptp(Y, axis=1)
    testable = (scale > 0) & (sigmas > _SIGMA_FLOOR * scale)
    rows = [(r, s) for r in range(m) if testable[r] for s in signs]
    if not rows:
        return out
    row_of = np.array([r for r, _ in rows])
    sign_of = np.array([s for _, s in rows])
    extra = None if anneal is None else -anneal
    bound = anneal_bound(Y, anneal, anneal_max_share)
    F = np.stack([unimodal_rate_fit(s * Y[r], x, extra, extra_max=None if bound is None else bound[r])
                  for r, s in rows])
    D = sign_of[:, None] * d0[row_of]
    V, J = _valley_stat(D, se, allowance)
    V = np.maximum(V, 0.0) / sigmas[row_of][:, None]
    P = np.full(V.shape, np.nan)                  # each valley's p-value: the largest over the null's scales
    phi_at: list = [None] * len(rows)
    seen = np.zeros(len(rows), dtype=bool)
    block = max(1, int(_NULL_BLOCK // (n_null * n)))      # series whose null draws are one array
    for phi, factor in scales:
        use = np.array([v for v, r in enumerate(row_of) if phi in phi_rows[r]], dtype=int)
        if not len(use):
            continue
        if phi not in ar_cache:
            ar_cache[phi] = ar1_from_normals(E, phi)
        for lo in range(0, len(use), block):
            u = use[lo:lo + block]
            sigma = sigmas[row_of[u]] * factor     # marginal sd of each row's null AR(1) noise
            p_u = _null_p_values(F[u], sigma, ar_cache[phi], V[u], x, se, window, allowance, anneal is not None)
            for v, p_v, sg in zip(u, p_u, sigma):
                if not seen[v] or p_v.min() > P[v].min():     # the scale giving the series' p-value
                    phi_at[v] = (phi, float(sg))
                P[v] = np.maximum(P[v], p_v) if seen[v] else p_v
                seen[v] = True
    for r in range(m):
        vs = np.flatnonzero(row_of == r)
        if not len(vs):
            continue
        best = None
        for v in vs:                                   # signs in order; ties: the deeper valley, then the first
            if best is None or (P[v].min(), -V[v].max()) < (P[best].min(), -V[best].max()):
                best = v
        pv = np.minimum(1.0, P[best] * len(signs))
        Vb, jj, best_d = V[best], J[best], D[best]
        phi, sigma = phi_at[best]
        order = np.lexsort((-Vb, pv))               # smallest p first, deeper valley on ties
        i0 = int(order[0])
        out[r].update(p_value=float(pv[i0]), statistic=float(Vb[i0]), phi=phi, sigma=sigma)
        taken: list[int] = []
        for i in order:
            if pv[i] >= significance or len(taken) >= max_change_points:
                break
            loc = int(centre[_bump_peak(best_d, int(i), int(jj[i]))])
            if any(abs(loc - t) <= window for t in taken):
                continue
            taken.append(loc)
            out[r]["change_points"].append(loc)
            out[r]["change_point_p_values"].append(float(pv[i]))
            out[r]["change_point_statistics"].append(float(Vb[i]))
    return out


def _null_p_values(F, sigma, A, V, x, se, window: int, allowance: float, centred: bool) -> np.ndarray:
    """Max-T p-values of the valleys ``V`` (rows: series) under null draws ``F[r] + sigma[r] * A`` (``A``:
    unit AR(1) noise, one draw per row, shared by the series), every draw's valley depths computed as the
    data's; with ``centred`` each valley is centred by its null median before the maximum (the schedule's
    valleys are deterministic in the null). All series' draws are one array: the same numbers as one
    series at a time, about 1.3 times faster on a run's 285 series at 199 draws (numpy's per-call cost)."""
    c, b, n = len(F), A.shape[0], A.shape[1]
    Yn = (F[:, None, :] + sigma[:, None, None] * A[None]).reshape(c * b, n)
    dn, _, _ = local_rates(Yn, x, window)
    Vn = (np.maximum(_valley_stat(dn, se, allowance, with_peak=False)[0], 0.0)
          / np.maximum(high_pass_sigma(Yn, x), 1e-300)[:, None]).reshape(c, b, -1)
    ctr = np.median(Vn, axis=1) if centred else np.zeros((c, Vn.shape[2]))
    ctr[~np.isfinite(ctr)] = 0.0
    Tn = np.sort(np.max(Vn - ctr[:, None, :], axis=2), axis=1)
    Vc = V - ctr
    # max-T p-value of every valley: P(max over the null draw's valleys >= V_i)
    ge = np.stack([b - np.searchsorted(Tn[i], Vc[i] - 1e-12, side="left") for i in range(c)])
    return np.where(V > 0, (1.0 + ge) / (b + 1.0), 1.0)
