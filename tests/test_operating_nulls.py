"""Operating characteristics of 'topology beyond geometry' along training (toposcale.operating.nulls)."""
from dataclasses import replace

import numpy as np

from toposcale.config import validate_config
from toposcale.operating import Design, checks
from toposcale.operating.nulls import VERDICT, check, cloud_bank

DEFAULT = Design.from_config(validate_config({}))   # 25 log-spaced checkpoints, K = 4, w = 3
FRACS = DEFAULT.checkpoint_fracs


def _design(k):
    return replace(DEFAULT, k_nulls=k)


def test_check_is_registered_and_reports_power_and_both_controls():
    """40 simulated series per row (8 runs of 5; Monte Carlo sd of a rate <= 0.08) at K = 16, where
    benchmarks/null_power.py (200 series) gives power 0.96 (0.635 at the default K = 4) and FPRs ~0.
    Bounds: power >= 0.8 (decidable), every FPR <= 0.1."""
    assert "nulls" in checks()
    rows = check(_design(16), 40, 0)
    assert [r.verdict for r in rows] == [VERDICT, VERDICT] and len({r.power for r in rows}) == 1
    assert "null mean tracks the loss" in rows[0].control and "heavy-tailed" in rows[1].control
    for r in rows:
        assert r.fpr <= 0.1 and r.n_sim == 40 and "K=16" in r.design
    assert rows[0].power >= 0.8 and rows[0].decidable


def test_heavy_tail_bank_beats_its_gaussian_null_not_its_permutation_null():
    """The control's clouds are what issue 22 describes: at the lowest loss (df 3) the metric sits far below
    its Gaussian null (|z| > 2 for most clouds) and within its entry-permutation null."""
    bank = cloud_bank(FRACS[:3] + FRACS[-2:], 8, np.random.default_rng(0), n_bank=6)
    last = -1 if bank["loss"][-1] == bank["loss"].min() else int(np.argmin(bank["loss"]))
    z = (bank["real"][last] - bank["null"][last].mean(-1)) / bank["null"][last].std(-1, ddof=1)
    zp = (bank["real"][last] - bank["perm"][last].mean(-1)) / bank["perm"][last].std(-1, ddof=1)
    assert (np.abs(z) > 2).mean() >= 0.5
    assert (np.abs(zp) > 2).mean() <= 0.34
