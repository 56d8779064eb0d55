"""make plan's n-gram stage warning (toposcale.plan.stage_rule): the rule, the shipped pilot spans, the
completed study's stage table taking precedence, and the command line."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toposcale.plan import decidability as DEC
from toposcale.plan import stage_rule as SR

ROOT = Path(__file__).resolve().parents[1]


def _cfg(tmp_path, sizes, tpp=20, acts=("gelu",), holdout=()):
    return DEC.load_study_config([], base=ROOT / "config.yaml", overrides=[
        f"results={tmp_path}",
        f"model={{activations: {list(acts)}, target_params: {list(sizes)}, holdout_params: {list(holdout)}, "
        f"seeds: [0], head_dim: 8}}",
        f"training={{tokens_per_param: [{tpp}], batch_size: 16, lr: 0.003}}"])


def _pilots():
    """Two synthetic pilot sizes: 10k params crosses unigram->bigram over 2-4e5 tokens and never enters
    the trigram drop by 1e6; 40k crosses at 1-2e5 and enters the trigram drop at 6e5, ending it at 9e5."""
    base = {"activation": "gelu", "lr": 0.003, "warmup_frac": 0.05, "min_lr_frac": 0.1, "tokens_per_step": 2048}
    rows = [{"run": "a", "n_nonembed": 10_000, "tokens_seen": 1e6, "crossing": "unigram->bigram", "to_order": 2,
             "tokens_start": 2e5, "tokens_cross": 3e5, "tokens_end": 4e5},
            {"run": "b", "n_nonembed": 40_000, "tokens_seen": 1.5e6, "crossing": "unigram->bigram", "to_order": 2,
             "tokens_start": 1e5, "tokens_cross": 1.5e5, "tokens_end": 2e5},
            {"run": "b", "n_nonembed": 40_000, "tokens_seen": 1.5e6, "crossing": "bigram->trigram", "to_order": 3,
             "tokens_start": 6e5, "tokens_cross": 7e5, "tokens_end": 9e5}]
    return pd.DataFrame([{**base, **r} for r in rows], columns=SR.PILOT_COLUMNS)


@pytest.mark.parametrize("n, tokens, label", [
    (10_000, 1e5, "unigram"), (10_000, 3e5, "in drop to bigram"), (10_000, 8e5, "bigram"),
    (10_000, 2e6, "unknown"),                       # past the pilot's 1e6 tokens, trigram drop not entered
    (40_000, 5e5, "bigram"), (40_000, 7e5, "in drop to trigram"), (40_000, 1.2e6, "trigram"),
    (20_000, 5e5, "bigram"),                         # both bracket pilots agree
    (20_000, 3e5, "near the drop to bigram"),        # 10k is in its drop, 40k past it
    (20_000, 7e5, "near the drop to trigram"),       # 10k on bigram, 40k in the trigram drop
])
def test_rule_stage_known_answers(n, tokens, label):
    assert SR.rule_stage(_pilots(), "gelu", n, tokens)["label"] == label


def test_rule_stage_flags_extrapolation_and_missing_activation():
    p = _pilots()
    assert SR.rule_stage(p, "gelu", 80_000, 1.2e6)["extrapolated"]
    assert not SR.rule_stage(p, "gelu", 20_000, 1.2e6)["extrapolated"]
    s = SR.rule_stage(p, "swiglu", 20_000, 1e5)
    assert s["label"] == "unknown" and "no pilot of activation swiglu" in s["evidence"]


def test_common_window_is_the_gap_between_the_drops():
    w = SR.common_windows(_pilots(), "gelu", [10_000, 40_000])
    assert w[0] == "gelu bigram plateau: every size ends on it for a budget B with 4e+05 <= B <= 6e+05 tokens"


def test_pilot_table_converts_steps_to_tokens_and_keeps_runs_without_crossings():
    cross = pd.DataFrame({"run": ["r1"], "crossing": ["unigram->bigram"], "to_order": [2], "step_start": [10],
                          "step_cross": [20], "step_end": [np.nan]})
    tr = {"lr": 0.003, "warmup_frac": 0.05, "min_lr_frac": 0.1}
    infos = {"r1": {"activation": "gelu", "n_nonembed": 100, "tokens_per_step": 512, "tokens_seen": 51200,
                    "config": {"training": tr}},
             "r0": {"activation": "gelu", "n_nonembed": 50, "tokens_per_step": 512, "tokens_seen": 25600,
                    "config": {"training": tr}}}
    t = SR.pilot_table(cross, infos).set_index("run")
    assert t.loc["r1", "tokens_start"] == 5120 and t.loc["r1", "tokens_cross"] == 10240
    assert np.isnan(t.loc["r1", "tokens_end"]) and t.loc["r0", "crossing"] == ""
    # a size whose pilot entered no drop is on the unigram plateau up to its tokens_seen, unknown after
    assert SR.rule_stage(t.reset_index(), "gelu", 50, 2e4)["label"] == "unigram"
    assert SR.rule_stage(t.reset_index(), "gelu", 50, 3e4)["label"] == "unknown"


def test_shipped_pilot_table_reproduces_the_default_study_staircase(tmp_path):
    """The measured spans (pilot_crossings.csv): at the default 20 tokens/param, gelu d40 (38,800 params,
    7.8e5 tokens) ends on the bigram plateau, d48-d56 inside the bigram->trigram drop (as the default study
    at cf6576c: d64 holdouts 0.4 nats apart); the law is refused before training."""
    p = SR.load_pilots()
    assert set(SR.PILOT_COLUMNS) <= set(p.columns) and len(p) >= 10
    cfg = _cfg(tmp_path, [39000, 56000, 76000, 99000], holdout=[99000])
    exp = SR.expected_stages(cfg).set_index("run")
    assert exp.loc["gelu-d40L2-s0", "label"] == "bigram"
    assert exp.loc["gelu-d48L2-s0", "label"] == "in drop to trigram"
    rows, warnings = SR.stage_plan(cfg)
    assert rows[0]["analysis"] == "scaling law stages gelu" and not rows[0]["decidable"]
    assert rows[0]["message"].startswith("cannot decide: the law will be refused")
    assert any("d48L2" in w and "bigram->trigram 8.4e+05" in w for w in warnings)
    assert any(w.strip().startswith("gelu bigram plateau:") for w in warnings)


def test_fixed_budget_design_as_measured():
    """Every gelu size d48-d88 at a fixed 4.5e5 tokens ends on the bigram plateau (each finished its
    unigram->bigram drop by 3.1e5 and none entered the trigram drop), d40 is still in its drop: the
    fixedD450k rows of the shipped table, so the plan refuses that grid unless d40 is dropped."""
    p = SR.load_pilots()
    for n in (55_776, 75_824, 98_944, 125_136, 154_400, 186_736):
        assert SR.rule_stage(p, "gelu", n, 4.5e5)["label"] == "bigram"
    assert SR.rule_stage(p, "gelu", 38_800, 4.5e5)["label"] == "in drop to bigram"


def test_completed_stage_table_replaces_the_rule(tmp_path):
    cfg = _cfg(tmp_path, [39000, 56000, 76000, 99000], holdout=[99000])
    (tmp_path / "analysis").mkdir()
    runs = list(SR.expected_stages(cfg)["run"])
    st = pd.DataFrame({"run": runs, "step": 100, "stage": 2, "in_drop": False})
    st.to_csv(tmp_path / "analysis" / "stages.csv", index=False)
    exp = SR.expected_stages(cfg)                                # found under cfg['results']
    assert (exp["source"] == "stage table").all() and (exp["label"] == "bigram").all()
    rows, warnings = SR.stage_plan(cfg)
    assert rows[0]["decidable"] and rows[0]["message"] == ("every run expected to end on the bigram stage "
                                                          "(stage table)") and not warnings


def test_schedule_difference_is_named(tmp_path):
    cfg = _cfg(tmp_path, [39000, 56000, 76000, 99000])
    cfg["training"]["lr"] = 0.01
    _, warnings = SR.stage_plan(cfg)
    assert any("schedule differs from the pilots': lr 0.01 (pilots 0.003)" in w for w in warnings)


def test_cli_prints_the_stage_section(capsys):
    assert DEC.main(["--base", str(ROOT / "config.yaml"), "--config", "results=/nonexistent/s7"]) == 0
    out = capsys.readouterr().out
    assert "NO  scaling law stages gelu" in out and "n-gram stages at the end of training" in out


def test_rule_reads_the_pilot_of_the_nearest_run_length():
    """The shipped table holds gelu d40 twice: a 7.8e5-token run (unigram->bigram drop over 1.6-3.5e5)
    and a 4.5e5-token run (drop started at 2.7e5, unfinished). A 4.5e5-token plan reads the short run
    (in the drop); a 7.7e5-token plan the long one (bigram plateau)."""
    p = SR.load_pilots()
    short = SR.rule_stage(p, "gelu", 38_800, 4.5e5)
    assert short["label"] == "in drop to bigram" and "fixedD450k/gelu-d40L2-s0" in short["evidence"]
    long = SR.rule_stage(p, "gelu", 38_800, 7.7e5)          # within the long run (7.76e5 tokens)
    assert long["label"] == "bigram" and "fixedD450k" not in long["evidence"]


def test_expected_stages_takes_a_design_s_own_runs(tmp_path):
    """benchmarks/scaling_designs.py gives every size one token budget: the rule must read those tokens,
    not the config's tokens_per_param."""
    import dataclasses

    from toposcale.plan.study import study_runs

    cfg = _cfg(tmp_path, [39000, 56000], tpp=20)
    runs = [dataclasses.replace(r, total_steps=100) for r in study_runs(cfg)]      # 100 x 2048 tokens
    exp = SR.expected_stages(cfg, pilots=_pilots(), runs=runs)
    assert (exp["tokens"] == 204_800).all()
    # 38,800 params lies between the 10k pilot (in its drop at 2.05e5) and the 40k one (past it at 2e5);
    # 55,776 params is above the largest pilot: read from the 40k one alone
    assert list(exp["label"]) == ["near the drop to bigram", "bigram"]
    assert list(exp["source"]) == ["rule", "rule (extrapolated)"]
