"""Synthetic external training logs with known, planted effects (for tests/test_external.py).

Every generator here is seeded and fast. "Planted" fixtures carry the effects the beta-trajectory
claims describe (a Phi**(1/3) ladder, a spike in flagged windows, convergence to Phi**3), so a test
can check that each falsification test detects them (power); "null" fixtures carry none of them,
so repeated draws measure the false-positive rate.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from toposcale.experiments.external import FIXPOINT, LADDER_RATIO, NULL_EFFECTS, make_synthetic_log

__all__ = ["FIXPOINT", "LADDER_RATIO", "planted_log", "null_log", "iid_plateau_betas", "spike_runs",
           "write_messy_csv", "MESSY_EXPECTED", "write_toposcale_runs"]


def planted_log(seed: int = 0, **kw):
    """4 runs x 90 rows: ladder ratio Phi**(1/3) over 6 plateaus ending at Phi**3, a x1.6 beta spike in
    the grokking window, a loss ramp (abrupt slope change) across that window."""
    return make_synthetic_log(seed=seed, **kw)


def null_log(seed: int = 0, **kw):
    """Same shape as :func:`planted_log` but no ladder (i.i.d. log-uniform plateau levels on [1, 5]),
    no spike, a random final level and grokking windows at random positions."""
    return make_synthetic_log(seed=seed, **{**NULL_EFFECTS, **kw})


def iid_plateau_betas(rng, n_runs: int = 6, n_plateaus: int = 10, low: float = 0.8, high: float = 4.67):
    """Plateau betas with no ladder: i.i.d. log-uniform on [low, high] per run.

    With these defaults the expected ratio of successive *sorted* values is
    ``exp(ln(high/low) / (n_plateaus + 1)) ~ 1.174``: sorting alone manufactures a Phi**(1/3) "ladder".
    """
    return [np.exp(rng.uniform(math.log(low), math.log(high), n_plateaus)) for _ in range(n_runs)]


def spike_runs(rng, *, n_runs: int = 4, n_rows: int = 40, width: int = 6, spike: float = 1.0,
               noise: float = 0.02):
    """Per-run (steps, betas, flags) for the spike test: log-spaced steps, a 4-step Phi**(1/3) ladder
    with multiplicative noise, one flagged window of ``width`` rows at a uniformly random position,
    betas inside it multiplied by ``spike`` (1.0 = no spike: the null)."""
    steps = np.unique(np.round(np.geomspace(100, 100_000, n_rows)))
    n = steps.size
    out = []
    for _ in range(n_runs):
        level = FIXPOINT * LADDER_RATIO ** (np.repeat(np.arange(4), int(math.ceil(n / 4)))[:n] - 3)
        beta = level * np.exp(rng.normal(0, noise, n))
        flags = np.zeros(n, bool)
        start = int(rng.integers(0, n - width + 1))
        flags[start:start + width] = True
        out.append((steps, np.where(flags, beta * spike, beta), flags))
    return out


# One problem per row (line = row + 2 in the file, the header being line 1).
_MESSY_ROWS = [
    # run_id, step, loss, capability, beta, grokking
    ("r1", "0", "4.0", "0.05", "1.2", "False"),     # row 0  fine
    ("r1", "2000", "3.0", "0.20", "1.8", "False"),  # row 1  fine
    ("r1", "1000", "3.5", "0.10", "1.5", "False"),  # row 2  out of order
    ("r1", "3000", "", "0.30", "2.0", "False"),     # row 3  missing loss
    ("r1", "-5", "2.9", "0.31", "2.1", "False"),    # row 4  negative step
    ("r1", "2000", "3.1", "0.21", "1.9", "False"),  # row 5  duplicate step of row 1
    ("r1", "4000", "2.5", "abc", "2.4", "True"),    # row 6  non-numeric capability
    ("r1", "5000", "2.2", "0.50", "2.8", "maybe"),  # row 7  invalid flag
    ("r1", "6000", "2.0", "0.60", "-1", "False"),   # row 8  non-positive beta
    ("r2", "", "4.1", "0.04", "1.1", "False"),      # row 9  missing step
    ("", "100", "4.0", "0.05", "1.0", "False"),     # row 10 missing run id
    ("r2", "100", "3.9", "1.5", "1.2", "0"),        # row 11 capability out of range
    ("r2", "200", "3.8", "0.08", "1.3", "1"),       # row 12 fine (flag as 1)
]
#: (issue, column, row) that :func:`toposcale.experiments.external.load_log` must report for the messy CSV.
MESSY_EXPECTED = {
    ("unsorted_steps", "training_step", 2), ("missing", "loss", 3), ("negative_step", "training_step", 4),
    ("duplicate_step", "training_step", 5), ("non_numeric", "capability_score", 6),
    ("invalid_flag", "grokking_detected", 7), ("non_positive_beta", "beta_estimate", 8),
    ("missing", "training_step", 9), ("missing", "run_id", 10), ("out_of_range", "capability_score", 11),
}
#: Rows left out of every analysis.
MESSY_UNUSABLE = {4, 5, 9, 10}


def write_messy_csv(path):
    """Write a beta-trajectory CSV with one known problem per row (see ``MESSY_EXPECTED``)."""
    header = ("run_id,model_family,architecture,n_params_millions,dataset,training_step,loss,capability_score,"
              "R_proxy,Theta_proxy,beta_estimate,beta_uncertainty,field_type,grokking_detected,notes")
    lines = [header]
    for run, step, loss, cap, beta, flag in _MESSY_ROWS:
        lines.append(f"{run},fam,transformer,10,data,{step},{loss},{cap},0.1,0.8,{beta},0.1,T,{flag},note")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_toposcale_runs(root, runs=("gelu-d16L1-s0", "swiglu-d16L1-s0"), n_steps: int = 20, seed: int = 0):
    """Write ``root/runs/{run}/log.csv`` (the lead's columns) and ``run.json`` for a few fake runs.

    Validation loss is ``0.5 + 5 (1 + step/50)^-0.5`` plus noise (sd 0.01); ``n_nonembed`` is
    ``20000 * (k + 1)`` for the k-th run. Returns the ``root/runs`` folder.
    """
    rng = np.random.default_rng(seed)
    steps = np.concatenate([[0], np.unique(np.round(np.geomspace(1, 2000, n_steps - 1))).astype(int)])
    for k, run in enumerate(runs):
        d = root / "runs" / run
        d.mkdir(parents=True, exist_ok=True)
        val = 0.5 + 5 * (1 + steps / 50) ** -0.5 + rng.normal(0, 0.01, steps.size)
        pd.DataFrame({"step": steps, "tokens": steps * 2048, "train_loss": val + 0.02, "val_loss": val,
                      "lr": 1e-3, "tokens_per_s": 5e4, "elapsed_s": steps * 0.01}).to_csv(d / "log.csv", index=False)
        (d / "run.json").write_text(json.dumps({"name": run, "n_nonembed": 20000 * (k + 1)}))
    return root / "runs"
