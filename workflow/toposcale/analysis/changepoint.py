"""Change points of a training curve: a ramp scan against a smooth decay with AR(1) noise.

Model
-----
A series ``y_0..y_{n-1}`` at increasing positions ``x`` (log step of the checkpoints) is

    y = s(x) + sum_j d_j * r_{tau_j, w_j} + e,

where ``s`` is a smooth curve, the *change points* are ramps and ``e`` is stationary AR(1) noise in
checkpoint index (``e_t = phi e_{t-1} + innovation``). ``s`` is a cubic regression spline with
``smooth_df`` columns (B-spline basis, :func:`spline_basis`; interior knots at quantiles of ``x``, so the
spline's flexibility follows the checkpoint density). A ramp ``r_{tau, w}`` is 0 at indices ``<= tau``,
``(i - tau) / w`` for ``tau < i < tau + w`` and 1 at indices ``>= tau + w``: a level change completed
within ``w`` checkpoints (``w`` in ``widths``, default 1, 2, 3). A candidate needs ``min_plateau``
points on each side (``tau >= min_plateau - 1`` and ``n - tau - w >= min_plateau``), so a bend at an end
of the series is left to the smooth. Its *location* is the checkpoint ``tau + ceil(w / 2)``, the first
point at or past the ramp's midpoint.

Statistic
---------
With ``W`` the Prais-Winsten transform of AR(1) with coefficient ``phi`` (``(W v)_0 = sqrt(1 - phi^2)
v_0``, ``(W v)_t = v_t - phi v_{t-1}``), ``RSS_0`` the residual sum of squares of the GLS fit of ``W y`` on
``W S`` (``S`` the spline basis with ``smooth_df`` columns, default 4) and ``RSS_c`` that with ramp ``c``
added,

    T = max_c (RSS_0 - RSS_c) / RSS_0,

the largest fraction of the smooth fit's whitened residual variance one ramp explains (invariant to the
noise scale and to anything in the span of ``S``). Vectorised: the whitened ramps are residualised against
the whitened basis once, and all candidates of all series (or null draws) are one matrix product.

Null: the fitted smooth plus AR(1) noise (a parametric bootstrap)
-----------------------------------------------------------------
The *null fit* is OLS on a more flexible spline (``null_df`` columns, default 6) plus the best single ramp;
its smooth part ``s_hat`` (the fit without the ramp's term) is the null curve, so a drop in the data is
not copied into the null, while the statistic's misfit of a strongly curved smooth decay (a 4-column spline
misses the early power-law descent by ~2 noise sds) is in the null draws too. The noise model comes from
the null fit's residuals ``r`` over the neighbour pairs outside the null fit's ramp widened by one point on
each side (what a drop leaves in the residuals sits there):

* ``phi``: their lag-1 autocorrelation, bias-corrected with a deliberate lean upward (a null with too small
  a ``phi`` is too light);
* ``sigma`` (marginal sd): from the residuals' robust first-difference variance;
both in :mod:`toposcale.analysis.changepoint_noise` (definitions and why).

Null draws are ``s_hat + sigma * AR(1)``; whitened with the same ``W`` they are ``W s_hat + sigma sqrt(1 -
phi^2) E`` with ``E`` white (Prais-Winsten turns AR(1) noise of marginal sd ``sigma`` into white noise of sd
``sigma sqrt(1 - phi^2)``, the innovations' sd), so the standard normal matrix ``E`` (``n_null`` rows,
seeded) is shared by every series of a call and the per-series cost is one ``(n_null, candidates)`` array.
``p = (1 + #{T_null >= T}) / (n_null + 1)``. Until issue 21's session 10 the draws used ``sigma E``: 2.3
times too much noise at phi 0.9 (1.15 at 0.5), which drowned the smooth's misfit in the null draws while
the data kept it. That, not the null curve ``s_hat`` it was put down to, was the excess FPR at phi 0.9
(0.07-0.17): with the true curve and true noise in the null the FPR was 0.068 (32 points, power decay;
now 0.048 on 3,000 curves), and more noise in the null made it worse.

Schedule in the smooth (``anneal``, config ``transitions.anneal``)
-------------------------------------------------------------------
A warmup + cosine run's loss speeds up while the learning rate anneals (a known shape, not a transition).
With ``anneal`` (the schedule's lr decay so far at the points,
:func:`toposcale.analysis.lr_schedule.anneal_covariate`) the statistic's smooth and the null fit get it as
one more column (any sign), so the speed-up is part of ``s`` (without it, after the noise-scale fix, the
cosine shape's FPR at phi 0.9 is 0.12 at 32 checkpoints). The noise model is still read from the fit
without it (the spline plus the best ramp): at 25-39 points the ``phi`` estimator barely moves between
0.6 and 0.95, and one more column can tip a white-noise series to 0.95, whose heavy null loses a 15-sd
drop (``tests/test_transitions.py``). Its cost: a drop during annealing is partly absorbed (power on the
planted drop at phi 0: 0.12 instead of 0.20 at 32 checkpoints).

Warmup (``warmup_points``, config ``transitions.ramp_after_warmup``, default on)
-------------------------------------------------------------------------------
While the learning rate warms up a loss that is smooth in the cumulative learning rate ``S`` starts flat
(``E + A (S + 1)^-alpha``: 5.52, 5.40, 5.20 nats at steps 1, 3, 5 of a 968-step run; the study's runs
read 5.54, 5.45, 5.29). In log step that is a plateau and then a descent, whose knee a cubic spline over
the decades of steps cannot follow, and the scan puts a ramp there: any change point in 0.47-0.99 of such
series at the default study's run schedules longer than 62 steps (``benchmarks/changepoint_run_schedules.py
--flat-start 1 --max-change-points 3 --draws 200 --no-ramp-after-warmup``, phi 0.9, ``ramp+rebound``). Modelling the start instead failed (the offset ``S0``
enters nonlinearly; a ``log(S / t)`` column or a log-``S`` axis left 0.3-1.0; "Also rejected" below). So
with ``warmup_points = k`` (the checkpoints at steps ``<= warmup_steps``,
:func:`toposcale.analysis.lr_schedule.warmup_points`) only ramps that rise entirely after them are
scanned (``tau >= k``: the ramp's last flat point is itself past the warmup), in the statistic and in the
null fit; the points in the warmup still shape the smooth and the noise model. Measured (issue 21
session 13; 200 curves per cell, 199 null draws, ``ramp+rebound``, up to 3 change points):

* flat start, any change point: 0.005-0.040 at every run schedule of the default study (was 0.47-0.99
  above 62 steps); the power decay and cosine controls 0.025-0.055 and 0.010-0.065 (before 0.025-0.055 and
  0.015-0.145: the 62-step runs' cosine control, whose cliff at steps 1-3 lies in their 3-step warmup,
  falls from 0.145 to 0.065);
* the calibration schedule (4,336 steps, ``benchmarks/changepoint_power.py --ramp-after-warmup``, 400
  curves): decay / cosine FPR unchanged within MC error (0.015-0.065); the 5-sd plateau drop (planted
  uniformly in the middle 30-80% of the checkpoints, some inside the warmup) located 0.050, 0.050, 0.350 at
  phi 0, 0.5, 0.9 at 32 checkpoints (0.048, 0.037, 0.477 without), 0.163, 0.065, 0.500 at 39 (0.135,
  0.060, 0.603); the staircase's bigram drop located 0.120, 0.195, 0.420 at 32 (0.033, 0.072, 0.215
  without: the warmup descent no longer takes the change-point slots) and 0.242, 0.393, 0.487 at 39;
* the default study's real unigram->bigram crossings: 14 of 16 at the test's own level, as without it, now
  as each run's first change point instead of its second; after Benjamini-Hochberg over the primary family
  12 (``analysis/stage_recall.csv``): swiglu-d40L2's two series were significant only through their warmup
  change point before, and their bigram drops (p 0.030-0.044) do not pass BH alone.

What it costs: a drop inside the warmup is not tested by the ramp scan (the rebound test still sees a drop
after a slowdown there, but not a single drop from a flat start). The warmup is 5% of a run's steps but
holds 13 of the 32 checkpoints of the study's longest runs (log spacing); the change-point verdict is
about the run after its warmup, and the operating check plants its drop there.

What was tried and rejected (issue 21, ``/tmp`` experiments, 150 draws, 199 null draws): a *local* jump
statistic (a least-squares line in log step through the ``k`` checkpoints on each side of each candidate
window, the jump between the two lines at the window's midpoint, standardised by its AR(1) standard error,
the same parametric null; two-sided). A ``k``-point line extrapolated past the window is noisy (at ``k = 3`` and a
3-checkpoint window the jump's sd is ~2.6 noise sds in white noise, so a 5-sd drop gives ``z`` ~ 1.9): drop
found and located in 0.03 / 0.08 / 0.45 of series (phi 0 / 0.5 / 0.9, 25 checkpoints) against 0.09 / 0.10 /
0.65 for this scan, and at ``k = 5`` FPR up to 0.23 (39 checkpoints, phi 0.9). Local *means* instead of lines are dominated by the early descent of every loss
curve (tens of noise sds between neighbouring early checkpoints).

Also rejected (issue 21 session 11, ``benchmarks/changepoint_run_schedules.py``, phi 0.9, 400 curves per
cell): a second schedule column, the log of the mean learning rate so far (``log(S / t)``, ``S`` the
cumulative rate: the warmup's bend in log step). At the default study's own run schedules it takes the
cosine control's FPR from 0.19 to 0.08 (the 62-step d16 runs) and to <= 0.05 elsewhere, but at the
4,336-step calibration schedule from 0.032 to 0.082 (the ramp scan alone 0.040 to 0.133, false positives
around the warmup's end), and the flat start below still gets a change point in 0.33-0.98 of series at
the 379-968-step runs' schedules.

Without ``warmup_points`` a smooth flat start is taken for a change: a loss smooth in the cumulative
learning rate that starts flat at ln 256 while the rate warms up (``cosine_schedule_loss(offset=1)``, as
the study's runs start) is a plateau and a descent in log step, and the scan places a ramp at its steepest
warmup descent (> 0.5 of series at a d64 run's schedule;
``tests/test_changepoint.py::test_flat_start_is_no_transition`` asserts both rates, with and without).

The power limit at phi 0 is information, not mechanics: a test that must not fire on every curve in the
span of a cubic spline can only use the part of the drop orthogonal to that span; for a 5-sd drop over 3
checkpoints at 25 log-spaced checkpoints its norm is 3.3-3.5 noise sds (4 columns), 2.1-2.5 (6 columns),
1.4 (8 columns) (39 checkpoints: 3.6-5.3, 2.8-3.9, 2.3-2.9), i.e. below the ~3.3 sds a maximum over ~60
candidate positions needs at 5% even if the location were known. The targets of issue 21 (power 0.9 on a
5-sd drop in white noise) are out of reach at this density for any null that contains smooth spline
bends; under strong autocorrelation (phi 0.9) the whitened drop stands out and power is 0.5-0.8.

Operating characteristics (``benchmarks/changepoint_power.py --method ramp --anneal --draws 600 --n-null
199``, noise sd 0.02; Monte Carlo se <= 0.02; issue 21 session 10): FPR on ``1.6 + 4 t^-0.35`` / the
warmup + cosine shape at phi 0, 0.5, 0.9: 25 log checkpoints 0.037/0.037, 0.048/0.055, 0.060/0.053; the
study's 32 (26 log + 8 linear) 0.020/0.022, 0.042/0.023, 0.050/0.040; 39 log+linear 0.038/0.012,
0.053/0.038, 0.068/0.055 (the decay 0.08 +- 0.01 on another 800 curves: slightly above nominal there);
dense (51 bins) <= 0.063. Before the noise-scale fix: 0.068/0.037 (25) and 0.165/0.128 (39) at phi 0.9.
Without the bias correction of phi at phi 0.9: 0.157/0.112 (25), 0.158/0.055 (32), 0.185/0.110 (39).
Power on the 5-sd drop over 3 checkpoints (located within 1) at phi 0, 0.5, 0.9: 25 log 0.058, 0.083,
0.497; 32 0.100, 0.072, 0.580; 39 log+linear 0.183, 0.123, 0.690; dense 0.86-0.88. Asserted at reduced size
in ``tests/test_changepoint.py``.

On the default study's real runs the test finds the end of the initial descent from ln 256 to the unigram
plateau and not the unigram-to-bigram drop, which spans 3-7 checkpoints and is absorbed by the spline (1 of
16 complete crossings; ``benchmarks/changepoint_real_recall.py --method ramp``).

Several change points: sequential testing. When the first ramp's ``p < significance`` it is added to the
smooth basis and the scan is repeated over the candidates whose location is more than ``max(widths)``
checkpoints from every change point found (a drop that is not exactly linear leaves residual bumps at its
ends), with its own null, up to ``max_change_points``; the sequence stops at the first ``p >=
significance``. The first p-value is the series' p-value.

Dense curves (a loss logged every few steps): binned in log step first, in
:mod:`toposcale.analysis.changepoint_dense`.

A second test, the descent-rate rebound (``method: rebound``), lives in :mod:`toposcale.analysis.rebound`;
:func:`toposcale.analysis.change_test.change_points` dispatches to either or, the study's default
(``method: ramp+rebound``), runs both at half the level and combines them by Bonferroni.

Why hand-written: ``ruptures`` segments with a penalty but has no test (no null distribution) and its
PELT is pure Python per series; ``statsmodels`` fits AR models but offers no ramp scan. The mechanics here
are linear algebra (QR, one matrix product per design) and a scipy B-spline basis. The operating
characteristics (false-positive rate on smooth decays and the cosine-schedule shape under AR(1) noise up to
``phi = 0.9``, power on plateau-drop-plateau curves) are measured by ``benchmarks/changepoint_power.py``
and asserted at reduced size in ``tests/test_changepoint.py``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.interpolate import BSpline

from toposcale.analysis.changepoint_noise import _null_fit, noise_model
from toposcale.analysis.lr_schedule import check_anneal

METHOD = "ramp scan on a regression spline, AR(1) GLS, parametric null"

#: Defaults of the test (the config's ``transitions`` section repeats them; the schema holds the study's).
RAMP_WIDTHS = (1, 2, 3)
SMOOTH_DF = 4
NULL_DF = 6
MIN_PLATEAU = 3


# ----------------------------------------------------------------------------- design

def spline_basis(x, df: int = SMOOTH_DF) -> np.ndarray:
    """Cubic B-spline basis of ``x``, shape ``(n, df)``: ``df - 4`` interior knots at the quantiles
    ``j / (df - 3)`` of ``x`` (boundary knots at the ends). The columns sum to 1 (the intercept is in the span)."""
    x = np.asarray(x, dtype=float)
    if df < 4:
        raise ValueError(f"smooth_df={df}: a cubic spline needs at least 4 columns")
    inner = np.unique(np.quantile(x, np.linspace(0.0, 1.0, df - 2)[1:-1])) if df > 4 else np.zeros(0)
    inner = inner[(inner > x[0]) & (inner < x[-1])]
    t = np.r_[[x[0]] * 4, inner, [x[-1]] * 4]
    return BSpline.design_matrix(x, t, 3).toarray()


def ramp_candidates(n: int, widths=RAMP_WIDTHS, min_plateau: int = MIN_PLATEAU):
    """The candidate ramps of an ``n``-point series.

    Returns ``(Z, tau, w, loc)``: ``Z`` shape ``(n, C)``, column ``c`` the ramp ``clip((i - tau_c) / w_c,
    0, 1)``; ``tau``, ``w`` and the location ``loc = tau + ceil(w / 2)`` per candidate.
    """
    pairs = [(t, w) for w in widths for t in range(min_plateau - 1, n - w - min_plateau + 1)]
    tau = np.array([p[0] for p in pairs], dtype=int)
    w = np.array([p[1] for p in pairs], dtype=int)
    i = np.arange(n)[:, None]
    Z = np.clip((i - tau[None, :]) / np.maximum(w, 1)[None, :], 0.0, 1.0)
    return Z, tau, w, tau + (w + 1) // 2


def prais_winsten(phi: float, n: int) -> np.ndarray:
    """The ``(n, n)`` matrix that turns stationary AR(1) noise of unit variance into white noise."""
    W = np.eye(n)
    W[0, 0] = math.sqrt(1.0 - phi * phi)
    W[np.arange(1, n), np.arange(n - 1)] = -phi
    return W


class _Scan:
    """The ramp scan for one whitened design: ``stat(Yw)`` gives ``T`` and the best candidate per row."""

    def __init__(self, S: np.ndarray, Z: np.ndarray, W: np.ndarray, allowed: np.ndarray | None = None):
        Sw, Zw = W @ S, W @ Z
        u, sv, _ = np.linalg.svd(Sw, full_matrices=False)
        self.Q = u[:, sv > 1e-10 * sv[0]]
        U = Zw - self.Q @ (self.Q.T @ Zw)
        nrm = np.sqrt(np.sum(U * U, axis=0))
        ok = nrm > 1e-8 * max(float(nrm.max(initial=0.0)), 1e-300)
        if allowed is not None:
            ok &= allowed
        self.U = np.where(ok, U / np.where(ok, nrm, 1.0), 0.0)
        self.ok = ok

    def stat(self, Yw: np.ndarray):
        r = Yw - (Yw @ self.Q) @ self.Q.T
        rss0 = np.sum(r * r, axis=1)
        red = (r @ self.U) ** 2
        red[:, ~self.ok] = -1.0
        k = np.argmax(red, axis=1)
        best = red[np.arange(len(k)), k]
        t = np.where(rss0 > 0, np.maximum(best, 0.0) / np.where(rss0 > 0, rss0, 1.0), 0.0)
        return t, k


# ----------------------------------------------------------------------------- the test

def _check(Y, x):
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    x = np.asarray(x, dtype=float)
    if Y.ndim != 2 or x.ndim != 1 or Y.shape[1] != len(x):
        raise ValueError(f"Y must be (series, points) with one x per point; got Y {Y.shape}, x {x.shape}")
    if not (np.all(np.isfinite(Y)) and np.all(np.isfinite(x))):
        raise ValueError("Y and x must be finite (drop NaN points and step 0 before calling)")
    if len(x) > 1 and np.any(np.diff(x) <= 0):
        raise ValueError("x must be strictly increasing; sort the series and drop duplicate steps")
    return Y, x


def min_points(smooth_df: int = SMOOTH_DF, widths=RAMP_WIDTHS, min_plateau: int = MIN_PLATEAU,
               null_df: int = NULL_DF) -> int:
    """Fewest points the test accepts (:func:`toposcale.plan.decidability.changepoint_min_points`)."""
    from toposcale.plan.decidability import changepoint_min_points

    return changepoint_min_points(smooth_df, null_df, widths, min_plateau)


def _p_values(Y, smooth, sigma, phi, S, Z, allowed, E, *, chunk_cells: int = 4_000_000):
    """p-values of the rows of ``Y`` (one ``phi``): ``T`` of each row against ``T`` of its own null draws
    ``smooth + sigma * AR(1)``, whitened to ``W smooth + sigma * E`` (``E`` white, common to all rows)."""
    W = prais_winsten(phi, Y.shape[1])
    sigma = np.asarray(sigma, dtype=float) * math.sqrt(1.0 - phi * phi)   # sd of the whitened noise W e
    scan = _Scan(S, Z, W, allowed)
    t, k = scan.stat(Y @ W.T)
    Ep = E - (E @ scan.Q) @ scan.Q.T                      # (B, n) residualised white noise
    A = Ep @ scan.U                                         # (B, C)
    e2 = np.sum(Ep * Ep, axis=1)                            # (B,)
    sw = smooth @ W.T
    sp = sw - (sw @ scan.Q) @ scan.Q.T                      # (m, n)
    a = sp @ scan.U                                         # (m, C)
    cross = sp @ Ep.T                                       # (m, B)
    s2 = np.sum(sp * sp, axis=1)
    p = np.empty(len(Y))
    step = max(1, chunk_cells // (E.shape[0] * Z.shape[1]))
    for lo in range(0, len(Y), step):
        sl = slice(lo, lo + step)
        sg = sigma[sl, None, None]
        red = (a[sl, None, :] + sg * A[None]) ** 2
        red[:, :, ~scan.ok] = -1.0
        rss0 = s2[sl, None] + 2 * sigma[sl, None] * cross[sl] + sigma[sl, None] ** 2 * e2[None]
        tn = np.max(red, axis=2) / np.maximum(rss0, 1e-300)
        p[sl] = (1.0 + np.sum(tn >= t[sl, None] - 1e-12, axis=1)) / (E.shape[0] + 1.0)
    return p, t, k


def change_points_batch(Y, x, *, n_null: int = 999, significance: float = 0.05, smooth_df: int = SMOOTH_DF,
                        null_df: int = NULL_DF, widths=RAMP_WIDTHS, min_plateau: int = MIN_PLATEAU,
                        max_change_points: int = 3, correct_phi: bool = True, weights=None,
                        anneal=None, warmup_points: int = 0, seed: int = 0) -> list[dict]:
    """The change-point test (module docstring) of every row of ``Y``, all sharing positions ``x``.

    Parameters
    ----------
    Y : array_like, shape (m, n)
        Series (finite), one per row.
    x : array_like, shape (n,)
        Strictly increasing positions (log step).
    n_null : int
        Null draws per series; the smallest p-value is ``1 / (n_null + 1)``.
    significance : float
        Level of each step of the sequential scan.
    smooth_df, null_df : int
        Spline columns of the statistic's smooth and of the null fit.
    widths, min_plateau, max_change_points : tuple, int, int
        Ramp widths (checkpoints), fewest points on each side of a ramp, most change points.
    correct_phi : bool
        Bias-correct the AR(1) coefficient (``False`` only to show what the correction buys).
    weights : array_like, shape (n,), optional
        Inverse noise variances of the points (weighted least squares: the series, the splines and the
        ramps are multiplied by ``sqrt(weights)`` and the AR(1) model applies to the result); used for
        binned dense curves.
    anneal : array_like, shape (n,), optional
        The schedule's lr decay so far at the points (module docstring, "Schedule in the smooth").
    warmup_points : int
        Points trained at least partly in the learning-rate warmup (the first ``warmup_points``): only
        ramps that rise entirely after them are scanned (``tau >= warmup_points``), in the statistic and in
        the null fit (module docstring, "Warmup"); 0 scans every ramp.
    seed : int
        Seed of the null draws (common to every series of the call).

    Returns
    -------
    list of dict, one per row: ``p_value`` and ``statistic`` of the first scan, ``phi`` and ``sigma`` (the
    noise model of the first null fit), ``change_points`` (locations, in order found),
    ``change_point_p_values``, ``change_point_statistics``, ``ramp_starts``, ``ramp_widths``, ``method``. A
    series shorter than :func:`min_points`, and a constant one (it has nothing to change; its noise model
    would be rounding error), gets ``p_value`` NaN and no change points.
    """
    Y, x = _check(Y, x)
    m, n = Y.shape
    varying = np.ptp(Y, axis=1) > 0 if n else np.zeros(m, dtype=bool)
    if not 0 < significance < 1:
        raise ValueError(f"significance={significance} must lie in (0, 1)")
    if n_null < 1:
        raise ValueError(f"n_null={n_null} must be at least 1")
    out = [dict(p_value=np.nan, statistic=np.nan, phi=np.nan, sigma=np.nan, change_points=[],
                change_point_p_values=[], change_point_statistics=[], ramp_starts=[], ramp_widths=[],
                method=METHOD) for _ in range(m)]
    if n < min_points(smooth_df, widths, min_plateau, null_df) or m == 0:
        return out
    St, Sf = spline_basis(x, smooth_df), spline_basis(x, null_df)
    Sn = Sf                          # the noise model's basis: the spline alone (see "Schedule" above)
    anneal = check_anneal(anneal, n)
    if anneal is not None and np.ptp(anneal) > 0:      # the schedule's speed-up is part of the smooth
        St, Sf = np.column_stack([St, anneal]), np.column_stack([Sf, anneal])
    Z, tau, w, loc = ramp_candidates(n, widths, min_plateau)
    scanned = tau >= int(warmup_points)
    span = (tau - 1, tau + w + 1)               # a ramp's points widened by one, left out of the noise model
    if weights is not None:
        d = np.sqrt(np.asarray(weights, dtype=float))
        if d.shape != (n,) or not np.all(np.isfinite(d)) or np.any(d <= 0):
            raise ValueError(f"weights must be {n} positive finite numbers, one per point")
        Y, St, Sf, Sn, Z = Y * d, St * d[:, None], Sf * d[:, None], Sn * d[:, None], Z * d[:, None]
    E = np.random.default_rng(seed).standard_normal((int(n_null), n))
    found: list[list[int]] = [[] for _ in range(m)]
    active = [i for i in range(m) if varying[i]]
    for step in range(max_change_points):
        by_set: dict[tuple, list[int]] = {}
        for i in active:
            by_set.setdefault(tuple(found[i]), []).append(i)
        active = []
        for fset, rows in by_set.items():
            allowed = scanned.copy()
            for c in fset:
                allowed &= np.abs(loc - loc[c]) > max(widths)
            if not allowed.any():
                continue
            fixed = [Z[:, c] for c in fset]
            Sf_a = np.column_stack([Sf] + fixed) if fset else Sf
            St_a = np.column_stack([St] + fixed) if fset else St
            Yr = Y[rows]
            smooth, resid, kb = _null_fit(Yr, Sf_a, Z, allowed)
            if Sn is not Sf:                 # the noise model from the spline fit without the schedule
                Sn_a = np.column_stack([Sn] + fixed) if fset else Sn
                _, resid, kb = _null_fit(Yr, Sn_a, Z, allowed)
            else:
                Sn_a = Sf_a
            phi, sigma = noise_model(resid, kb, Sn_a, Z, span, correct=correct_phi)
            for ph in np.unique(phi):
                sel = np.nonzero(phi == ph)[0]
                p, t, k = _p_values(Yr[sel], smooth[sel], sigma[sel], float(ph), St_a, Z, allowed, E)
                for j, pj, tj, kj in zip(sel, p, t, k):
                    i = rows[j]
                    if step == 0:
                        out[i].update(p_value=float(pj), statistic=float(tj), phi=float(ph), sigma=float(sigma[j]))
                    if pj < significance:
                        c = int(kj)
                        found[i].append(c)
                        out[i]["change_points"].append(int(loc[c]))
                        out[i]["change_point_p_values"].append(float(pj))
                        out[i]["change_point_statistics"].append(float(tj))
                        out[i]["ramp_starts"].append(int(tau[c]))
                        out[i]["ramp_widths"].append(int(w[c]))
                        active.append(i)
        if not active:
            break
    return out


def detect_change_points(y, x=None, **kwargs) -> dict:
    """:func:`change_points_batch` of one series (``x`` default ``0..n-1``); keyword arguments as there.

    Returns the row's dict; ``change_points`` are indices into ``y`` (the ramps' locations).
    """
    y = np.asarray(y, dtype=float)
    if y.ndim != 1:
        raise ValueError(f"y must be one-dimensional, got shape {y.shape}")
    x = np.arange(len(y), dtype=float) if x is None else np.asarray(x, dtype=float)
    return change_points_batch(y[None, :], x, **kwargs)[0]
