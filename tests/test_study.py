import math

from toposcale.config import load_config, validate_config
from toposcale.plan.study import bootstrap_steps, checkpoint_steps, layer_names, run_checkpoint_steps, study_runs


def test_checkpoint_schedule_log_spaced_with_ends():
    steps = checkpoint_steps(4337, 25)
    assert steps[0] == 0 and steps[-1] == 4337
    assert len(steps) >= 26 and steps == sorted(set(steps))
    inner = [s for s in steps if s > 0]
    ratios = [b / a for a, b in zip(inner[len(inner) // 2:], inner[len(inner) // 2 + 1:])]
    assert max(ratios) / min(ratios) < 1.3  # geometric spacing in the log-spaced regime


def test_short_runs_checkpoint_every_step():
    assert checkpoint_steps(5, 25) == [0, 1, 2, 3, 4, 5]


def test_linear_checkpoints_join_the_log_spaced_ones():
    log_only = checkpoint_steps(1000, 25)
    both = checkpoint_steps(1000, 25, 10)
    assert set(log_only) | {100 * i for i in range(1, 11)} == set(both) and both == sorted(set(both))
    gaps = [b - a for a, b in zip(both, both[1:])]
    assert max(gaps) <= 100  # no stretch of training longer than total/n_linear without a checkpoint
    assert checkpoint_steps(1000, 25, 0) == log_only
    assert checkpoint_steps(8, 3, 12) == list(range(9))  # fewer steps than checkpoints: every step
    assert run_checkpoint_steps(1000, {"n_checkpoints": 25, "n_linear_checkpoints": 10}) == both


def test_bootstrap_steps_include_final():
    steps = checkpoint_steps(1000, 25)
    chosen = bootstrap_steps(steps, 3)
    assert chosen[-1] == 1000 and len(chosen) == 3 and set(chosen) <= set(steps)


def test_default_study_plan():
    cfg = load_config("config.yaml")
    runs = study_runs(cfg)
    assert len(runs) == 28                                   # 7 sizes x 2 activations x 2 seeds
    assert {r.activation for r in runs} == {"gelu", "swiglu"} and {r.seed for r in runs} == {0, 1}
    assert {r.n_layers for r in runs} == {2}                 # one width family
    for r in runs:
        assert abs(r.n_nonembed / r.target_params - 1) < 0.1
        assert r.holdout == (r.target_params == 99_000)
        assert r.total_steps * r.tokens_per_step >= r.planned_tokens
        assert r.planned_tokens == math.ceil(20 * r.n_nonembed)
    assert runs[0].name == "gelu-d16L2-s0"


def test_several_tokens_per_param_get_distinct_names():
    cfg = validate_config({"model": {"target_params": [25000]}, "training": {"tokens_per_param": [10, 40]}})
    names = [r.name for r in study_runs(cfg)]
    assert "gelu-d32L2t10-s0" in names and "gelu-d32L2t40-s0" in names


def test_layer_names():
    assert layer_names("weights", 2) == ["embed", "block00", "block01"]
    assert layer_names("activations", 1) == ["embed", "block00", "final"]
