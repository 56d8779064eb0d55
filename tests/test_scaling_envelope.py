"""The lower envelope of loss vs compute over all checkpoints (issue 23): known answers."""
import numpy as np
import pandas as pd

from toposcale.analysis.scaling.envelope import checkpoint_points, envelope_fit, lower_envelope


def test_envelope_keeps_only_points_below_everything_cheaper():
    p = pd.DataFrame({"C": [1.0, 1.0, 2.0, 3.0, 4.0], "loss": [5.0, 4.0, 4.5, 3.9, 3.9]})
    env = lower_envelope(p)
    assert env["C"].tolist() == [1.0, 3.0] and env["loss"].tolist() == [4.0, 3.9]


def _grid(E=1.6, A=2000.0, alpha=0.3, sizes=(1e4, 2e4, 4e4, 8e4, 1.6e5, 3.2e5), holdout=(3.2e5,), seed=0,
          noise=0.003):
    """Runs whose every checkpoint lies on L(C) = E + A C^-alpha (times small noise): a run of N params
    trained to 20 N tokens with checkpoints at log-spaced fractions."""
    rng = np.random.default_rng(seed)
    runs, logs = [], {}
    for N in sizes:
        name = f"gelu-{int(N)}"
        D_final = 20 * N
        tokens = np.unique(np.geomspace(D_final / 50, D_final, 12).round())
        C = 6 * N * tokens
        loss = (E + A * C ** -alpha) * np.exp(noise * rng.standard_normal(len(C)))
        logs[name] = pd.DataFrame({"step": np.arange(1, len(tokens) + 1), "tokens": tokens, "val_loss": loss})
        runs.append({"run": name, "activation": "gelu", "target": N, "N": N, "D": D_final, "C": 6 * N * D_final,
                     "holdout": N in holdout})
    return pd.DataFrame(runs), logs


def test_envelope_law_recovers_a_known_law_and_predicts_the_holdout():
    grid, logs = _grid()
    pts = checkpoint_points(grid, logs)
    assert len(pts) == sum(len(v) for v in logs.values()) and pts["final"].sum() == len(grid)
    res = envelope_fit(grid, logs, n_bootstrap=60, seed=1)["gelu"]
    assert res["n_sizes"] >= 3
    lo, hi = res["ci"]["alpha"]
    assert lo <= 0.3 <= hi and abs(res["params"]["alpha"] - 0.3) < 0.05
    (h,) = res["holdout"]
    assert abs(h["rel_error_pct"]) < 2.0 and h["pi_lo"] <= h["observed"] <= h["pi_hi"]
    assert abs(h["naive_error_pct"]) > abs(h["rel_error_pct"])   # the law beats "no further gain"


def test_envelope_of_too_few_sizes_says_why():
    grid, logs = _grid(sizes=(1e4, 2e4, 4e4), holdout=(4e4,))
    res = envelope_fit(grid, logs, n_bootstrap=10)["gelu"]
    assert "cannot fit" in res["note"] and res["holdout"] == []


def test_envelope_gate_counts_sizes_not_checkpoints():
    grid, logs = _grid()
    res = envelope_fit(grid, logs, n_bootstrap=10)["gelu"]
    assert res["n_envelope"] > 10                       # many checkpoints ...
    assert res["gate"]["decidable"] is (res["n_sizes"] - 3 >= 3)   # ... but the dof are sizes
