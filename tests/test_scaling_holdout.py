"""The holdout verdict of a scaling law (issue 23's bar): within 5%, inside its 95% prediction interval,
and clearly better than the naive prediction (the largest fitted size's loss)."""
import numpy as np
import pandas as pd
import pytest

from toposcale.analysis.scaling.grid import analyse_grid
from toposcale.analysis.scaling.holdout import MISSED, PREDICTED, holdout_verdict, naive_prediction
from toposcale.operating import Design
from toposcale.operating import scaling as oc_scaling

H = {"decidable": True, "observed": 1.90, "rel_error_pct": 1.0, "pi_lo": 1.85, "pi_hi": 1.97,
     "inside_interval": True, "naive_predicted": 2.0}


def test_each_criterion_can_fail_the_verdict_and_the_gate_withholds_it():
    assert holdout_verdict(H) == PREDICTED
    big = holdout_verdict({**H, "rel_error_pct": 6.0})
    assert big.startswith(MISSED) and "+6.0% beyond ±5%" in big
    assert "observed outside the 95% PI" in holdout_verdict({**H, "inside_interval": False})
    assert "naive prediction (largest fitted size, 1.950) lies inside" in holdout_verdict({**H, "naive_predicted": 1.95})
    # naive outside the PI but closer to the observed loss than the law: no better than naive
    worse = holdout_verdict({**H, "rel_error_pct": 4.0, "pi_lo": 1.95, "pi_hi": 2.05, "naive_predicted": 1.91})
    assert "no better than the naive prediction (+0.5%)" in worse
    assert holdout_verdict({**H, "decidable": False}) == "cannot decide"
    assert naive_prediction(pd.DataFrame({"target": [3, 1, 3], "loss": [2.0, 3.0, 2.2]})) == pytest.approx(2.1)


def _design():
    return Design(("gelu", "swiglu"), (6304, 14064, 24896, 38800, 55776, 75824), (98944,), 2, (1.0,), 4, 199, 999)


def test_a_grid_on_its_law_is_predicted_and_a_plateau_is_not():
    """The default design, GELU's observed law with the observed seed noise: the holdout is predicted; every
    size on the bigram plateau: the law's prediction cannot be told from the naive one."""
    d, rng = _design(), np.random.default_rng(5)
    law = oc_scaling._law(*oc_scaling.LAWS["gelu"])
    res = analyse_grid(oc_scaling._runs(d, {"gelu": law}, rng, oc_scaling.seed_sd()), n_bootstrap=40,
                       grid=oc_scaling.SIM_STARTS)
    h = res["activations"]["gelu"]["holdout"]
    assert len(h) == 2 and all(x["verdict"] == PREDICTED for x in h), [x["verdict"] for x in h]
    # naive = mean loss at 75,824 parameters (law: 2.00 nats) vs holdout 1.90: about +5%
    assert all(4.0 < x["naive_rel_error_pct"] < 6.5 for x in h)
    flat = pd.DataFrame(res["table"])
    assert (flat.loc[flat["section"] == "holdout", "verdict"] == PREDICTED).all()
    res = analyse_grid(oc_scaling._runs(d, {"gelu": lambda N: oc_scaling.PLATEAU}, rng, oc_scaling.seed_sd()),
                       n_bootstrap=40, grid=oc_scaling.SIM_STARTS)
    for x in res["activations"]["gelu"]["holdout"]:
        assert x["verdict"].startswith(MISSED) and "naive" in x["verdict"], x["verdict"]
