"""The registered 'transitions' operating check at the default design, reduced Monte Carlo size (n_sim 60)."""
import math

from toposcale.operating import Design, run_checks
from toposcale.plan.decidability import load_study_config


def test_transitions_check_power_and_fpr_at_the_default_design():
    design = Design.from_config(load_study_config(["config.yaml"]))
    tab = run_checks(design, n_sim=60, seed=0, families=["transitions"])
    assert len(tab) == 2 and set(tab["family"]) == {"transitions"}
    assert tab["verdict"].nunique() == 1 and tab["power"].nunique() == 1
    assert "3.05 -> 2.3" in tab["planted"].iloc[0] and "phi 0.9" in tab["planted"].iloc[0]
    # 0.75-nat drop = 25 noise sds over 3 checkpoints: found and located in (nearly) every series
    assert tab["power"].iloc[0] >= 0.9 and tab["decidable"].all()
    bound = 0.05 + 3 * math.sqrt(0.05 * 0.95 / 60)                  # FPR: nominal + 3 MC standard errors
    assert (tab["fpr"] <= bound).all(), tab[["control", "fpr"]]
    assert set(tab["control"]) == {"smooth decay 1.6 + 4 t^-0.35, AR(1) phi 0.9",
                                   "warmup + cosine schedule loss shape, AR(1) phi 0.9"}
