"""Known answers of the change-point test (toposcale.analysis.changepoint), at reduced Monte Carlo size.

Densities: the default config's 26 log-spaced checkpoints (25 at step > 0 of a 4,336-step run), the same
plus 15 linearly spaced ones (39), and a dense curve (every second step, binned into 60 log-step bins).
Noise: AR(1) with marginal sd 0.02 nats (dense: every second step, 2,168 points). Each rate comes from N_DRAWS = 60 seeded draws and 99 null draws;
a false-positive rate is accepted up to 0.05 + 3 * sqrt(0.05 * 0.95 / 60) = 0.134 (three Monte Carlo
standard errors above nominal). The full-size table is ``benchmarks/changepoint_power.py``.
"""

import math
import warnings

import numpy as np
import pytest

from toposcale.analysis.changepoint import change_points_batch, detect_change_points, ramp_candidates, spline_basis
from toposcale.analysis.diminishing_returns import diminishing_returns_index
from toposcale.analysis.changepoint_dense import change_points_dense, log_bins
from toposcale.operating.curves import rejection_rates, simulate, study_schedules

N_DRAWS, N_NULL, TOTAL = 60, 99, 4336
FPR_BOUND = 0.05 + 3 * math.sqrt(0.05 * 0.95 / N_DRAWS)
SCHED = study_schedules(TOTAL)


def rates(kind, density, phi, seed=0, **kw):
    """Rates of the ramp scan with the schedule covariate in its smooth (as the study runs it)."""
    from toposcale.analysis.lr_schedule import anneal_covariate

    step = SCHED[density]
    rng = np.random.default_rng([seed, int(10 * phi), len(step), len(kind)])
    Y, centres = simulate(kind, step, phi, N_DRAWS, rng, total=TOTAL)
    kw.setdefault("anneal", anneal_covariate(step, TOTAL))
    # batches of 20 with their own null draws: one shared set moves every series' p-value together
    res = [r for b in range(0, N_DRAWS, 20)
           for r in change_points_batch(Y[b:b + 20], np.log(step), n_null=N_NULL, seed=seed + b, **kw)]
    return rejection_rates(res, centres)


def test_design_pieces():
    x = np.log(SCHED["log"])
    S = spline_basis(x, 6)
    assert S.shape == (25, 6) and np.allclose(S.sum(axis=1), 1.0)
    Z, tau, w, loc = ramp_candidates(10, (1, 3), 3)
    assert Z.shape == (10, len(tau)) and set(w) == {1, 3}
    assert tau.min() == 2 and (10 - tau - w >= 3).all()                  # 3 points on each side
    c = int(np.nonzero((tau == 4) & (w == 3))[0][0])
    assert np.allclose(Z[:, c], [0, 0, 0, 0, 0, 1 / 3, 2 / 3, 1, 1, 1]) and loc[c] == 6
    assert SCHED["log"].size == 25 and SCHED["log+linear"].size == 39


def test_row_nanmedian_is_numpys_nanmedian():
    """The noise model's row median equals ``np.nanmedian(A, axis=1)`` bit for bit: odd and even counts,
    NaN anywhere, a row of NaN (NaN), one value."""
    from toposcale.analysis.changepoint_noise import _row_nanmedian

    rng = np.random.default_rng(3)
    A = rng.standard_normal((400, 31))
    A[rng.random(A.shape) < 0.3] = np.nan
    A[0] = np.nan
    A[1, 1:] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # numpy warns on the all-NaN row
        expected = np.nanmedian(A, axis=1)
    assert np.array_equal(_row_nanmedian(A), expected, equal_nan=True)
    assert np.isnan(_row_nanmedian(A)[0]) and _row_nanmedian(A)[1] == A[1, 0]
    assert _row_nanmedian(np.array([[1.0, np.nan, 4.0, 2.0]]))[0] == 2.0
    assert _row_nanmedian(np.array([[1.0, 3.0, np.nan, 2.0, 10.0]]))[0] == 2.5


def test_sharp_drop_located_and_sequential_second_drop():
    step = SCHED["log+linear"]
    n = len(step)
    rng = np.random.default_rng(5)
    y = 3.0 - 0.2 * (np.arange(n) >= 15) - 0.2 * (np.arange(n) >= 28) + 0.01 * rng.normal(size=n)
    r = detect_change_points(y, np.log(step), n_null=199)
    assert r["p_value"] == pytest.approx(1 / 200) and sorted(r["change_points"]) == [15, 28]
    assert len(r["change_point_p_values"]) == 2 and all(p < 0.05 for p in r["change_point_p_values"])
    again = detect_change_points(y, np.log(step), n_null=199)
    assert again == r                                                   # deterministic (seeded null)


def test_schedule_covariate_is_part_of_the_ramp_scans_smooth():
    """A spline plus a multiple of the schedule's lr decay (a 0.9-nat late speed-up) plus white noise of sd
    0.002: with the schedule in the smooth no ramp is found, without it the speed-up is a change."""
    from toposcale.analysis.lr_schedule import anneal_covariate

    step = SCHED["study"]
    x = np.log(step)
    an = anneal_covariate(step, TOTAL)
    y = (spline_basis(x, 4) @ np.array([3.0, 2.6, 2.3, 2.2]) - 1.0 * an
         + 0.002 * np.random.default_rng(3).standard_normal(len(x)))
    with_schedule = detect_change_points(y, x, n_null=99, anneal=an)
    assert with_schedule["p_value"] > 0.2 and with_schedule["change_points"] == []
    assert detect_change_points(y, x, n_null=99)["p_value"] < 0.05
    with pytest.raises(ValueError, match="anneal must be 32 finite numbers"):
        detect_change_points(y, x, anneal=an[:-1])


def test_null_draws_carry_the_whitened_noise_scale():
    """With the true curve and the true AR(1) noise (phi 0.9, marginal sd 0.02) as the null, the p-values are
    uniform: the null draws' whitened noise has sd ``sigma sqrt(1 - phi^2)``, the sd of Prais-Winsten-whitened
    AR(1) noise. Until issue 21's session 10 it was ``sigma`` (2.3 times too much noise at phi 0.9: the curve's
    misfit drowned in the null draws, mean p 0.37 here, and the FPR at phi 0.9 was 0.07-0.13)."""
    from toposcale.analysis.changepoint import _p_values
    from toposcale.operating.curves import ar1, power_decay

    step = SCHED["study"]
    x, n = np.log(step), len(step)
    Z, *_ = ramp_candidates(n)
    curve = power_decay(step)                       # a 4-column spline misses its early descent by ~2 sds
    Y = curve + ar1(200, n, 0.9, 0.02, np.random.default_rng(1))
    E = np.random.default_rng(2).standard_normal((199, n))
    p = _p_values(Y, np.broadcast_to(curve, Y.shape).copy(), np.full(200, 0.02), 0.9, spline_basis(x, 4), Z,
                  np.ones(Z.shape[1], dtype=bool), E)[0]
    assert 0.45 <= p.mean() <= 0.6 and (p < 0.1).mean() <= 0.15, (p.mean(), (p < 0.1).mean())


@pytest.mark.parametrize("density", ["log", "log+linear"])
@pytest.mark.parametrize("kind", ["power_decay", "cosine"])
@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_false_positive_rate_on_smooth_decays(density, kind, phi):
    fpr, se = rates(kind, density, phi)["reject"]
    # full size (benchmarks/changepoint_power.py --method ramp --anneal --draws 600 --n-null 199) at phi 0.9:
    # 0.058/0.052 (log), 0.067/0.055 (log+linear; the decay on 800 other curves 0.08 +- 0.01: NOT nominal
    # at 39 checkpoints, this guard only keeps it there); until issue 21's session 10 (null noise too large)
    # 0.165/0.128 at 39
    bound = 0.2 if (density, phi) == ("log+linear", 0.9) else FPR_BOUND
    assert fpr <= bound, (density, kind, phi, fpr, se)


def test_bias_correction_of_phi_buys_calibration():
    """Uncorrected, the residual lag-1 autocorrelation reads AR(1) phi = 0.9 as ~0.6: the null is too light.
    Pooled over both smooth shapes and three seeds (360 curves; 25 log checkpoints)."""
    corrected = np.mean([rates(k, "log", 0.9, seed=s)["reject"][0] for k in ("cosine", "power_decay")
                         for s in range(3)])
    raw = np.mean([rates(k, "log", 0.9, seed=s, correct_phi=False)["reject"][0] for k in ("cosine", "power_decay")
                   for s in range(3)])
    assert raw >= corrected + 0.02, (raw, corrected)       # here 0.12 vs 0.06


@pytest.mark.parametrize("density", ["log", "log+linear"])
def test_power_on_planted_drop_at_phi_09(density):
    """5-sd drop over 3 checkpoints, AR(1) phi 0.9, the schedule in the smooth: full size 0.567 +- 0.020
    (log) and 0.747 +- 0.018 (log+linear) power (600 draws); bound at 60 draws: the full-size rate less 3
    standard errors at 60 draws (0.19, 0.17), rounded down. Below the issue's 0.9 (not met)."""
    r = rates("plateau_drop", density, 0.9, max_change_points=1)
    assert r["reject"][0] >= {"log": 0.35, "log+linear": 0.55}[density], r
    assert r["located"][0] >= r["reject"][0] - 0.15, r                  # found drops sit within 1 checkpoint


@pytest.mark.xfail(strict=True, reason="issue 21 item 4 not met: a 5-sd drop over 3 checkpoints in white noise "
                   "is found and located in 7.5% (log) / 34.3% (log+linear) of series (full size, 400 draws); "
                   "information-limited for a spline null (see the module docstring)")
@pytest.mark.parametrize("density", ["log", "log+linear"])
def test_power_requirement_white_noise(density):
    r = rates("plateau_drop", density, 0.0, max_change_points=1)
    assert r["located"][0] >= 0.9 - 3 * r["located"][1]


def test_dense_curve_calibrated_and_powered():
    step = np.arange(2.0, TOTAL + 1, 2.0)
    out = {}
    for kind, phi in (("cosine", 0.0), ("cosine", 0.9), ("power_decay", 0.5), ("plateau_drop", 0.5)):
        rng = np.random.default_rng([11, int(10 * phi), len(kind)])
        Y, _ = simulate(kind, step, phi, N_DRAWS, rng, total=TOTAL)
        res, xb, counts = change_points_dense(Y, step, n_null=N_NULL, max_change_points=1)
        out[(kind, phi)] = rejection_rates(res)["reject"][0]
    assert counts.sum() == len(step) and len(xb) <= 60
    assert out[("cosine", 0.0)] <= FPR_BOUND and out[("cosine", 0.9)] <= FPR_BOUND
    assert out[("power_decay", 0.5)] <= FPR_BOUND
    assert out[("plateau_drop", 0.5)] >= 0.7                             # full size 0.882 +- 0.016


def test_noise_model_ignores_a_drop_left_in_the_residuals():
    """White noise of sd 0.02 with a 0.3 drop (15 sds) over 2 checkpoints: the noise model, read outside the
    null fit's ramp, gives phi near 0 and sigma near 0.02 (seeded; bounds wide for 25 points)."""
    from toposcale.analysis.changepoint_noise import _null_fit, noise_model

    x = np.log(SCHED["log"])
    n = len(x)
    rng = np.random.default_rng(7)
    Y = 1.0 - 0.3 * (np.arange(n) >= 14) - 0.15 * (np.arange(n) == 13) + 0.02 * rng.standard_normal((20, n))
    Z, tau, w, _ = ramp_candidates(n)
    Sf = spline_basis(x, 6)
    _, resid, k = _null_fit(Y, Sf, Z, np.ones(Z.shape[1], dtype=bool))
    phi, sigma = noise_model(resid, k, Sf, Z, (tau - 1, tau + w + 1))
    assert np.median(phi) <= 0.3 and 0.014 <= np.median(sigma) <= 0.03, (phi, sigma)


def test_log_bins_and_validation():
    b, counts, xb = log_bins(np.arange(1.0, 101.0), 10)
    assert counts.sum() == 100 and np.all(np.diff(xb) > 0) and b[0] == 0 and b[-1] == len(counts) - 1
    with pytest.raises(ValueError, match="increasing"):
        change_points_batch(np.zeros((1, 20)), np.r_[np.arange(19.0), 3.0])
    with pytest.raises(ValueError, match="finite"):
        change_points_batch(np.full((1, 20), np.nan), np.arange(20.0))
    short = detect_change_points(np.arange(8.0))
    assert math.isnan(short["p_value"]) and short["change_points"] == []


def test_diminishing_returns_index():
    x = np.geomspace(1, 1000, 20)
    y = 2.0 + 3.0 * x ** -0.8
    i = diminishing_returns_index(y, x, frac=0.1)
    assert i is not None and 0 < i < 19
    assert diminishing_returns_index(np.ones(20), x) is None


# ----------------------------------------------------------------------------- rate rebound (method 'rebound')

from toposcale.analysis.change_test import change_points  # noqa: E402
from toposcale.analysis.rebound import local_rates, rebound_batch, unimodal_rate_fit  # noqa: E402
from toposcale.operating.curves import staircase  # noqa: E402


def rebound_rates(kind, density, phi, seed=0, **kw):
    step = SCHED[density]
    rng = np.random.default_rng([seed, int(10 * phi), len(step), len(kind), 7])
    Y, centres = simulate(kind, step, phi, N_DRAWS, rng, total=TOTAL)
    return rejection_rates(rebound_batch(Y, np.log(step), n_null=N_NULL, seed=seed, **kw), centres)


def test_rebound_pieces():
    x = np.log(SCHED["log"])
    y = 1.6 + 4.0 * np.exp(x) ** -0.35
    d, se, centre = local_rates(y[None], x, 3)
    assert d.shape == (1, 23) and np.all(np.diff(d[0]) < 0) and list(centre[:2]) == [1, 2]
    assert np.allclose(unimodal_rate_fit(y, x), y, atol=0.02)       # a convex decay is (nearly) its own fit
    f = unimodal_rate_fit(staircase(25, [17.0], [5.0])[0], x)
    r = -np.diff(f) / np.diff(x)
    k = int(np.argmax(r))
    assert np.all(np.diff(r[:k + 1]) >= -1e-9) and np.all(np.diff(r[k:]) <= 1e-9)   # unimodal rate


@pytest.mark.parametrize("kind", ["power_decay", "cosine"])
@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_rebound_false_positive_rate_log(kind, phi):
    """25 log-spaced checkpoints: full size (200 draws, 199 null draws) FPR 0.000 for every setting."""
    fpr, se = rebound_rates(kind, "log", phi)["reject"]
    assert fpr <= FPR_BOUND, (kind, phi, fpr, se)


@pytest.mark.parametrize("kind", ["power_decay", "cosine"])
@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_rebound_false_positive_rate_log_linear(kind, phi):
    """39 checkpoints (log + linear): full size (200 draws, 199 null draws) power decay / cosine FPR 0.030/0.040,
    0.095/0.110, 0.125/0.055 at phi 0, 0.5, 0.9: above 0.05 at phi >= 0.5 (rebound module docstring); the bound
    here (0.134 at 60 draws) is that of a nominal test and the seeded draws stay within it."""
    fpr, se = rebound_rates(kind, "log+linear", phi)["reject"]
    assert fpr <= FPR_BOUND, (kind, phi, fpr, se)


@pytest.mark.xfail(strict=True, reason="not met: staircase power of the rebound test at 39 checkpoints, phi 0.5, "
                   "full size 0.83 (located 0.62); the spline null fit's misfit of a staircase reads as phi ~0.95 "
                   "(benchmarks/changepoint_power.py --method rebound)")
def test_rebound_power_on_staircase_log_linear():
    """ln 256 -> 3.05 -> 2.3 nats, second drop over 4-6 checkpoints, AR(1) phi 0.5 (sd 0.02), 39 checkpoints."""
    r = rebound_rates("staircase", "log+linear", 0.5)
    assert r["reject"][0] >= 0.9, r


@pytest.mark.xfail(strict=True, reason="by construction: a plateau-drop-plateau from a flat start has a unimodal "
                   "descent rate, the rebound test's null shape (full size power 0.02-0.33)")
def test_rebound_power_on_plateau_drop():
    assert rebound_rates("plateau_drop", "log+linear", 0.9)["reject"][0] >= 0.9


def test_rebound_finds_real_like_bigram_drop_and_two_sided():
    """A real-like staircase (5.55 -> 3.05 plateau -> 2.3 over 5 log-spaced checkpoints mid-run, white noise
    sd 0.003, the size of the default study's checkpoint val-loss noise): the rebound test finds the plateau-to-bigram drop within one checkpoint of its midpoint, not
    the end of the first descent; the two-sided test finds (not locates) it in a rising copy. (Failed before the
    data's valley depths were standardised by the high-pass scale like the null draws' were, not by the
    marginal sd: with phi read as 0.95 that shrank the data's statistic ~6-fold, p 0.31.)"""
    step = SCHED["log+linear"]
    x = np.log(step)
    centre = 24.0
    y = staircase(len(step), [centre], [5.0])[0] + 0.003 * np.random.default_rng(3).standard_normal(len(step))
    r = rebound_batch(y[None], x, n_null=199)[0]
    assert r["p_value"] <= 0.01 and abs(r["change_points"][0] - centre) <= 1, r
    two = change_points(-y[None], x, "rebound", two_sided=True, n_null=199)[0]
    # found (p 2 * 1/200), but NOT located: in the flipped series the drop is a trough of the rate followed by
    # a recovery to ~0, a deeper valley than the true one, so the change point sits at the recovery's end
    assert two["p_value"] <= 0.02 and two["change_points"]
    with pytest.raises(ValueError, match="transitions.method"):
        change_points(y[None], x, "spline")


# ----------------------------------------------------------------------------- rebound noise model 'sup'

def test_rebound_sup_noise_finds_a_drop_merged_with_the_first_descent():
    """A staircase whose bigram drop (centre checkpoint 14 of 39, 10-90% over 4) follows the first descent
    (centre 8, over 6) with no plateau between, white noise sd 0.003 (the default study's gelu-d56/d64 shape):
    the spline noise model reads phi 0.95 and misses it (p 1.0); ``noise='sup'`` (window 2, allowance 0)
    finds it (p at the floor 1/200) but locates the rate peak 3 checkpoints late on this synthetic curve
    (on the 7 real runs it locates within one: benchmarks/changepoint_real_recall.py)."""
    step = SCHED["log+linear"]
    x = np.log(step)
    y = staircase(len(step), [14.0], [4.0], first_centre=8.0, first_span=6.0)[0]
    y = y + 0.003 * np.random.default_rng(3).standard_normal(len(step))
    assert rebound_batch(y[None], x, n_null=199)[0]["p_value"] >= 0.5
    r = rebound_batch(y[None], x, n_null=199, noise="sup", window=2, allowance=0.0)[0]
    assert r["p_value"] <= 0.01 and abs(r["change_points"][0] - 14) <= 3, r
    two = change_points(-y[None], x, "rebound", two_sided=True, n_null=199, noise="sup", window=2, allowance=0.0)[0]
    assert two["p_value"] <= 0.02 and two["change_points"]
    with pytest.raises(ValueError, match="rebound_noise"):
        rebound_batch(y[None], x, noise="white")


@pytest.mark.parametrize("kind", ["power_decay", "cosine"])
def test_rebound_sup_noise_false_positive_rate_phi0(kind):
    """``noise='sup'``, window 2, allowance 0, 39 checkpoints, phi 0: nominal (measured: power decay
    0.06, cosine 0.02 at 100 draws; benchmarks/changepoint_power.py --method rebound --noise sup)."""
    fpr, se = rebound_rates(kind, "log+linear", 0.0, noise="sup", window=2, allowance=0.0)["reject"]
    assert fpr <= FPR_BOUND, (kind, fpr, se)


@pytest.mark.xfail(strict=True, reason="not met: with noise 'sup' and allowance 0 the cosine schedule's late "
                   "speed-up is outside the unimodal-rate null: FPR 0.5-0.7 at phi 0.9 on 25 log checkpoints "
                   "(benchmarks/changepoint_power.py --method rebound --noise sup --window 2 --allowance 0)")
def test_rebound_sup_noise_false_positive_rate_cosine_phi09():
    fpr, se = rebound_rates("cosine", "log", 0.9, noise="sup", window=2, allowance=0.0)["reject"]
    assert fpr <= FPR_BOUND, (fpr, se)


def test_cosine_shape_with_a_flat_start():
    """``offset`` > 0: the same law in ``S + offset`` (``S`` the cumulative lr), ``L0`` at step 0 and no cliff at
    the first steps (a 968-step run falls 0.12 nats by step 3, as the study's d64 runs do); without it the
    loss is ``L0`` at step 1 and 1.8 nats lower by step 3."""
    from toposcale.operating.curves import cosine_schedule_loss

    s = np.array([0.0, 1.0, 3.0, 48.0, 968.0])
    flat, cliff = cosine_schedule_loss(s, 968, offset=1.0), cosine_schedule_loss(s[1:], 968)
    assert flat[0] == pytest.approx(5.545) and flat[0] - flat[2] < 0.2 and np.all(np.diff(flat) < 0)
    assert cliff[0] == pytest.approx(5.545, abs=0.01) and cliff[0] - cliff[1] > 1.5
    assert 1.9 < flat[-1] < 2.2


def _flat_start_results(shift=None, **kw):
    """The ramp scan (up to 3 change points) of 60 flat-start cosine-shape losses (``cosine_schedule_loss``
    offset 1, AR(1) phi 0.9, sd 0.02) at a d64 run's 32 checkpoints (968 steps), ``shift`` subtracted."""
    from toposcale.analysis.lr_schedule import anneal_covariate
    from toposcale.operating.curves import ar1, cosine_schedule_loss
    from toposcale.plan.study import checkpoint_steps

    step = np.array(checkpoint_steps(968, 25, 8)[1:], dtype=float)
    Y = cosine_schedule_loss(step, 968, offset=1.0)[None] + ar1(N_DRAWS, len(step), 0.9, 0.02,
                                                                np.random.default_rng(22))
    if shift is not None:
        Y = Y - shift(step)
    return step, [r for b in range(0, N_DRAWS, 20) for r in change_points_batch(
        Y[b:b + 20], np.log(step), n_null=N_NULL, seed=b, anneal=anneal_covariate(step, 968), max_change_points=3,
        **kw)]


def test_flat_start_is_no_transition():
    """A smooth loss with a flat start (a power law in cumulative lr + 1) is a plateau then a descent in log
    step: scanning every ramp, the test places a change at its steepest warmup descent in most series;
    scanning only the ramps that rise after the warmup's 13 checkpoints (``warmup_points``,
    ``transitions.ramp_after_warmup``) it is nominal, with up to 3 change points, and a 0.3-nat drop at step
    200 is still found."""
    from toposcale.analysis.lr_schedule import warmup_points, warmup_steps

    step, every = _flat_start_results()
    k = warmup_points(step, 968)
    assert k == 13 and step[k - 1] <= warmup_steps(968) < step[k]
    assert np.mean([bool(r["change_points"]) for r in every]) > 0.5                # all ramps: it fires
    assert np.mean([any(step[c] > warmup_steps(968) for c in r["change_points"]) for r in every]) <= FPR_BOUND
    _, after = _flat_start_results(warmup_points=k)
    assert rejection_rates(after)["reject"][0] <= FPR_BOUND
    assert all(c > k for r in after for c in r["change_points"])              # a ramp rising after point k
    _, drop = _flat_start_results(lambda s: 0.3 * (s >= 200), warmup_points=k)
    assert np.mean([any(abs(step[c] - 200) < 60 for c in r["change_points"]) for r in drop]) >= 0.8


def test_anneal_covariate_is_the_schedule_decay():
    """0 through the warmup (5% of 4336 steps), then ``1 - lr / lr_max`` of the trainer's cosine, 0.9 at the end."""
    from toposcale.analysis.lr_schedule import anneal_covariate
    from toposcale.operating.curves import cosine_lr

    s = np.array([1.0, 100.0, 217.0, 1000.0, 2500.0, 4336.0])
    a = anneal_covariate(s, 4336)
    assert np.all(a[:3] == 0.0) and np.all(np.diff(a) >= 0) and abs(a[-1] - 0.9) < 1e-9
    assert np.allclose(a[3:], 1.0 - cosine_lr(s[3:], 4336), atol=1e-3)
    with pytest.raises(ValueError, match="anneal"):
        rebound_batch(np.zeros((1, 25)), np.log(SCHED["log"]), anneal=np.zeros(3))


@pytest.mark.parametrize("phi", [0.0, 0.9])
def test_rebound_anneal_null_false_positive_rate_cosine(phi):
    """With the schedule in the null (``anneal``), noise 'sup', window 2, allowance 0, 25 log checkpoints: the
    cosine shape's late speed-up is no transition (FPR 0.695 without ``anneal`` at phi 0.9; with it see
    benchmarks/changepoint_power.py --method rebound --noise sup --window 2 --allowance 0 --anneal)."""
    from toposcale.analysis.lr_schedule import anneal_covariate

    step = SCHED["log"]
    rng = np.random.default_rng([phi > 0, 11])
    Y, _ = simulate("cosine", step, phi, N_DRAWS, rng, total=TOTAL)
    res = rebound_batch(Y, np.log(step), n_null=N_NULL, noise="sup", window=2, allowance=0.0,
                        anneal=anneal_covariate(step, TOTAL))
    fpr, se = rejection_rates(res)["reject"]
    assert fpr <= FPR_BOUND, (phi, fpr, se)


# ----------------------------------------------------------------------------- rebound noise scale bound

def test_series_without_measurable_noise_get_no_test():
    """A constant series gets no p-value from either test (its noise model would be rounding error), and a
    count that is flat in most 5-point windows none from the rebound test (its valley depths would be
    divided by rounding error: in the default study 29 ``h0_n_significant`` series read p 0.02 from it);
    the ramp scan still tests the count, and a noiseless smooth decay is tested by both."""
    from toposcale.analysis.change_test import change_points

    step = np.asarray(SCHED["study"], dtype=float)
    n = len(step)
    count = np.r_[np.full(n // 2, 250.0), np.full(n - n // 2, 253.0)]
    count[5] = 249.0
    Y = np.vstack([np.full(n, 63.0), count, 1.6 + 4.0 * step ** -0.35])
    kw = dict(n_null=99, two_sided=True, window=2, allowance=0.0, noise="sup")
    ramp = change_points(Y, np.log(step), "ramp", **kw)
    reb = change_points(Y, np.log(step), "rebound", **kw)
    both = change_points(Y, np.log(step), "ramp+rebound", **kw)
    assert all(np.isnan(r[0]["p_value"]) and not r[0]["change_points"] for r in (ramp, reb, both))
    assert np.isnan(reb[1]["p_value"]) and np.isfinite(ramp[1]["p_value"])
    assert both[1]["p_value"] == min(1.0, 2 * ramp[1]["p_value"])
    assert np.isfinite(ramp[2]["p_value"]) and np.isfinite(reb[2]["p_value"])


def test_rebound_result_of_a_series_does_not_depend_on_the_others_in_the_call():
    """The null draws of all series of a call are one array: each series' p-value, phi and change points are
    those of a call with that series alone, its statistic and sigma up to rounding (two-sided, noise 'sup',
    the schedule and the noise-scale bound on; a constant series, whose noise scale is 0, gets no test)."""
    from toposcale.analysis.lr_schedule import anneal_covariate

    step = np.asarray(SCHED["study"], dtype=float)
    from toposcale.analysis.ar1 import ar1_noise

    Y = staircase(len(step), [16.0, 18.0, 20.0, 22.0, 24.0], [3.0] * 5)
    Y = Y + 0.02 * ar1_noise(0.5, Y.shape, np.random.default_rng(4))
    Y = np.vstack([Y, np.full(len(step), 2.0)])
    kw = dict(n_null=99, noise="sup", window=2, allowance=0.0, two_sided=True, sigma_quantile=0.95,
              anneal=anneal_covariate(step, 4336), seed=7)
    together = rebound_batch(Y, np.log(step), **kw)
    for y, t in zip(Y, together):
        alone = rebound_batch(y[None], np.log(step), **kw)[0]
        for k in ("p_value", "phi", "change_points", "change_point_p_values"):
            assert np.array_equal(np.asarray(t[k], dtype=float), np.asarray(alone[k], dtype=float),
                                  equal_nan=True), k
        # the data's noise scale is one matrix product over the call's rows: BLAS sums one row and several
        # rows in a different order, so the statistic and sigma agree to rounding, not bit for bit
        for k in ("statistic", "sigma"):
            assert np.allclose(t[k], alone[k], rtol=1e-12, atol=0, equal_nan=True), k
    assert np.isnan(together[-1]["p_value"]) and together[-1]["change_points"] == []
    assert min(r["p_value"] for r in together[:-1]) < 0.05         # the planted drops are tested, not skipped


def test_sigma_upper_factor_is_a_90_percent_upper_bound():
    """``sigma_hat * sigma_upper_factor(x, phi, 0.9)`` covers the true marginal sd of AR(1) noise in 90% of
    independent series (2,000 per phi at the default study's 32 checkpoints: within 3 se, 0.02), is about
    1.4x the point estimate there, and with ``quantile=None`` equals ``1 / high_pass_ar1_factor``."""
    from toposcale.analysis.ar1 import ar1_from_normals
    from toposcale.analysis.rebound_noise import high_pass_ar1_factor, high_pass_sigma, sigma_upper_factor

    x = np.log(SCHED["study"])
    assert len(x) == 32
    for phi in (0.0, 0.9):
        up = sigma_upper_factor(x, phi, 0.9, np.random.default_rng(1))
        point = sigma_upper_factor(x, phi)
        assert point == pytest.approx(1.0 / high_pass_ar1_factor(x, phi))
        assert 1.25 < up / point < 1.6, (phi, up / point)
        noise = 0.02 * ar1_from_normals(np.random.default_rng(2).standard_normal((2000, len(x))), phi)
        covered = np.mean(high_pass_sigma(noise, x) * up >= 0.02)
        assert abs(covered - 0.9) <= 0.02, (phi, covered)


@pytest.mark.parametrize("kind", ["power_decay", "cosine"])
def test_rebound_sigma_bound_false_positive_rate_study_phi09(kind):
    """The default study's schedule (32 checkpoints), phi 0.9, noise 'sup', window 2, allowance 0, the schedule
    in the null and the noise-scale bound (q 0.95, the default): nominal within the reduced-size bound (full
    size, benchmarks/changepoint_power.py --method rebound --noise sup --window 2 --allowance 0 --anneal:
    power decay 0.058 +- 0.007, cosine 0.038; without the bound the power decay's FPR was 0.097 +- 0.009)."""
    from toposcale.analysis.lr_schedule import anneal_covariate

    fpr, se = rebound_rates(kind, "study", 0.9, noise="sup", window=2, allowance=0.0, sigma_quantile=0.95,
                            anneal=anneal_covariate(SCHED["study"], TOTAL))["reject"]
    assert fpr <= FPR_BOUND, (kind, fpr, se)


def test_rebound_sigma_bound_only_raises_p_values():
    """Each valley's p-value with the bound is the larger of two (same null normals): never below the p-value
    without it; the wrapper passes ``sigma_quantile`` through for 'rebound' and ignores it for 'ramp'."""
    step = SCHED["study"]
    Y, _ = simulate("staircase", step, 0.5, 20, np.random.default_rng(5), total=TOTAL)
    kw = dict(n_null=99, noise="sup", window=2, allowance=0.0, seed=3)
    base = change_points(Y, np.log(step), "rebound", **kw)
    bound = change_points(Y, np.log(step), "rebound", sigma_quantile=0.9, **kw)
    pb, pq = np.array([r["p_value"] for r in base]), np.array([r["p_value"] for r in bound])
    assert np.all(pq >= pb - 1e-12) and np.any(pq > pb)
    assert change_points(Y[:2], np.log(step), "ramp", sigma_quantile=0.9, n_null=19)[0]["method"]


def test_ramp_plus_rebound_is_the_bonferroni_union_of_both_tests():
    """``ramp+rebound``: p = 2 x the smaller of the two tests' p (each run at half the level), change points
    from both; it finds a drop from a flat start (the ramp scan's case, invisible to the rebound test) and a
    second drop after a slowdown on a descending curve (the rebound test's case: the study's staircase)."""
    from toposcale.analysis.change_test import change_points

    step = np.unique(np.round(np.geomspace(1, 2000, 32)))
    x = np.log(step)
    rng = np.random.default_rng(3)
    flat = np.where(np.arange(len(x)) < 18, 3.05, 2.30)                       # a drop from a flat start
    flat = flat + 0.01 * rng.standard_normal(len(x))
    stair = (3.0 + 2.5 / (1 + np.exp((x - 2.0) / 0.35))                        # first descent onto a plateau,
             - 0.7 / (1 + np.exp(-(x - x[22]) / 0.12)) + 0.005 * rng.standard_normal(len(x)))   # then a drop
    Y = np.stack([flat, stair])
    kw = dict(n_null=199, seed=0, window=2, allowance=0.0, noise="sup", sigma_quantile=0.95)
    ramp = change_points(Y, x, "ramp", significance=0.025, **kw)
    reb = change_points(Y, x, "rebound", significance=0.025, **kw)
    both = change_points(Y, x, "ramp+rebound", significance=0.05, **kw)
    for a, b, c in zip(ramp, reb, both):
        assert c["p_value"] == pytest.approx(min(1.0, 2 * min(a["p_value"], b["p_value"])))
        assert set(c["change_points"]) <= set(a["change_points"]) | set(b["change_points"])
        assert all(p < 0.05 for p in c["change_point_p_values"])
    assert any(abs(c - 17.5) <= 1.5 for c in both[0]["change_points"]) and not reb[0]["change_points"]
    assert any(abs(c - 22) <= 1 for c in both[1]["change_points"])
    assert any(abs(c - 22) <= 1 for c in reb[1]["change_points"])


def test_warmup_points_covering_every_ramp_leave_no_test():
    """``warmup_points`` past every candidate ramp: the ramp scan has nothing to test (p NaN, no change point);
    ``ramp+rebound`` then rests on the rebound test alone, at half the level as always."""
    x = np.log(SCHED["study"])
    y = 3.05 - 0.75 * (np.arange(len(x)) >= 20) + 0.01 * np.random.default_rng(5).standard_normal(len(x))
    r = change_points_batch(y[None], x, n_null=N_NULL, warmup_points=len(x))[0]
    assert np.isnan(r["p_value"]) and r["change_points"] == []
    both = change_points(y[None], x, "ramp+rebound", n_null=N_NULL, warmup_points=len(x))[0]
    reb = change_points(y[None], x, "rebound", n_null=N_NULL, significance=0.025)[0]
    assert both["p_value"] == pytest.approx(min(1.0, 2 * reb["p_value"]))
    found = change_points_batch(y[None], x, n_null=N_NULL, warmup_points=10)[0]      # the drop at 20 is after
    assert found["p_value"] < 0.05 and abs(found["change_points"][0] - 20) <= 1, found
