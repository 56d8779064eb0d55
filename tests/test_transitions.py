"""Transitions per run and series: planted ramps found at the right fraction, smooth series left alone."""

import numpy as np
import pandas as pd
import pytest

from toposcale.analysis.transitions import detect_transitions, family_counts, size_trends
from toposcale.plan.decidability import min_spearman_p, runs_for_rank_test
from toposcale.stats import bh_adjust, spearman

SIZES = [25_000, 56_000, 99_000, 198_000, 444_000]


def synthetic_runs(seed=0):
    """Five runs whose 'h1_total_persistence_norm' has a plateau-ramp-plateau transition at a training
    fraction that shrinks with model size, and whose 'h0_total_persistence_norm' decays smoothly."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, n in enumerate(SIZES):
        total = 2000
        steps = np.array([0] + sorted({int(round(v)) for v in np.geomspace(1, total, 30)}))
        x = np.log(np.maximum(steps, 1))
        start = np.log(total) - 4.5 + 0.5 * (len(SIZES) - 1 - k) * 0.8   # larger model: earlier ramp
        ramp = np.clip((x - start) / 1.6, 0, 1)
        loss = 1.5 + 4 * np.maximum(steps, 1) ** -0.4
        for layer in ("embed", "block00", "block01"):
            noise = rng.normal(size=(2, len(steps)))
            h1 = 1.0 - 1.5 * ramp + 0.02 * noise[0]
            h0 = 2.0 + 3.0 * np.exp(-0.5 * x) + 0.03 * noise[1]
            for i, s in enumerate(steps):
                rows.append({"run": f"gelu-m{k}-s0", "activation": "gelu", "size": f"m{k}", "seed": 0,
                             "n_nonembed": n, "step": int(s), "frac": s / total, "val_loss": loss[i],
                             "train_loss": loss[i] - 0.01, "source": "activations", "layer": layer,
                             "h1_total_persistence_norm": h1[i], "h0_total_persistence_norm": h0[i]})
    return pd.DataFrame(rows), {f"gelu-m{k}-s0": np.exp(np.log(2000) - 4.5 + 0.4 * (4 - k)) / 2000
                                for k in range(5)}


@pytest.fixture(scope="module")
def result():
    df, starts = synthetic_runs()
    out = detect_transitions(df, metric_cols=["h1_total_persistence_norm", "h0_total_persistence_norm"],
                             n_permutations=99, seed=0)
    return df, starts, out


def test_planted_ramp_found_at_its_fraction(result):
    _, starts, out = result
    ramp = out[(out.metric == "h1_total_persistence_norm") & (out.layer == "blocks")]
    assert len(ramp) == 5 and ramp["significant"].all()
    for _, r in ramp.iterrows():
        cps = [float(v) for v in r["change_point_fracs"].split(";")]
        start, end = starts[r["run"]], starts[r["run"]] * np.exp(1.6)
        # every reported change point sits at the start or the end of the ramp (one checkpoint ~ x1.3)
        assert all(min(abs(np.log(c / start)), abs(np.log(c / end))) < 0.35 for c in cps), (r["run"], cps)
        assert r["transition_frac"] == pytest.approx(start, rel=0.4) or \
            r["transition_frac"] == pytest.approx(end, rel=0.4)
    per_layer = out[(out.metric == "h1_total_persistence_norm") & (out.layer != "blocks")]
    assert per_layer["significant"].mean() >= 0.8


def test_smooth_decay_and_loss_have_no_transition(result):
    _, _, out = result
    smooth = out[out.metric.isin(["h0_total_persistence_norm", "val_loss", "train_loss"])]
    assert smooth["significant"].mean() <= 0.1
    assert smooth["transition_frac"].isna().mean() >= 0.9
    # a decaying series settles: its diminishing-returns point exists and precedes the end
    dr = out[out.metric == "h0_total_persistence_norm"]["diminishing_returns_frac"]
    assert dr.notna().all() and (dr < 1.0).all()


def test_size_trend_of_transition_fraction(result):
    _, _, out = result
    trends = size_trends(out)
    row = trends[(trends.layer == "blocks") & (trends.metric == "h1_total_persistence_norm")
                 & (trends.quantity == "transition_frac")]
    assert len(row) == 1 and row["n_runs"].iloc[0] == 5
    assert row["rho"].iloc[0] <= -0.8          # larger models transition earlier, as planted
    assert not row["verdict"].iloc[0].startswith("cannot decide")       # 5 distinct sizes: p can reach 1/60
    assert set(trends["quantity"]) <= {"transition_frac", "diminishing_returns_frac"}


def test_deterministic_and_validates_input(result):
    df, _, out = result
    again = detect_transitions(df, metric_cols=["h1_total_persistence_norm", "h0_total_persistence_norm"],
                               n_permutations=99, seed=0)
    pd.testing.assert_frame_equal(out, again)
    with pytest.raises(ValueError, match="frac"):
        detect_transitions(df.drop(columns="frac"))


def test_scripts_write_table_and_figure(tmp_path):
    from test_dynamics import run_script

    df, _ = synthetic_runs(seed=1)
    paths = []
    for run, g in df.groupby("run"):
        paths.append(str(tmp_path / f"{run}.parquet"))
        g.to_parquet(paths[-1])
    cfg = {"metrics": ["h1_total_persistence_norm"], "n_permutations": 49, "significance": 0.05}
    out = {"csv": str(tmp_path / "transitions.csv"), "sizes": str(tmp_path / "sizes.csv"),
           "families": str(tmp_path / "families.csv")}
    log = run_script("transitions", {"metrics": paths}, out, {"cfg": cfg, "seed": 0}, tmp_path)
    tr = pd.read_csv(out["csv"])
    assert set(tr["metric"]) == {"h1_total_persistence_norm", "val_loss", "train_loss"}
    assert "significant change point after Benjamini-Hochberg" in log and "expected by chance" in log
    fam = pd.read_csv(out["families"])
    assert set(fam["source"]) == {"activations", "loss"}
    assert np.allclose(fam["expected_null"], 0.05 * fam["n_tests"])
    assert "transition_frac" in set(pd.read_csv(out["sizes"])["quantity"])
    png = tmp_path / "transitions.png"
    run_script("fig_dynamics", {"transitions": out["csv"], "metrics": paths}, {"transitions": str(png)},
               {"dpi": 60}, tmp_path)
    assert png.stat().st_size > 10_000


def test_null_z_series_segmented_beside_unchanged_raw_rows(result):
    """h1's ramp lives in its null mean (the excess is noise): raw transition, none in null_z. h0 decays
    smoothly but its excess over the null has the ramp: a transition in null_z only. Raw rows equal
    those of the table without nulls; degenerate clouds are left out of the null_z series."""
    df, _, out = result
    keep = ["gelu-m0-s0", "gelu-m4-s0"]
    df = df[df.run.isin(keep)].copy()
    rng = np.random.default_rng(3)
    ramp = (1.0 - df["h1_total_persistence_norm"]) / 1.5                 # 0 -> 1 (+ noise) along training
    noise = rng.normal(size=(2, len(df)))
    df["h1_total_persistence_norm_null_z"] = noise[0]
    df["h1_total_persistence_norm_null_mean"] = df["h1_total_persistence_norm"] - 0.1 * noise[0]
    df["h0_total_persistence_norm_null_z"] = 5.0 * ramp + 0.1 * noise[1]
    df["h0_total_persistence_norm_null_mean"] = df["h0_total_persistence_norm"] - 0.1 * df[
        "h0_total_persistence_norm_null_z"]
    df["degenerate"] = (df.layer == "embed") & (df.step.between(1, 3))
    cols = ["h1_total_persistence_norm", "h0_total_persistence_norm"]
    got = detect_transitions(df, metric_cols=cols, n_permutations=99, seed=0)
    raw = got[got.variant == "raw"].reset_index(drop=True)
    with pytest.warns(UserWarning, match="null_z"):
        ref = detect_transitions(df.drop(columns=[c for c in df if "_null_" in c]), metric_cols=cols,
                                 n_permutations=99, seed=0)
    pd.testing.assert_frame_equal(raw, ref)             # BH families are per variant: null_z rows change nothing

    null = got[got.variant == "null_z"].set_index(["run", "layer", "metric"])
    assert "loss" not in set(got[got.variant == "null_z"]["source"])
    assert not null.xs("h1_total_persistence_norm", level="metric")["significant"].any()
    excess = null.xs("h0_total_persistence_norm", level="metric")
    assert excess.xs("blocks", level="layer")["significant"].all()
    assert excess["significant"].mean() >= 0.75                          # as for the raw ramp above
    n_steps = int((df.run == keep[0]).sum() / 3) - 1                     # checkpoints with step > 0
    emb = null.xs("embed", level="layer")["n_points"]
    assert (emb == n_steps - int(df[(df.run == keep[0]) & df.degenerate].shape[0])).all()
    assert (null.xs("block00", level="layer")["n_points"] == n_steps).all()
    trends = size_trends(got)
    assert set(trends["variant"]) == {"raw", "null_z"}
    assert (trends["verdict"] == "cannot decide: need >= 5 runs of distinct sizes").all()   # 2 runs


def test_old_tables_give_raw_rows_with_a_note(result):
    df, _, _ = result
    with pytest.warns(UserWarning, match="null_z"):
        got = detect_transitions(df[df.run == "gelu-m0-s0"], metric_cols=["h0_total_persistence_norm"],
                                 n_permutations=19, seed=0, include_loss=False)
    assert set(got["variant"]) == {"raw"}


def test_report_lines_show_null_z_transitions_beside_raw(result):
    from toposcale.report.keys import key_numbers
    from toposcale.report.sections import transitions_lines
    from toposcale.report.variants import NO_NULL_NOTE

    df, _, out = result
    df = df[df.run == "gelu-m0-s0"].copy()
    df["h1_total_persistence_norm_null_z"] = np.random.default_rng(0).normal(size=len(df))   # ramp in the null
    got = detect_transitions(df, metric_cols=["h1_total_persistence_norm"], n_permutations=49, seed=0)
    text = "\n".join(transitions_lines(got))
    assert "| activations (null_z) | 4 | 0.200 | 0 | 0 | 2 (p_min 0.020) |" in text
    assert "Raw series: 4 of 6 have p < 0.05 where 0.300 are expected by chance; 4 survive BH." in text
    row = next(line for line in text.splitlines() if line.startswith("| gelu-m0-s0 |"))
    # columns: run, val_loss, raw block-mean h1, null_z block-mean h1, val_loss diminishing returns
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] != "none" and cells[3] == "none"
    keys = key_numbers({"transitions": got})
    assert "activations block-mean topology: 1 raw / 0 null_z series with a transition (of 1 each)" in keys
    assert "activations transitions: 4/4 series p < 0.05 (0.200 by chance), 4 after BH" in keys
    assert NO_NULL_NOTE in transitions_lines(out)
    sizes = size_trends(got)
    text = "\n".join(transitions_lines(got, {"transition_sizes": sizes}))
    assert f"0 of {len(sizes)} trends tested, 0 with q below it on both clocks (training fraction and steps" in text
    assert (f"(Benjamini-Hochberg within each quantity); {len(sizes)} cannot be decided (need >= 5 runs of "
            f"distinct sizes: with fewer") in text
    assert "smallest p-values" not in text
    five = size_trends(out)
    text = "\n".join(transitions_lines(out, {"transition_sizes": five}))
    assert f"{int((~five['verdict'].str.startswith('cannot')).sum())} of {len(five)} trends tested" in text
    assert "| verdict |" in text and "| raw | 5 |" in text


# ----------------------------------------------------------------------------- multiplicity and gating

def noise_runs(n_runs=6, n_metrics=4, seed=0, ramp_metric=False):
    """Runs whose metric series are Gaussian random walks (no transition); with ``ramp_metric`` one more
    metric, ``ramp``, has a plateau-ramp-plateau in every layer of the first run only."""
    rng = np.random.default_rng(seed)
    steps = np.array([0] + sorted({int(round(v)) for v in np.geomspace(1, 2000, 30)}))
    x = np.log(np.maximum(steps, 1))
    rows = []
    for k in range(n_runs):
        for layer in ("embed", "block00", "block01"):
            vals = {f"m{j}": np.cumsum(rng.normal(size=len(steps))) for j in range(n_metrics)}
            if ramp_metric:
                vals["ramp"] = (1.0 - 1.5 * np.clip((x - 3.5) / 1.6, 0, 1) * (k == 0)
                                + 0.02 * rng.normal(size=len(steps)))
            for i, s in enumerate(steps):
                rows.append(dict(run=f"gelu-m{k}-s0", activation="gelu", size=f"m{k}", seed=0,
                                 n_nonembed=1000 * (k + 1), step=int(s), frac=s / 2000, val_loss=2.0,
                                 train_loss=2.0, source="activations", layer=layer,
                                 **{m: v[i] for m, v in vals.items()}))
    return pd.DataFrame(rows)


def test_family_counts_on_uniform_p_values():
    """Pure noise: about alpha*m p-values fall below alpha, the expected count is exactly alpha*m, and BH
    confirms (almost) none."""
    rng = np.random.default_rng(1)
    m = 2000
    p = rng.uniform(size=m)
    tr = pd.DataFrame({"source": "weights", "variant": "raw", "p_value": p, "q_value": bh_adjust(p), "alpha": 0.05,
                       "p_min": 0.0})
    fam = family_counts(tr).iloc[0]
    assert fam["n_tests"] == m and fam["expected_null"] == pytest.approx(0.05 * m)
    assert 70 <= fam["n_raw"] <= 130 and fam["n_bh"] <= 2
    assert fam["min_bh_discoveries"] == 1


def test_bh_on_pure_noise_series_and_the_permutation_floor():
    tr = detect_transitions(noise_runs(), metric_cols=["m0", "m1", "m2", "m3"], n_permutations=49, seed=0,
                            include_loss=False, aggregate_blocks=False)
    assert set(tr["family"]) == {"activations/raw"}
    fam = family_counts(tr).iloc[0]
    assert fam["n_tests"] == len(tr) == 72 and fam["expected_null"] == pytest.approx(0.05 * 72)
    assert fam["n_raw"] == int((tr["p_value"] < 0.05).sum()) and fam["n_bh"] == int(tr["significant"].sum()) == 0
    # with p >= 1/50, BH at 0.05 needs more than 72 * 0.02 / 0.05 = 28.8 series at the floor at once
    assert fam["p_min"] == pytest.approx(1 / 50) and fam["min_bh_discoveries"] == 29
    assert tr["q_value"].ge(tr["p_value"]).all()
    off = tr[~tr["significant"]]
    assert off["transition_frac"].isna().all() and (off["n_change_points"] == 0).all()
    assert (tr["significant_raw"] == (tr["p_value"] < 0.05)).all()


def test_planted_ramp_survives_bh_among_noise_series():
    df = noise_runs(n_runs=2, n_metrics=3, seed=2, ramp_metric=True)
    tr = detect_transitions(df, metric_cols=["m0", "m1", "m2", "ramp"], n_permutations=999, seed=0,
                            include_loss=False)
    planted = (tr["run"] == "gelu-m0-s0") & (tr["metric"] == "ramp")
    assert planted.sum() == 4 and len(tr) == 32                     # 3 layers + blocks; 2 runs x 4 metrics
    assert tr.loc[planted, "significant"].all()
    assert tr.loc[planted, "transition_frac"].notna().all()
    assert not tr.loc[~planted, "significant"].any()
    fam = family_counts(tr).iloc[0]
    assert fam["n_bh"] == 4 and fam["expected_null"] == pytest.approx(0.05 * 32)


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
