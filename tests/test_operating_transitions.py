"""The registered 'transitions' operating check at the default design, reduced Monte Carlo size (n_sim 60)."""
import math

import numpy as np

from toposcale.operating import Design, run_checks
from toposcale.operating.transitions import CONTROLS
from toposcale.plan.decidability import load_study_config


def test_transitions_check_power_and_fpr_at_the_default_design():
    design = Design.from_config(load_study_config(["config.yaml"]))
    tab = run_checks(design, n_sim=60, seed=0, families=["transitions"])
    assert len(tab) == 5 and set(tab["family"]) == {"transitions"}
    assert tab["verdict"].nunique() == 1 and tab["power"].nunique() == 1
    assert "3.05 -> 2.3" in tab["planted"].iloc[0] and "phi 0.9" in tab["planted"].iloc[0]
    assert "after the warmup" in tab["planted"].iloc[0]          # where the ramp scan looks (ramp_after_warmup)
    # 0.75-nat drop = 25 noise sds over 3 checkpoints: found and located in (nearly) every series
    assert tab["power"].iloc[0] >= 0.9 and tab["decidable"].all()
    fpr = dict(zip(tab["control"], tab["fpr"]))
    assert list(fpr) == list(CONTROLS)
    decay, cosine, flat_any, flat_after, at_bound = (fpr[c] for c in CONTROLS)
    bound = 0.05 + 3 * math.sqrt(0.05 * 0.95 / 60)                  # FPR: nominal + 3 MC standard errors
    # a smooth flat start is no transition once the ramp scan skips the warmup (0.585 any change point without
    # transitions.ramp_after_warmup, n_sim 200; 0.025 with it)
    assert decay <= bound and cosine <= bound and flat_any <= bound and flat_after <= bound, fpr
    # the schedule's speed-up at the largest share the rebound null admits (transitions.anneal_max_share)
    assert at_bound <= bound, fpr


def test_transitions_check_reads_the_configs_transitions_section():
    """The check runs the test the config sets (it used to run the defaults whatever the config said): with
    ``ramp_after_warmup`` off the flat-start control fires in the warmup and the drop is planted anywhere."""
    cfg = load_study_config(["config.yaml"])
    cfg["transitions"]["ramp_after_warmup"] = False
    design = Design.from_config(cfg)
    assert design.extra["transitions"]["ramp_after_warmup"] is False
    tab = run_checks(design, n_sim=30, seed=0, families=["transitions"])
    fpr = dict(zip(tab["control"], tab["fpr"]))
    assert fpr[CONTROLS[2]] >= 0.3 and "after the warmup" not in tab["planted"].iloc[0], fpr


def test_summary_prints_the_check_beside_the_transitions_verdict():
    import pandas as pd

    from toposcale.operating.transitions import VERDICT
    from toposcale.report.sections import TRANSITION_VERDICT, transitions_lines

    assert TRANSITION_VERDICT == VERDICT
    tr = pd.DataFrame({"run": ["r"], "source": ["loss"], "layer": ["-"], "metric": ["val_loss"], "variant": ["raw"],
                       "p_value": [0.01], "q_value": [0.01], "alpha": [0.05], "p_min": [0.001], "significant": [True],
                       "transition_frac": [0.3], "primary": [True], "family": ["primary"], "n_points": [25]})
    oc = pd.DataFrame([{"verdict": VERDICT, "planted": "drop", "power": 0.98, "power_mcse": 0.01,
                        "control": "smooth decay", "fpr": 0.1, "fpr_mcse": 0.02, "n_sim": 200, "decidable": True}])
    text = "\n".join(transitions_lines(tr, {"operating": oc}))
    assert "Operating characteristics of the change-point test at this design: power 0.98" in text


def test_check_runs_at_every_sizes_own_schedule():
    from toposcale.operating.transitions import run_schedules

    design = Design.from_config(load_study_config(["config.yaml"]))
    sched = run_schedules(design)
    steps = design.extra["checkpoint_steps"]
    assert len(sched) == len(steps) and [s[-1] for s in sched] == sorted(s[-1] for s in steps.values())
    assert all(np.all(np.diff(s) > 0) and s[0] >= 1 for s in sched)
    bare = Design(activations=("gelu",), sizes=(1,), holdout_sizes=(), seeds=1, checkpoint_fracs=(0.25, 0.5, 1.0),
                  k_nulls=1, n_permutations=1, n_surrogates=1)
    assert run_schedules(bare)[0].tolist() == [2500.0, 5000.0, 10000.0]
