"""Transitions per run and series: the change-point test on every series, the pre-registered primary family
(BH over it only), exploratory counts beside their null expectation, change_points.csv, degenerate clouds."""

import numpy as np
import pandas as pd
import pytest

from toposcale.analysis.transitions import (CHANGE_POINT_COLUMNS, HEADLINE_SERIES, detect_transitions, family_counts,
                                           size_trends)
from toposcale.plan.decidability import min_spearman_p, primary_null_draws, runs_for_rank_test
from toposcale.stats import bh_adjust, spearman

SIZES = [25_000, 56_000, 99_000, 198_000, 444_000]
SIGMA = 0.02
#: Primary family of these tests: block-mean h1 (planted drop), block-mean h0 (smooth) and the loss (smooth).
PRIMARY = [dict(source="activations", layer="blocks", metric="h1_total_persistence_norm", variant="raw"),
           dict(source="activations", layer="blocks", metric="h0_total_persistence_norm", variant="raw"),
           dict(source="loss", layer="-", metric="val_loss", variant="raw")]
#: ``ramp_after_warmup`` off: the planted drops (checkpoints 12.5-20.5 of 28) lie partly in the 100-step warmup
#: (the first 16 checkpoints), which the default does not scan (test_default_scans_no_ramp_in_the_warmup)
SETTINGS = {"n_null": 199, "primary": PRIMARY, "ramp_after_warmup": False}


def synthetic_runs(seed=0):
    """Five runs at 30 log-spaced checkpoints: 'h1_total_persistence_norm' drops by 0.3 (15 noise sds) over
    two checkpoints at an index that moves earlier with size; 'h0_total_persistence_norm' and the loss decay
    smoothly. Returns the table and, per run, the planted drop's midpoint index among the steps > 0."""
    rng = np.random.default_rng(seed)
    rows, mids = [], {}
    total = 2000
    steps = np.array([0] + sorted({int(round(v)) for v in np.geomspace(1, total, 30)}))
    pos = steps[1:]
    for k, n in enumerate(SIZES):
        mid = 20.5 - 2 * k                                  # larger model: earlier drop
        mids[f"gelu-m{k}-s0"] = mid
        drop = np.r_[0.0, 1.0 / (1.0 + np.exp(-(np.arange(len(pos)) - mid) / 0.5))]
        loss = 1.5 + 4 * np.maximum(steps, 1) ** -0.4 + 0.01 * rng.normal(size=len(steps))
        for layer in ("embed", "block00", "block01"):
            noise = rng.normal(size=(2, len(steps)))
            h1 = 1.0 - 0.3 * drop + SIGMA * noise[0]
            h0 = 2.0 + 3.0 * np.exp(-0.5 * np.log(np.maximum(steps, 1))) + SIGMA * noise[1]
            for i, s in enumerate(steps):
                rows.append({"run": f"gelu-m{k}-s0", "activation": "gelu", "size": f"m{k}", "seed": 0,
                             "n_nonembed": n, "step": int(s), "frac": s / total, "val_loss": loss[i],
                             "train_loss": loss[i] - 0.01, "source": "activations", "layer": layer,
                             "h1_total_persistence_norm": h1[i], "h0_total_persistence_norm": h0[i]})
    return pd.DataFrame(rows), mids


COLS = ["h1_total_persistence_norm", "h0_total_persistence_norm"]


@pytest.fixture(scope="module")
def result():
    df, mids = synthetic_runs()
    tr, cp = detect_transitions(df, metric_cols=COLS, settings=SETTINGS, seed=0)
    return df, mids, tr, cp


def test_planted_drop_found_at_its_checkpoint_in_the_primary_family(result):
    df, mids, tr, cp = result
    steps = np.sort(df["step"].unique())[1:]
    h1 = tr[(tr.metric == "h1_total_persistence_norm") & (tr.layer == "blocks")]
    assert len(h1) == 5 and h1["primary"].all() and h1["significant"].all()
    for r in h1.itertuples():
        idx = int(np.searchsorted(steps, r.transition_step))
        assert abs(idx - mids[r.run]) <= 1.0, (r.run, idx, mids[r.run])
    # 15 primary series at alpha 0.05: floor(15 / 0.05) + 1 = 301 null draws, floor 1/302 < 0.05/15
    assert (tr.loc[tr.primary, "n_null"] == 301).all() and (tr.loc[~tr.primary, "n_null"] == 199).all()
    assert set(tr.loc[tr.primary, "family"]) == {"primary"}


def test_smooth_series_and_exploratory_series_are_never_significant(result):
    _, _, tr, _ = result
    smooth = tr[tr.primary & tr.metric.isin(["h0_total_persistence_norm", "val_loss"])]
    # BH at 0.05 over 15 series of which 10 are null: expected false discoveries <= 0.05 * 10 = 0.5
    assert len(smooth) == 10 and smooth["significant"].sum() <= 1
    expl = tr[~tr.primary]
    assert not expl["significant"].any() and expl["transition_frac"].isna().all()
    # the per-layer h1 series carry the drop: exploratory, but their raw p-values say so
    layers = expl[(expl.metric == "h1_total_persistence_norm")]
    assert (layers["p_value"] < 0.05).mean() >= 0.9
    dr = tr[tr.metric == "h0_total_persistence_norm"]["diminishing_returns_frac"]
    assert dr.notna().all() and (dr < 1.0).all()


def test_change_points_table_contract(result):
    _, _, tr, cp = result
    assert tuple(cp.columns) == CHANGE_POINT_COLUMNS
    sig = cp[cp.significant]
    assert (sig["metric"] == "h1_total_persistence_norm").sum() >= 5 and sig["primary"].all()
    assert (sig["p_value"] < 0.05).all() and (sig["q_value"] < 0.05).all()
    first = cp.groupby(["run", "source", "layer", "metric", "variant"], sort=False).head(1)
    merged = first.merge(tr, on=["run", "source", "layer", "metric", "variant"], suffixes=("", "_tr"))
    ok = merged["significant"]
    assert np.allclose(merged.loc[ok, "step"], merged.loc[ok, "transition_step"])
    assert (merged["frac"] == merged["step"] / 2000).all()


def test_size_trend_of_transition_fraction(result):
    _, _, tr, _ = result
    trends = size_trends(tr)
    row = trends[(trends.layer == "blocks") & (trends.metric == "h1_total_persistence_norm")
                 & (trends.quantity == "transition_frac")]
    assert len(row) == 1 and row["n_runs"].iloc[0] == 5
    assert row["rho"].iloc[0] == pytest.approx(-1.0)       # larger models transition earlier, as planted
    assert not row["verdict"].iloc[0].startswith("cannot decide")


def test_deterministic_and_validates_input(result):
    df, _, tr, cp = result
    tr2, cp2 = detect_transitions(df, metric_cols=COLS, settings=SETTINGS, seed=0)
    pd.testing.assert_frame_equal(tr, tr2)
    pd.testing.assert_frame_equal(cp, cp2)
    with pytest.raises(ValueError, match="frac"):
        detect_transitions(df.drop(columns="frac"))
    with pytest.raises(ValueError, match="primary_n_null"):
        detect_transitions(df, metric_cols=COLS, settings=dict(SETTINGS, primary_n_null=100))


def test_primary_null_draws_reach_below_alpha_over_m():
    for m in (1, 9, 15, 504):
        b = primary_null_draws(m, 0.05)
        assert 1 / (b + 1) < 0.05 / m and b <= m / 0.05 + 1
    assert primary_null_draws(504, 0.05) == 10081 and primary_null_draws(0, 0.05) == 0
    assert primary_null_draws(15, 0.05, 5000) == 5000
    with pytest.raises(ValueError, match=">= 301"):
        primary_null_draws(15, 0.05, 300)


def test_degenerate_clouds_left_out_of_raw_and_null_z(result):
    df, _, _, _ = result
    df = df[df.run == "gelu-m0-s0"].copy()
    df["h1_total_persistence_norm_null_z"] = np.random.default_rng(0).normal(size=len(df))
    df["degenerate"] = (df.layer == "embed") & df.step.between(1, 3)
    tr, _ = detect_transitions(df, metric_cols=["h1_total_persistence_norm"], settings=SETTINGS)
    emb = tr[tr.layer == "embed"].set_index("variant")["n_points"]
    n = df.step.nunique() - 1
    assert emb["raw"] == emb["null_z"] == n - 3
    assert (tr[tr.layer == "block00"]["n_points"] == n).all()
    loss = tr[tr.source == "loss"]
    assert (loss["n_points"] == n).all() and set(loss["variant"]) == {"raw"}


def test_family_counts_on_uniform_p_values():
    """Pure noise: about alpha*m p-values fall below alpha, the expected count is exactly alpha*m, and BH
    confirms (almost) none of the primary family; an exploratory family gets no BH count."""
    rng = np.random.default_rng(1)
    m = 2000
    p = rng.uniform(size=m)
    prim = np.arange(m) < 1000
    q = np.r_[bh_adjust(p[:1000]), bh_adjust(p[1000:])]
    tr = pd.DataFrame({"source": "weights", "variant": "raw", "p_value": p, "q_value": q, "alpha": 0.05,
                       "p_min": 0.0, "primary": prim, "family": np.where(prim, "primary", "weights/raw")})
    fam = family_counts(tr).set_index("family")
    assert list(fam.index) == ["primary", "weights/raw"]
    assert fam.loc["primary", "n_tests"] == 1000 and fam.loc["primary", "expected_null"] == pytest.approx(50)
    assert 30 <= fam.loc["primary", "n_raw"] <= 70 and fam.loc["primary", "n_bh"] <= 2
    assert 30 <= fam.loc["weights/raw", "n_raw"] <= 70 and np.isnan(fam.loc["weights/raw", "n_bh"])


def test_scripts_write_tables_and_figure(tmp_path):
    from test_dynamics import run_script

    df, _ = synthetic_runs(seed=1)
    paths = []
    for run, g in df.groupby("run"):
        paths.append(str(tmp_path / f"{run}.parquet"))
        g.to_parquet(paths[-1])
    out = {"csv": str(tmp_path / "transitions.csv"), "change_points": str(tmp_path / "change_points.csv"),
           "sizes": str(tmp_path / "sizes.csv"), "families": str(tmp_path / "families.csv")}
    log = run_script("transitions", {"metrics": paths}, out,
                     {"cfg": dict(SETTINGS, significance=0.05), "metrics": ["h1_total_persistence_norm"], "seed": 0,
                      "schedule": {"warmup_frac": 0.05, "min_lr_frac": 0.1}},
                     tmp_path)
    tr = pd.read_csv(out["csv"])
    assert set(tr["metric"]) == {"h1_total_persistence_norm", "val_loss", "train_loss"}
    assert "primary family: 10 series, 5 significant" in log and "expected by chance" in log
    cp = pd.read_csv(out["change_points"])
    assert tuple(cp.columns) == CHANGE_POINT_COLUMNS and cp["significant"].sum() >= 5
    fam = pd.read_csv(out["families"])
    assert fam["primary"].iloc[0] and np.allclose(fam["expected_null"], 0.05 * fam["n_tests"])
    assert "transition_frac" in set(pd.read_csv(out["sizes"])["quantity"])
    png = tmp_path / "transitions.png"
    run_script("fig_dynamics", {"transitions": out["csv"], "metrics": paths}, {"transitions": str(png)},
               {"dpi": 60}, tmp_path)
    assert png.stat().st_size > 10_000


def test_default_scans_no_ramp_in_the_warmup(result):
    """With the default ``ramp_after_warmup`` the drops planted after the warmup (runs m0, m1: checkpoints 20.5
    and 18.5, the warmup holding the first 16) are found at their checkpoint as before; those planted inside
    it (m3, m4: 14.5, 12.5) get no change point there: a drop in the warmup is not tested by the ramp scan,
    and the rebound test cannot see a single drop from a plateau."""
    df, mids, tr_off, _ = result
    tr, cp = detect_transitions(df, metric_cols=COLS, settings=dict(SETTINGS, ramp_after_warmup=True), seed=0)
    steps = np.sort(df["step"].unique())[1:]
    h1 = tr[(tr.metric == "h1_total_persistence_norm") & (tr.layer == "blocks")].set_index("run")
    for run in ("gelu-m0-s0", "gelu-m1-s0"):
        assert h1.loc[run, "significant"], run
        assert abs(int(np.searchsorted(steps, h1.loc[run, "transition_step"])) - mids[run]) <= 1.0, run
    for run in ("gelu-m3-s0", "gelu-m4-s0"):
        at = cp[(cp.run == run) & (cp.metric == "h1_total_persistence_norm") & (cp.layer == "blocks")]
        assert not (np.abs(np.searchsorted(steps, at["step"]) - mids[run]) <= 1.0).any(), (run, at)
    off = tr_off[(tr_off.metric == "h1_total_persistence_norm") & (tr_off.layer == "blocks")].set_index("run")
    assert off.loc[["gelu-m3-s0", "gelu-m4-s0"], "significant"].all()      # what the switch gives up


def test_transitions_in_the_warmup_are_marked(result):
    """A 2,000-step run warms up over 100 steps (5%): a transition at or before step 100 is in the warmup; the
    same flag per change point; a checkpoint series of another model (no known schedule) gets NaN; the
    summary marks those cells and counts them."""
    from toposcale.report.sections import transitions_lines

    df, _, tr, cp = result
    assert (tr["warmup_steps"] == 100).all()
    sig = tr[tr["significant"]]
    assert sig["transition_in_warmup"].astype(bool).tolist() == (sig["transition_step"] <= 100).tolist()
    assert sig["transition_in_warmup"].astype(bool).any() and not sig["transition_in_warmup"].astype(bool).all()
    assert tr.loc[~tr["significant"], "transition_in_warmup"].isna().all()
    assert cp["in_warmup"].astype(bool).tolist() == (cp["step"] <= 100).tolist()
    text = "\n".join(transitions_lines(tr))
    h1 = sig[(sig["metric"] == "h1_total_persistence_norm") & (sig["layer"] == "blocks")]
    warm = h1[h1["transition_in_warmup"].astype(bool)]
    row = next(line for line in text.splitlines() if line.startswith(f"| {warm['run'].iloc[0]} |"))
    assert "warmup)" in row
    head = sig[[(r.source, r.layer, r.metric) in HEADLINE_SERIES or (r.source, r.metric) == ("loss", "val_loss")
                for r in sig.itertuples()]]
    k = int(head["transition_in_warmup"].astype(bool).sum())
    assert f"{k} of the {len(head)} transitions in this table" in text and k >= 1
    other = df[df["run"] == "gelu-m0-s0"].assign(run="series-x")
    tr2, cp2 = detect_transitions(other, metric_cols=COLS[:1], settings={"n_null": 19}, seed=0)
    assert tr2["warmup_steps"].isna().all() and tr2["transition_in_warmup"].isna().all()
    assert cp2["in_warmup"].isna().all()


def test_report_lines_primary_and_exploratory(result):
    from toposcale.report.keys import key_numbers
    from toposcale.report.sections import transitions_lines

    _, _, tr, _ = result
    text = "\n".join(transitions_lines(tr))
    n_sig = int(tr["significant"].sum())
    assert "Only the pre-registered primary series" in text and f"{n_sig} of 15 have q < 0.05" in text
    assert "| primary (pre-registered) | 15 | 0.750 |" in text and n_sig >= 5
    assert "exploratory | " in text and "not tested for significance" in text
    row = next(line for line in text.splitlines() if line.startswith("| gelu-m0-s0 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "none" and cells[2] == "none" and cells[3] != "none"   # val_loss, h0 smooth; h1 drops
    assert sum(c == "none" for c in cells[1:]) >= 1
    keys = key_numbers({"transitions": tr})
    assert any(k.startswith("primary transitions: ") and k.endswith(f", {n_sig} after BH") for k in keys)


# ----------------------------------------------------------------------------- size-trend gating

def test_min_spearman_p_is_the_exact_spearman_floor():
    assert min_spearman_p([1, 2, 3]) == pytest.approx(1 / 3)
    assert min_spearman_p(range(5)) == pytest.approx(1 / 60)
    assert min_spearman_p([1, 1, 2]) == pytest.approx(2 / 3) and min_spearman_p([4, 4, 4]) == 1.0
    for x in ([1, 2, 3, 4, 5], [1, 1, 2, 2, 3, 3], [1, 2, 2, 3, 4]):
        y = np.arange(len(x), dtype=float)                       # a perfect monotone response reaches it
        assert spearman(np.asarray(x, float), y)[1] == pytest.approx(min_spearman_p(x))
    assert runs_for_rank_test(0.05) == 5 and runs_for_rank_test(0.01) == 6 and runs_for_rank_test(0.5) == 3


def test_size_trend_gated_by_the_runs_available():
    def table(k):
        n = 1000.0 * 2 ** np.arange(k)
        return pd.DataFrame({"run": [f"r{i}" for i in range(k)], "n_nonembed": n, "source": "weights",
                             "layer": "blocks", "metric": "h0", "variant": "raw", "alpha": 0.05,
                             "transition_frac": np.linspace(0.8, 0.2, k), "diminishing_returns_frac": np.nan,
                             "transition_step": 1000 * np.linspace(0.8, 0.2, k),     # one total: the clocks agree
                             "diminishing_returns_step": np.nan})
    three = size_trends(table(3)).set_index("quantity").loc["transition_frac"]
    assert three["verdict"] == "cannot decide: need >= 5 runs of distinct sizes"
    assert three["rho"] == pytest.approx(-1.0) and np.isnan(three["p"]) and np.isnan(three["q"])
    assert three["min_p"] == pytest.approx(1 / 3)
    five = size_trends(table(5)).set_index("quantity").loc["transition_frac"]
    assert five["p"] == pytest.approx(1 / 60) and five["verdict"] == "decreases with size"
    flat = table(6).assign(transition_frac=[0.5, 0.2, 0.6, 0.3, 0.4, 0.45])
    flat = flat.assign(transition_step=1000 * flat["transition_frac"])
    assert size_trends(flat).set_index("quantity").loc["transition_frac", "verdict"] == "no evidence of a trend"


def test_plan_states_what_the_primary_family_needs():
    from toposcale.plan.decidability import load_study_config, plan

    rows = {r["analysis"]: r for r in plan(load_study_config(["config.yaml"]))}
    r = rows["transitions primary family"]
    assert r["decidable"] and "9 primary series" in r["have"] and "null draws per primary series" in r["message"]
    smoke = {r["analysis"]: r for r in plan(load_study_config(["configs/smoke.yaml"]))}["transitions primary family"]
    assert not smoke["decidable"] and smoke["message"].startswith("cannot decide: need >= 9 checkpoints")


def test_plan_knows_every_methods_minimum_and_the_tests_agree():
    from toposcale.analysis.change_test import METHODS
    from toposcale.analysis.changepoint import min_points as ramp_min
    from toposcale.analysis.rebound import rebound_min_points
    from toposcale.plan.decidability import change_test_min_points

    st = dict(SETTINGS, smooth_df=4, null_df=6, ramp_widths=[1, 2, 3], min_plateau=3, rebound_window=2)
    need = {m: change_test_min_points(dict(st, method=m)) for m in METHODS}
    assert need == {"ramp": ramp_min(4, (1, 2, 3), 3, 6), "rebound": rebound_min_points(2), "ramp+rebound": 9}
    with pytest.raises(ValueError, match="transitions.method='pelt'"):
        change_test_min_points(dict(st, method="pelt"))
    # the combination tests a series only one of its tests can take (the ramp scan needs 12 points)
    x = np.log(np.arange(1.0, 11.0))
    y = np.r_[np.full(5, 3.0), np.full(5, 2.3)] + 0.01 * np.random.default_rng(0).standard_normal(10)
    from toposcale.analysis.change_test import change_points

    r = change_points(y[None], x, "ramp+rebound", n_null=99, window=2, allowance=0.0, noise="sup")[0]
    assert np.isfinite(r["p_value"]) and need["ramp"] > 10 >= need["ramp+rebound"]


def test_report_says_cannot_decide_when_series_are_too_short(result):
    from toposcale.report.sections import transitions_lines

    df, _, _, _ = result
    short = df[df.step.isin(sorted(df.step.unique())[:9])]
    tr, cp = detect_transitions(short, metric_cols=COLS, settings=SETTINGS)
    assert tr["p_value"].isna().all() and cp.empty
    assert "Transitions: cannot decide: every series is shorter" in "\n".join(transitions_lines(tr))


def _timing_table(dr_step, totals, n):
    """One series per run: diminishing-returns point at ``dr_step`` of runs whose total steps are ``totals``."""
    k = len(n)
    return pd.DataFrame({"run": [f"r{i}" for i in range(k)], "n_nonembed": n, "source": "loss", "layer": "-",
                         "metric": "val_loss", "variant": "raw", "alpha": 0.05,
                         "transition_step": np.nan, "transition_frac": np.nan,
                         "diminishing_returns_step": dr_step, "diminishing_returns_frac": dr_step / totals})


def test_diminishing_returns_trend_is_not_the_training_length():
    """Issue 22 point 8: total steps grow with N (tokens per parameter fixed), so a loss curve identical in
    steps across sizes reaches diminishing returns at the same step, hence at a training fraction that
    falls with N (rho = -1). That is training length, not size: it must not be called a size trend. A
    point that comes earlier with size on both clocks (steps and fraction) still is one."""
    n = np.repeat([6300, 14000, 25000, 39000, 56000, 76000, 99000.0], 2)
    totals = 20 * n / 64
    same = size_trends(_timing_table(np.full(len(n), 300.0), totals, n)).set_index("quantity")
    row = same.loc["diminishing_returns_frac"]
    assert row["rho"] == pytest.approx(-1.0)
    assert row["verdict"] not in ("decreases with size", "increases with size")
    assert row["verdict"].startswith("depends on the clock")
    earlier = size_trends(_timing_table(300.0 * (n / n[0]) ** -0.3, totals, n)).set_index("quantity")
    assert earlier.loc["diminishing_returns_frac", "verdict"] == "decreases with size"
    assert earlier.loc["diminishing_returns_frac", "rho_step"] == pytest.approx(-1.0)


def test_rebound_method_runs_on_every_series():
    """``transitions.method: rebound`` tests every series with the rate-rebound test (one-sided for the loss,
    two-sided for topology); the smooth loss and h0 decays are not significant; a bad method is an error."""
    df, _ = synthetic_runs(seed=1)
    tr, cp = detect_transitions(df, metric_cols=COLS, settings=dict(SETTINGS, method="rebound"), seed=0)
    assert tr["p_value"].notna().all() and (tr["phi"] >= 0).all()
    smooth = tr[(tr.source == "loss") | (tr.metric == "h0_total_persistence_norm")]
    assert not smooth["significant"].any()
    assert tr.loc[tr.source != "loss", "p_value"].min() >= 2.0 / (tr["n_null"].max() + 1)   # Bonferroni 2
    with pytest.raises(ValueError, match="transitions.method"):
        detect_transitions(df, metric_cols=COLS, settings=dict(SETTINGS, method="pelt"))


def test_anneal_and_sup_noise_settings_reach_the_test():
    """``rebound_noise: sup`` and ``anneal`` (the schedule in the null) run on every series; the smooth
    loss and h0 decays stay non-significant; without the runs' schedule the trainer's default one is used;
    ``anneal: false`` changes the p-values."""
    df, _ = synthetic_runs(seed=1)
    st = dict(SETTINGS, method="rebound", rebound_noise="sup", anneal=True, rebound_window=2,
              rebound_allowance=0.0)
    tr, _ = detect_transitions(df, metric_cols=COLS, settings=st, seed=0,
                               schedule=dict(warmup_frac=0.05, min_lr_frac=0.1))
    assert tr["p_value"].notna().all() and set(tr["phi"].dropna()) <= {0.0, 0.5, 0.9}
    smooth = tr[(tr.source == "loss") | (tr.metric == "h0_total_persistence_norm")]
    assert not smooth["significant"].any()
    import inspect

    from toposcale.analysis.lr_schedule import anneal_covariate
    from toposcale.plan.decidability import load_study_config

    train = load_study_config(["config.yaml"])["training"]       # the schema's defaults: the trainer's schedule
    defaults = inspect.signature(anneal_covariate).parameters
    assert {k: defaults[k].default for k in ("warmup_frac", "min_lr_frac")} == {k: train[k] for k in
                                                                                ("warmup_frac", "min_lr_frac")}
    default, _ = detect_transitions(df, metric_cols=COLS, settings=st, seed=0)
    pd.testing.assert_frame_equal(default, tr)
    off, _ = detect_transitions(df, metric_cols=COLS, settings=dict(st, anneal=False), seed=0)
    assert not np.allclose(off["p_value"], tr["p_value"])


def test_summary_names_the_test_that_wrote_the_table(result):
    """The transitions table records each series' test (``method``) and the summary names that test, not a
    fixed description: the default (``ramp+rebound``) says so, a study run with ``method: ramp`` too."""
    from toposcale.analysis.change_test import COMBINED_METHOD
    from toposcale.analysis.changepoint import METHOD
    from toposcale.report.sections import transitions_lines

    _, _, tr, _ = result
    assert (tr["method"] == COMBINED_METHOD).all()
    assert COMBINED_METHOD in "\n".join(transitions_lines(tr))
    df, _ = synthetic_runs(seed=1)
    ramp, _ = detect_transitions(df, metric_cols=COLS, settings=dict(SETTINGS, method="ramp"), seed=0)
    assert (ramp["method"] == METHOD).all()
    text = "\n".join(transitions_lines(ramp))
    assert METHOD in text and COMBINED_METHOD not in text
