"""External training logs: ingestion, transitions, and the power and false-positive rate of each claim test."""

import math

import numpy as np
import pandas as pd
import pytest

from fixtures_external import (FIXPOINT, LADDER_RATIO, MESSY_EXPECTED, MESSY_UNUSABLE, iid_plateau_betas,
                               null_log, planted_log, spike_runs, write_messy_csv, write_toposcale_runs)
from toposcale.experiments import external as ext

FAST = dict(n_bootstrap=10, n_permutations=199, cp_permutations=39)


def _claims(res):
    return res.claims.set_index("claim")


def _analysed_claims(df, name):
    """Claims table (indexed by claim) of a synthetic log frame validated and analysed as ``name``."""
    log = ext.ExternalLog(name, *ext.validate_log(df.assign(source_file="x.parquet",
                                                             source_row=np.arange(len(df))), name))
    return _claims(ext.analyse_log(log, **FAST))


@pytest.fixture(scope="module")
def planted_analysis(tmp_path_factory):
    path = tmp_path_factory.mktemp("planted") / "planted.csv"
    df = planted_log(seed=0)
    df.to_csv(path, index=False)
    log = ext.load_log(path, name="planted")
    return df, log, ext.analyse_log(log, **FAST)


# ----------------------------------------------------------------------------- constants


def test_claimed_constants():
    assert LADDER_RATIO == pytest.approx(1.1740, abs=1e-4)
    assert FIXPOINT == pytest.approx(4.2361, abs=1e-4)
    assert LADDER_RATIO ** 9 == pytest.approx(FIXPOINT)


# ----------------------------------------------------------------------------- ingestion


def test_messy_csv_every_problem_reported_and_no_row_dropped(tmp_path):
    path = write_messy_csv(tmp_path / "messy.csv")
    with pytest.warns(UserWarning) as caught:
        log = ext.load_log(path, name="messy")
    got = {(r.issue, r.column, r.row) for r in log.issues.itertuples()}
    assert got == MESSY_EXPECTED
    assert len(log.data) == 13  # nothing dropped
    unusable = set(log.data.loc[~log.data["usable"], "source_row"])
    assert unusable == MESSY_UNUSABLE
    # file line numbers = data row + 2 (header is line 1)
    assert (log.issues["line"] == log.issues["row"] + 2).all()
    text = "\n".join(str(w.message) for w in caught)
    assert "a negative step in training_step (line 6)" in text
    assert "duplicate step" in text and "line 7" in text and "first occurrence, row 1, kept" in text
    # sorted by run (order of appearance) then step
    r1 = log.data[(log.data["run_id"] == "r1") & log.data["usable"]]
    assert list(r1["training_step"]) == [0, 1000, 2000, 3000, 4000, 5000, 6000]
    # bad cells become missing in that column only; the flag parses 1/0 and True/False
    row = log.data.set_index("source_row")
    assert math.isnan(row.loc[6, "capability_score"]) and row.loc[6, "loss"] == 2.5
    assert math.isnan(row.loc[8, "beta_estimate"])
    assert row.loc[12, "grokking_detected"] is np.True_ or bool(row.loc[12, "grokking_detected"])
    assert pd.isna(row.loc[7, "grokking_detected"])
    assert row.loc[11, "capability_score"] == 1.5  # out of range is kept, only reported


def test_clean_log_has_no_issues_and_parquet_matches_csv(tmp_path):
    df = planted_log(seed=3, n_runs=2, n_rows=30)
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_parquet(tmp_path / "a.parquet", index=False)
    a = ext.load_log(tmp_path / "a.csv", warn=False)
    b = ext.load_log(tmp_path / "a.parquet", warn=False)
    assert len(a.issues) == 0 and a.messages == [] and a.data["usable"].all()
    for col in ("training_step", "loss", "capability_score", "beta_estimate"):
        np.testing.assert_allclose(a.data[col], b.data[col])
    assert a.data["grokking_detected"].tolist() == b.data["grokking_detected"].tolist()
    assert a.data["grokking_detected"].sum() > 0


def test_parquet_issues_name_zero_based_rows(tmp_path):
    df = planted_log(seed=3, n_runs=1, n_rows=12)
    df.loc[4, "training_step"] = -1
    df.loc[6, "loss"] = np.nan
    df.to_parquet(tmp_path / "p.parquet", index=False)
    log = ext.load_log(tmp_path / "p.parquet", warn=False)
    assert {(r.issue, r.row) for r in log.issues.itertuples()} == {("negative_step", 4), ("missing", 6)}
    text = "\n".join(log.messages)
    assert "a negative step in training_step (row 4 (0-based data rows))" in text
    assert "a missing value in loss (row 6 (0-based data rows)): row excluded from analyses of loss" in text


def test_toposcale_logs_folder_mapping_and_sizes(tmp_path):
    runs_dir = write_toposcale_runs(tmp_path)
    for path in (runs_dir, tmp_path):  # results/runs or results
        log = ext.load_log(path, schema="toposcale_log", name="ours", warn=False)
        assert list(dict.fromkeys(log.data["run_id"])) == ["gelu-d16L1-s0", "swiglu-d16L1-s0"]
        assert log.data.groupby("run_id")["n_params_millions"].first().tolist() == [0.02, 0.04]
        raw = pd.read_csv(runs_dir / "gelu-d16L1-s0" / "log.csv")
        got = log.data[log.data["run_id"] == "gelu-d16L1-s0"]
        np.testing.assert_allclose(got["loss"], raw["val_loss"])
        np.testing.assert_allclose(got["training_step"], raw["step"])
        assert log.data["capability_score"].isna().all()
        assert any("no values for capability_score, beta_estimate" in m for m in log.messages)
    res = ext.analyse_log(log, **FAST)
    assert set(res.fits["series"]) == {"loss"}
    assert (res.claims["verdict"] == "untestable").all()
    one = ext.load_log(runs_dir / "gelu-d16L1-s0" / "log.csv", schema="toposcale_log", warn=False)
    assert set(one.data["run_id"]) == {"gelu-d16L1-s0"}


def test_toposcale_log_list_reads_only_the_listed_runs(tmp_path):
    # the workflow passes its rule's inputs: another run's log in the same folder (a checkpoint series that
    # finished first on a cluster) must not change the table
    runs_dir = write_toposcale_runs(tmp_path)
    listed = [runs_dir / "swiglu-d16L1-s0" / "log.csv"]
    log = ext.load_log(listed, schema="toposcale_log", warn=False)
    assert set(log.data["run_id"]) == {"swiglu-d16L1-s0"}
    assert log.name == "log"
    with pytest.raises(ValueError, match="empty list"):
        ext.load_log([], schema="toposcale_log", warn=False)


def test_custom_mapping_and_its_errors(tmp_path):
    pd.DataFrame({"iter": [0, 10, 20], "val": [3.0, 2.0, 1.5], "acc": [0.1, 0.5, 0.9],
                  "run": ["a", "a", "a"], "loss": [9, 9, 9]}).to_csv(tmp_path / "c.csv", index=False)
    mapping = {"training_step": "iter", "loss": "val", "capability_score": "acc", "run_id": "run"}
    log = ext.load_log(tmp_path / "c.csv", schema="custom", mapping=mapping, warn=False)
    assert log.data["loss"].tolist() == [3.0, 2.0, 1.5]
    assert log.data["loss_original"].tolist() == ["9", "9", "9"]  # their own 'loss' column is kept aside
    assert log.data["capability_score"].tolist() == [0.1, 0.5, 0.9]
    with pytest.raises(ValueError, match=r"column 'steps' \(mapped to training_step\) not found.*mapping"):
        ext.load_log(tmp_path / "c.csv", schema="custom", mapping={"training_step": "steps"}, warn=False)
    with pytest.raises(ValueError, match="no training_step column"):
        ext.load_log(tmp_path / "c.csv", schema="custom", mapping={"loss": "val"}, warn=False)
    with pytest.raises(ValueError, match="several of our columns"):
        ext.load_log(tmp_path / "c.csv", schema="custom", mapping={"training_step": "iter", "loss": "iter"},
                     warn=False)
    with pytest.raises(ValueError, match="unknown external log schema"):
        ext.load_log(tmp_path / "c.csv", schema="wandb", warn=False)
    with pytest.raises(ValueError, match="does not exist"):
        ext.load_log(tmp_path / "missing.csv", warn=False)


# ----------------------------------------------------------------------------- transitions


def test_flag_windows_and_matching_known_answers():
    assert ext.flag_windows([0, 1, 1, 0, 0, 1, 0, 1]) == [(1, 2), (5, 5), (7, 7)]
    assert ext.flag_windows([]) == []
    steps = np.array([10, 100, 1000, 10_000, 100_000])
    spans = ext.window_spans(steps, [False, True, True, False, False])
    assert spans == [(2.0, 4.0)]  # first flagged row .. the row after the window
    m = ext.match_transitions([1.95, 3.0, 4.05, 4.5], spans, tolerance=0.1)
    assert (m["n_detected"], m["n_detected_matched"], m["n_windows"], m["n_windows_hit"]) == (4, 3, 1, 1)
    assert m["precision"] == 0.75 and m["recall"] == 1.0
    strict = ext.match_transitions([1.95], spans, tolerance=0.0)
    assert strict["precision"] == 0.0 and strict["recall"] == 0.0
    empty = ext.match_transitions([], [], tolerance=0.1)
    assert math.isnan(empty["precision"]) and math.isnan(empty["recall"])
    with pytest.raises(ValueError, match="tolerance"):
        ext.match_transitions([1.0], spans, tolerance=-1)


def test_transitions_use_shared_detector_and_find_planted_loss_ramps(planted_analysis):
    from toposcale.analysis.changepoint import detect_change_points

    df, log, res = planted_analysis
    row = res.fits[(res.fits["run_id"] == "syn_000") & (res.fits["series"] == "loss")].iloc[0]
    g = log.data[(log.data["run_id"] == "syn_000") & (log.data["training_step"] > 0)]
    direct = detect_change_points(g["loss"].to_numpy(), np.log10(g["training_step"].to_numpy()),
                                  n_null=39, significance=0.05, seed=0)
    steps = g["training_step"].to_numpy()
    assert row["change_point_steps"] == ";".join(f"{s:g}" for s in steps[sorted(direct["change_points"])])
    pooled = res.fits[(res.fits["run_id"] == "ALL") & (res.fits["series"] == "loss")].iloc[0]
    assert pooled["n_windows"] == 4
    assert pooled["recall"] >= 0.75  # the loss ramp spans each planted window
    assert pooled["precision"] >= 0.75


# ----------------------------------------------------------------------------- ladder


def test_planted_effects_all_survive(planted_analysis):
    _, _, res = planted_analysis
    c = _claims(res)
    assert c.loc["ladder", "verdict"] == "survives" and c.loc["ladder", "p_value"] < 0.01
    assert c.loc["ladder", "estimate"] == pytest.approx(LADDER_RATIO, abs=0.01)
    # 4 runs x (6 plateaus - 1) = 20; PELT may split or merge one plateau next to an excluded window
    assert 18 <= c.loc["ladder", "n"] <= 22
    assert c.loc["fixpoint", "verdict"] == "survives"
    assert c.loc["ladder", "ci_low"] <= LADDER_RATIO <= c.loc["ladder", "ci_high"]
    assert c.loc["grokking_spike", "verdict"] == "survives" and c.loc["grokking_spike", "p_value"] < 0.01


def test_planted_capability_logistic_recovered(planted_analysis):
    _, _, res = planted_analysis
    cap = res.fits[(res.fits["series"] == "capability_score") & (res.fits["run_id"] != "ALL")]
    assert cap["logistic_supported"].all()
    np.testing.assert_allclose(cap["beta"], 6.0, rtol=0.1)  # planted capability_beta
    np.testing.assert_allclose(cap["x0"], math.log10(2000) + 0.25 * np.arange(4), atol=0.03)


def test_wrong_ladder_ratio_is_falsified():
    df = planted_log(seed=1, ladder_ratio=1.30, spike_factor=1.0, n_runs=3)
    c = _analysed_claims(df, "r130")
    assert c.loc["ladder", "verdict"] == "falsified"
    assert c.loc["ladder", "estimate"] == pytest.approx(1.30, abs=0.02)


def test_null_log_claims_do_not_survive():
    df = null_log(seed=7)
    c = _analysed_claims(df, "null")
    assert c.loc["ladder", "verdict"] != "survives"
    assert c.loc["grokking_spike", "verdict"] != "survives"
    assert c.loc["fixpoint", "verdict"] != "survives"


def test_sorting_betas_manufactures_a_false_ladder():
    """Why the ladder test never sorts: sorted i.i.d. values climb in even steps."""
    rng = np.random.default_rng(11)
    sorted_survive = unsorted_survive = 0
    n_rep = 20
    for k in range(n_rep):
        betas = iid_plateau_betas(rng)
        unsorted = ext.ladder_test(betas, n_permutations=99, seed=k)
        fake = ext.ladder_test([np.sort(b) for b in betas], n_permutations=99, seed=k)
        unsorted_survive += unsorted["verdict"] == "survives"
        sorted_survive += fake["verdict"] == "survives"
        assert fake["p_value"] <= 0.02  # sorted order always looks "ordered"
    assert sorted_survive >= 0.8 * n_rep  # the fake ladder "survives" nearly every time
    assert unsorted_survive <= 2


def test_ladder_false_positive_rate_near_nominal():
    rng = np.random.default_rng(5)
    n_rep, rejections = 400, 0
    for k in range(n_rep):
        betas = iid_plateau_betas(rng, n_runs=4, n_plateaus=6)
        rejections += ext.ladder_test(betas, n_permutations=99, seed=k)["p_value"] < 0.05
    assert 0.01 <= rejections / n_rep <= 0.09


def test_smooth_climb_is_not_a_ladder():
    steps = np.unique(np.round(np.geomspace(100, 100_000, 90)))
    rng = np.random.default_rng(2)
    parts = []
    for _ in range(4):  # continuous climbs by a factor 2.8, no plateaus
        beta = 1.5 * (steps / 100) ** 0.15 * np.exp(rng.normal(0, 0.01, steps.size))
        parts.append((steps, beta, ext.plateaus(steps, beta)))
    flat_p = ext.pooled_flatness(parts)
    res = ext.ladder_test([[s["beta"] for s in p[2]] for p in parts], n_permutations=99, flat_p=flat_p)
    assert res["verdict"] != "survives"
    for st, b, segs in parts:
        f = ext.plateau_flatness(st, b, segs)
        assert f["n_rising"] == f["n_segments"] >= 1 and f["median_slope"] > 0.1


def test_plateaus_recover_a_staircase():
    steps = np.unique(np.round(np.geomspace(100, 100_000, 60)))
    levels = np.repeat([1.0, 1.5, 1.2, 3.0], 15)
    beta = levels * np.exp(np.random.default_rng(0).normal(0, 0.01, 60))
    segs = ext.plateaus(steps, beta)
    assert [s["first_row"] for s in segs] == [0, 15, 30, 45]
    np.testing.assert_allclose([s["beta"] for s in segs], [1.0, 1.5, 1.2, 3.0], rtol=0.01)
    flat = ext.plateau_flatness(steps, beta, segs)
    assert flat["n_segments"] == 4 and abs(flat["median_slope"]) < 0.05


# ----------------------------------------------------------------------------- fixpoint


def test_fixpoint_power_and_false_positive_rate():
    rng = np.random.default_rng(3)
    wrong = ext.fixpoint_test(rng.normal(3.6, 0.1, 5))
    assert wrong["verdict"] == "falsified" and wrong["p_value"] < 1e-3
    right = ext.fixpoint_test(rng.normal(FIXPOINT, 0.02, 5))
    assert right["verdict"] == "survives"
    vague = ext.fixpoint_test([3.0, 5.5])
    assert vague["verdict"] == "not supported" and vague["p_value"] > 0.05
    n_rep = 1000
    rate = np.mean([ext.fixpoint_test(rng.normal(FIXPOINT, 0.1, 5))["p_value"] < 0.05 for _ in range(n_rep)])
    assert 0.03 <= rate <= 0.07


def test_fixpoint_single_run_uses_uncertainty():
    z = ext.fixpoint_test([4.3], se=[0.05])
    assert z["statistic_value"] == pytest.approx((4.3 - FIXPOINT) / 0.05)
    assert z["verdict"] == "survives"
    assert ext.fixpoint_test([4.3])["verdict"] == "untestable"


def test_fixpoint_falsified_on_planted_wrong_fixpoint():
    df = planted_log(seed=2, final_beta=3.6, spike_factor=1.0, n_runs=3)
    c = _analysed_claims(df, "f36")
    assert c.loc["fixpoint", "verdict"] == "falsified"
    assert c.loc["fixpoint", "estimate"] == pytest.approx(3.6, abs=0.1)
    assert c.loc["ladder", "verdict"] == "survives"  # the ladder is still there, just lower


# ----------------------------------------------------------------------------- spike


def test_spike_power_and_false_positive_rate():
    rng = np.random.default_rng(4)
    runs = spike_runs(rng, spike=1.5)
    planted = ext.spike_test(*zip(*runs), n_permutations=199)
    assert planted["verdict"] == "survives" and planted["p_value"] < 0.01 and planted["estimate"] > 2
    n_rep = 300
    rejections = sum(ext.spike_test(*zip(*spike_runs(rng)), n_permutations=99, seed=k)["p_value"] < 0.05
                     for k in range(n_rep))
    assert 0.01 <= rejections / n_rep <= 0.09


def test_spike_untestable_without_flags():
    steps = np.array([100.0, 200, 400, 800])
    res = ext.spike_test([steps], [np.ones(4)], [np.zeros(4, bool)], n_permutations=9)
    assert res["verdict"] == "untestable" and not res["survives"]


# ----------------------------------------------------------------------------- outputs, figure, CLI


def test_outputs_written_atomically_with_columns(planted_analysis, tmp_path):
    _, _, res = planted_analysis
    paths = ext.output_paths(tmp_path, "planted")
    ext.write_analysis(res, paths)
    assert paths["fits"].name == "external_planted.csv" and paths["claims"].name == "external_planted_claims.csv"
    assert list(pd.read_csv(paths["fits"]).columns) == ext.FITS_COLUMNS
    claims = pd.read_csv(paths["claims"])
    assert list(claims.columns) == ext.CLAIMS_COLUMNS
    assert list(claims["claim"]) == ["ladder", "fixpoint", "grokking_spike"]
    assert list(pd.read_csv(paths["series"]).columns) == ext.SERIES_COLUMNS
    assert list(pd.read_csv(paths["issues"]).columns) == ext.ISSUE_COLUMNS
    assert not list(tmp_path.glob("*.tmp"))


def test_figure_renders_full_and_empty_logs(planted_analysis, tmp_path):
    from toposcale.report.plots.external import plot_external

    _, _, res = planted_analysis
    out = tmp_path / "external_planted.png"
    plot_external(res.fits, res.claims, res.series, out, name="planted", dpi=60)
    assert out.stat().st_size > 10_000
    runs_dir = write_toposcale_runs(tmp_path / "ours")
    ours = ext.analyse_log(ext.load_log(runs_dir, schema="toposcale_log", warn=False), **FAST)
    out2 = tmp_path / "external_ours.png"
    plot_external(ours.fits, ours.claims, ours.series, out2, name="ours", dpi=60)
    assert out2.stat().st_size > 10_000


def test_cli_make_example_loads_cleanly(tmp_path, capsys):
    out = tmp_path / "demo.csv"
    assert ext.main(["make-example", str(out), "--seed", "1"]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ext.BETA_TRAJECTORY_COLUMNS and len(df) == 360
    assert df["notes"].str.startswith("synthetic").all()
    assert len(ext.load_log(out, warn=False).issues) == 0
    null = tmp_path / "null.csv"
    assert ext.main(["make-example", str(null), "--null"]) == 0
    assert "wrote 360 rows" in capsys.readouterr().out


def test_write_demo_log_writes_the_cli_bytes(tmp_path):
    for seed, null, flag in ((1, False, []), (2, True, ["--null"])):
        cli, direct = tmp_path / f"cli{seed}.csv", tmp_path / f"direct{seed}.csv"
        assert ext.main(["make-example", str(cli), "--seed", str(seed), *flag]) == 0
        df = ext.write_demo_log(direct, seed, null=null)
        assert direct.read_bytes() == cli.read_bytes()
        assert len(df) == 360
    assert (tmp_path / "direct1.csv").read_bytes() != (tmp_path / "direct2.csv").read_bytes()


def test_unknown_log_suffix_is_named(tmp_path):
    path = tmp_path / "log.json"
    path.write_text("{}")
    with pytest.raises(ValueError, match=r"unknown file type '\.json'; use \.csv, \.tsv or \.parquet"):
        ext.load_log(path, warn=False)


# ----------------------------------------------------------------------------- Snakemake rules

_SNAKEFILE = """
from toposcale.config import validate_config

config.update(validate_config({{"model": {{"target_params": [3000], "head_dim": 8}},  # runs gelu/swiglu-d16L1-s0
                                "external": {{"logs": [{{"name": "demo", "path": "demo.csv"}},
                                                       {{"name": "ours", "path": "results/runs",
                                                         "schema": "toposcale_log"}}],
                                              "n_bootstrap": 10, "n_permutations": 19}}}}))

include: "{common}"
include: "{rules}"
"""


def _throwaway_workflow(tmp_path):
    from conftest import ROOT

    planted_log(seed=0, n_runs=2, n_rows=40).to_csv(tmp_path / "demo.csv", index=False)
    write_toposcale_runs(tmp_path / "results")
    (tmp_path / "Snakefile").write_text(_SNAKEFILE.format(
        rules=ROOT / "workflow" / "rules" / "external.smk", common=ROOT / "workflow" / "rules" / "common.smk"))
    return tmp_path


def test_rules_plan_every_log_target(tmp_path):
    from conftest import run_snakemake

    wd = _throwaway_workflow(tmp_path)
    proc = run_snakemake(["-n", "external_all", "--cores", "1"], cwd=wd, timeout=300)
    out = proc.stdout + proc.stderr
    for name in ("demo", "ours"):
        for suffix in ("", "_claims", "_series", "_issues"):
            assert f"results/analysis/external_{name}{suffix}.csv" in out
        assert f"results/figures/external_{name}.png" in out
    assert "external_analyse        2" in out and "plot_external           2" in out
    # a toposcale_log pointing at this study's runs depends on the run logs that training writes
    assert "input: results/runs/gelu-d16L1-s0/log.csv, results/runs/swiglu-d16L1-s0/log.csv" in out


@pytest.mark.workflow
def test_rules_build_tables_and_figures(tmp_path):
    from conftest import run_snakemake

    wd = _throwaway_workflow(tmp_path)
    run_snakemake(["external_all", "--cores", "2"], cwd=wd, timeout=600)
    claims = pd.read_csv(wd / "results/analysis/external_demo_claims.csv")
    assert list(claims["claim"]) == ["ladder", "fixpoint", "grokking_spike"]
    assert (wd / "results/figures/external_demo.png").stat().st_size > 10_000
    assert (wd / "results/figures/external_ours.png").stat().st_size > 10_000
    log_text = (wd / "results/logs/external_analyse/demo.log").read_text()
    assert "ladder:" in log_text and "fixpoint:" in log_text
