"""Final-loss forecasting: exact power laws, held-out isolation per fold (leave-one-size-out primary,
leave-one-run-out secondary), the leak of leave-one-run-out, planted topology signal."""

import numpy as np
import pandas as pd
import pytest

from toposcale.analysis.forecast_summary import summarise_forecasts
from toposcale.analysis.forecasting import (CANNOT_DECIDE_SIZES, METHODS, MIN_SIZES, folds, forecast,
                                           ridge_fit_predict)
from toposcale.analysis.loss_curve import fit_loss_curve, predict_loss_curve

TOPO = ("h0_total_persistence_norm", "h1_total_persistence_norm", "h0_entropy_norm")


def synthetic_runs(n_runs=12, late_effect=0.0, topo_signal=True, seed=0, nulls="topology"):
    """Metrics rows for ``n_runs`` runs whose loss is a power law until 55% of training.

    Each run has a latent ``c``. After 55% of training the loss is multiplied by
    ``exp(-late_effect * c * ramp)`` (ramp 0 -> 1 at the end), which no extrapolation of the prefix can
    see. With ``topo_signal`` the prefix of ``h0_total_persistence_norm`` equals ``1 + 0.5 c`` (+ noise):
    the topology announces the late change; otherwise it is noise.

    Null columns (issue 15) with ``null_z = (m - null_mean) / null_sd`` and ``null_sd = 0.1``:
    ``nulls='topology'``: a constant null mean, so the excess carries whatever ``m`` carries;
    ``nulls='geometry'``: the null mean is ``m`` minus 0.1 x noise, so the null explains ``m`` and the
    excess is pure noise; ``nulls=None``: no null columns (a table written before the nulls).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_runs):
        n_nonembed = int(25_000 * 1.3 ** r)
        total = int(20 * n_nonembed / 2048)
        steps = np.array([0] + sorted({int(round(v)) for v in np.geomspace(1, total, 25)}))
        frac = steps / total
        c = rng.normal()
        e_r = 1.2 + 2.0 * n_nonembed ** -0.1
        loss = e_r + 3.0 * np.maximum(steps, 1) ** -0.45
        loss = loss * np.exp(-late_effect * c * np.clip((frac - 0.55) / 0.45, 0, 1))
        for source in ("weights", "activations"):
            for layer in ("embed", "block00"):
                noise = rng.normal(size=(3, len(steps)))
                h0n = (1 + 0.5 * c if topo_signal else 1.0) + 0.02 * noise[0] + 0.01 * np.log1p(steps)
                for i, s in enumerate(steps):
                    rows.append({"run": f"gelu-r{r:02d}-s0", "activation": "gelu", "size": f"r{r:02d}",
                                 "seed": 0, "n_nonembed": n_nonembed, "step": int(s), "frac": frac[i],
                                 "train_loss": loss[i], "val_loss": loss[i], "source": source,
                                 "layer": layer, "h0_total_persistence_norm": h0n[i],
                                 "h1_total_persistence_norm": 0.3 + 0.05 * noise[1, i],
                                 "h0_entropy_norm": 0.8 + 0.05 * noise[2, i]})
    df = pd.DataFrame(rows)
    if nulls is not None:
        for m in TOPO:
            mean = (np.full(len(df), float(df[m].mean())) if nulls == "topology"
                    else df[m] - 0.1 * rng.normal(size=len(df)))
            df[f"{m}_null_mean"], df[f"{m}_null_sd"] = mean, 0.1
            df[f"{m}_null_z"] = (df[m] - mean) / 0.1
    return df


def primary(table):
    return table[table["evaluation"] == "leave_one_size_out"]


def twin_runs(n_sizes=5, seed=7):
    """``n_sizes`` sizes x 2 activations whose two runs of a size are identical (loss curve, final loss
    and topology). The late change of each size is unrelated to size and to any prefix feature, so
    only a model that sees the same-size twin in training can get it right."""
    base = synthetic_runs(n_runs=n_sizes, late_effect=0.3, topo_signal=False, seed=seed)
    twin = base.assign(activation="swiglu", run=base["run"].str.replace("gelu", "swiglu"))
    return pd.concat([base, twin], ignore_index=True)


def test_folds_never_train_on_the_held_out_size():
    runs = pd.DataFrame({"run": ["gelu-a-s0", "gelu-a-s1", "swiglu-a-s0", "gelu-b-s0", "swiglu-b-s0", "gelu-c-s0"],
                         "size": ["a", "a", "a", "b", "b", "c"]})
    size = dict(zip(runs["run"], runs["size"]))
    loso = folds(runs, "leave_one_size_out")
    assert [sorted(h) for h, _ in loso] == [["gelu-a-s0", "gelu-a-s1", "swiglu-a-s0"], ["gelu-b-s0", "swiglu-b-s0"],
                                            ["gelu-c-s0"]]
    for held, train in loso:
        held_sizes = {size[r] for r in held}
        assert len(held_sizes) == 1 and not held_sizes & {size[r] for r in train}
        assert sorted(held + train) == sorted(runs["run"])
    loro = folds(runs, "leave_one_run_out")
    assert len(loro) == 6 and all(len(h) == 1 and h[0] not in t and len(t) == 5 for h, t in loro)
    # leave-one-run-out keeps a same-size run in training: the leak leave-one-size-out closes
    assert any(size[h[0]] in {size[r] for r in t} for h, t in loro)
    with pytest.raises(ValueError, match="evaluation"):
        folds(runs, "k_fold")


def test_forecast_rows_record_the_training_runs_of_their_fold():
    fc = forecast(twin_runs(n_sizes=4), fractions=(0.3,))
    ridge = fc[fc.method == "ridge_topology"]
    assert (ridge[ridge.evaluation == "leave_one_size_out"]["n_train_runs"] == 6).all()   # 8 runs - 2 of its size
    assert (ridge[ridge.evaluation == "leave_one_run_out"]["n_train_runs"] == 7).all()
    assert (fc[fc.method == "power_law"]["n_train_runs"] == 0).all() and (fc["note"] == "").all()


def test_leave_one_run_out_leaks_the_twin_and_leave_one_size_out_does_not():
    """Known answer: identical same-size twins. Leave-one-run-out reads the twin's final loss off the
    training set (error ~0); leave-one-size-out cannot, so its error stays at the size of the late change."""
    fc = forecast(twin_runs(), fractions=(0.3,))
    err = fc[fc.method == "ridge_topology"].groupby("evaluation")["abs_error"].mean()
    late = fc[fc.method == "power_law"].groupby("evaluation")["abs_error"].mean()
    assert err["leave_one_run_out"] < 0.1 * err["leave_one_size_out"]
    assert err["leave_one_size_out"] > 0.5 * late["leave_one_size_out"]
    text = summarise_forecasts(fc, n_bootstrap=200)["text"]
    assert "(leave-one-run-out, secondary: same-size runs stay in training)" in text


def test_too_few_sizes_cannot_decide_leave_one_size_out():
    df = twin_runs(n_sizes=MIN_SIZES - 1)
    fc = forecast(df, fractions=(0.3,))
    loso = fc[(fc.evaluation == "leave_one_size_out") & fc.method.str.startswith("ridge")]
    assert loso["predicted"].isna().all() and (loso["note"] == CANNOT_DECIDE_SIZES).all()
    assert CANNOT_DECIDE_SIZES == "cannot decide: need >= 3 sizes"
    assert fc[fc.evaluation == "leave_one_run_out"]["predicted"].notna().all()
    s = summarise_forecasts(fc, n_bootstrap=100)
    m = primary(s["methods"]).set_index("method")
    assert np.isnan(m.loc["ridge_topology", "mean_abs_error"]) and m.loc["ridge_topology", "note"] == CANNOT_DECIDE_SIZES
    assert np.isfinite(m.loc["power_law", "mean_abs_error"])
    c = primary(s["comparisons"]).set_index(["method", "reference"])
    assert c.loc[("ridge_topology", "power_law"), "verdict"] == CANNOT_DECIDE_SIZES
    assert c.loc[("power_law", "last_observed"), "verdict"] != CANNOT_DECIDE_SIZES
    assert ("At 30% of training (leave-one-size-out, primary): cannot decide: need >= 3 sizes to compare "
            "ridge_topology with the power-law extrapolation.") in s["text"]
    from toposcale.report.sections import forecast_lines
    for aux in ({}, {"forecast_summary": s["methods"], "forecast_comparisons": s["comparisons"]}):
        text = "\n".join(forecast_lines(fc, aux))
        assert "| 30% | ridge_topology | 0 | cannot decide: need >= 3 sizes |" in text
    assert len(forecast(twin_runs(n_sizes=MIN_SIZES), fractions=(0.3,)).query(
        "evaluation == 'leave_one_size_out'")["predicted"].dropna()) == 2 * MIN_SIZES * len(METHODS)


def test_fit_recovers_a_power_law_and_extrapolates():
    t = np.unique(np.round(np.geomspace(1, 5000, 30)))
    loss = 2.0 + 3.0 * t ** -0.5
    pre = t <= 500
    for offset in (True, False):
        fit = fit_loss_curve(t[pre], loss[pre], offset=offset)
        assert fit["alpha"] == pytest.approx(0.5, rel=1e-4) and fit["E"] == pytest.approx(2.0, rel=1e-4)
        assert predict_loss_curve(fit, 5000) == pytest.approx(2.0 + 3.0 * 5000 ** -0.5, rel=1e-6)
    shifted = 1.5 + 4.0 * (t + 20.0) ** -0.4                 # an initial plateau: t0 = 20
    fit = fit_loss_curve(t[pre], shifted[pre])
    assert fit["t0"] == pytest.approx(20.0, rel=1e-3)
    assert predict_loss_curve(fit, 5000) == pytest.approx(shifted[-1], rel=1e-5)
    with pytest.raises(ValueError, match="step 0"):
        fit_loss_curve([0, 1, 2, 3], [5.0, 4.0, 3.5, 3.2])


def test_power_law_forecast_is_exact_on_power_law_runs():
    fc = forecast(synthetic_runs(n_runs=4), fractions=(0.2, 0.5))
    assert set(fc["evaluation"]) == {"leave_one_size_out", "leave_one_run_out"}
    pl = fc[fc.method == "power_law"]
    assert len(pl) == 16                                     # 4 runs x 2 fractions x 2 evaluations
    by_eval = [g.sort_values(["run", "fraction"])["predicted"].to_numpy() for _, g in pl.groupby("evaluation")]
    assert np.array_equal(*by_eval)                          # fits nothing across runs: same in both
    assert (pl["rel_error"] < 1e-4).all()
    last = fc[fc.method == "last_observed"]
    assert (last["rel_error"] > 0.01).all()                  # the naive floor is visibly worse
    assert set(fc["method"]) == set(METHODS)
    assert (fc["prefix_last_step"] <= fc["fraction"] * fc["final_step"] + 1e-9).all()


def test_leave_one_run_out_never_sees_the_held_out_future():
    df = synthetic_runs(n_runs=8, late_effect=0.3, seed=1)
    f = 0.3
    held = "gelu-r03-s0"
    base = forecast(df, fractions=(f,))
    poisoned = df.copy()
    future = (poisoned["run"] == held) & (poisoned["frac"] > f)
    rng = np.random.default_rng(9)
    poisoned.loc[future, "val_loss"] *= 10.0
    for m in TOPO:
        poisoned.loc[future, m] = rng.normal(size=future.sum()) * 100
        poisoned.loc[future, f"{m}_null_z"] = rng.normal(size=future.sum()) * 100
    after = forecast(poisoned, fractions=(f,))

    def preds(fc, run, evaluation="leave_one_size_out"):
        return fc[(fc.run == run) & (fc.evaluation == evaluation)].set_index("method")["predicted"]

    # the held-out run's forecasts do not move (its final loss, hence its errors, do)
    for evaluation in ("leave_one_size_out", "leave_one_run_out"):
        pd.testing.assert_series_equal(preds(base, held, evaluation), preds(after, held, evaluation))
    assert not np.allclose(base[base.run == held]["abs_error"], after[after.run == held]["abs_error"])
    # ... while the other runs' learned forecasts do, since the poisoned run is now in their training set
    other = "gelu-r05-s0"
    assert preds(base, other)["power_law"] == preds(after, other)["power_law"]
    assert preds(base, other)["ridge_topology"] != pytest.approx(preds(after, other)["ridge_topology"])
    assert preds(base, other)["ridge_topology_null"] != pytest.approx(preds(after, other)["ridge_topology_null"])


def test_topology_that_announces_the_late_change_beats_the_power_law():
    fc = forecast(synthetic_runs(n_runs=12, late_effect=0.3, topo_signal=True, seed=2), fractions=(0.3,))
    s = summarise_forecasts(fc, n_bootstrap=500, seed=0)
    comp = primary(s["comparisons"]).set_index(["method", "reference"])
    assert comp.loc[("ridge_topology", "power_law"), "verdict"] == "better"
    assert comp.loc[("ridge_topology", "ridge_loss"), "verdict"] == "better"
    assert "beat the power-law extrapolation" in s["text"]
    assert "no evidence that topology-augmented" not in s["text"]
    assert "beat the same learned correction without topology" in s["text"]
    assert "At 30% of training (leave-one-size-out, primary), topology-augmented forecasts beat" in s["text"]
    methods = s["methods"]
    assert (methods["mean_abs_error_ci_low"] <= methods["mean_abs_error"]).all()
    assert (methods["n_runs"] == 12).all() and set(methods["evaluation"]) == {"leave_one_size_out",
                                                                             "leave_one_run_out"}


def test_uninformative_topology_is_not_called_better():
    fc = forecast(synthetic_runs(n_runs=12, late_effect=0.3, topo_signal=False, seed=3), fractions=(0.3,))
    comp = primary(summarise_forecasts(fc, n_bootstrap=500)["comparisons"]).set_index(["method", "reference"])
    assert comp.loc[("ridge_topology", "ridge_loss"), "verdict"] != "better"


def test_null_adjusted_topology_helps_only_when_the_excess_carries_the_signal():
    """The same planted signal in h0_total_persistence_norm: when the excess over the null carries it,
    ridge_topology_null beats ridge_loss; when the null mean carries it (the excess is noise), only the
    raw ridge_topology does."""
    verdicts = {}
    for nulls in ("topology", "geometry"):
        fc = forecast(synthetic_runs(n_runs=12, late_effect=0.3, seed=2, nulls=nulls), fractions=(0.3,))
        s = summarise_forecasts(fc, n_bootstrap=500, seed=0)
        verdicts[nulls] = primary(s["comparisons"]).set_index(["method", "reference"])["verdict"]
        if nulls == "topology":
            assert "null-adjusted topology forecasts (ridge_topology_null) beat the same learned" in s["text"]
    assert verdicts["topology"][("ridge_topology_null", "ridge_loss")] == "better"
    assert verdicts["geometry"][("ridge_topology", "ridge_loss")] == "better"
    assert verdicts["geometry"][("ridge_topology_null", "ridge_loss")] != "better"
    assert verdicts["geometry"][("ridge_topology_null", "ridge_topology")] == "worse"


def test_old_tables_without_nulls_skip_the_null_method():
    with pytest.warns(UserWarning, match="ridge_topology_null skipped"):
        fc = forecast(synthetic_runs(n_runs=4, nulls=None), fractions=(0.3,))
    assert set(fc["method"]) == set(METHODS) - {"ridge_topology_null"}
    comp = summarise_forecasts(fc, n_bootstrap=100)["comparisons"]
    assert "ridge_topology_null" not in set(comp["method"])


def test_ridge_picks_up_a_linear_signal_and_falls_back_to_the_mean():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(30, 3))
    y = 2.0 * x[:, 0] + 0.01 * rng.normal(size=30)
    pred, lam = ridge_fit_predict(x, y, np.array([[1.0, 0.0, 0.0]]))
    assert pred[0] == pytest.approx(2.0, abs=0.1) and lam <= 1.0
    pred, lam = ridge_fit_predict(x[:2], y[:2], np.zeros((1, 3)))
    assert pred[0] == pytest.approx(y[:2].mean()) and np.isnan(lam)


def test_ridge_does_not_extrapolate_beyond_the_training_features():
    # a held-out feature 1e6 training sds away (a null_z over a near-zero null sd) must not move the
    # prediction beyond what the most extreme training run gives
    rng = np.random.default_rng(5)
    x = rng.normal(size=(20, 1))
    y = 2.0 * x[:, 0] + 0.01 * rng.normal(size=20)
    far, _ = ridge_fit_predict(x, y, np.array([[1e6]]))
    edge, _ = ridge_fit_predict(x, y, np.array([[x.max()]]))
    assert far[0] == pytest.approx(edge[0]) and abs(far[0]) < 2.5 * np.abs(y).max()


def test_incomplete_run_is_rejected():
    df = synthetic_runs(n_runs=3)
    df = df[~((df.run == "gelu-r01-s0") & (df.frac > 0.8))]
    with pytest.raises(ValueError, match="complete runs"):
        forecast(df, fractions=(0.2,))


def test_scripts_write_tables_and_figure(tmp_path):
    from test_dynamics import run_script

    df = synthetic_runs(n_runs=5, late_effect=0.2, seed=5)
    paths = []
    for run, g in df.groupby("run"):
        paths.append(str(tmp_path / f"{run}.parquet"))
        g.to_parquet(paths[-1])
    cfg = {"forecast_fractions": [0.2, 0.5], "n_bootstrap": 100}
    a = tmp_path / "analysis"
    out = {"csv": str(a / "forecast.csv"), "summary": str(a / "forecast_summary.csv"),
           "comparisons": str(a / "forecast_comparisons.csv")}
    log = run_script("forecast", {"metrics": paths}, out, {"cfg": cfg, "seed": 0}, tmp_path)
    fc = pd.read_csv(out["csv"])
    assert len(fc) == 5 * 2 * 2 * len(METHODS)                # runs x fractions x evaluations x methods
    assert set(pd.read_csv(out["comparisons"])["reference"]) == {"power_law", "ridge_loss", "ridge_topology",
                                                                      "last_observed"}
    assert "At 20% of training (leave-one-size-out, primary)" in log
    assert set(pd.read_csv(out["summary"])["evaluation"]) == {"leave_one_size_out", "leave_one_run_out"}
    png = tmp_path / "forecast.png"
    run_script("fig_dynamics", {"forecast": out["csv"], "forecast_summary": out["summary"],
                                "forecast_comparisons": out["comparisons"]}, {"forecast": str(png)},
               {"dpi": 60}, tmp_path)
    assert png.stat().st_size > 10_000


def test_report_lines_say_whether_null_adjusted_topology_helps():
    from toposcale.report.keys import key_numbers
    from toposcale.report.sections import forecast_lines
    from toposcale.report.variants import NO_NULL_NOTE

    def comp(raw, null):
        return pd.DataFrame({"fraction": [0.3, 0.3], "method": ["ridge_topology", "ridge_topology_null"],
                             "reference": ["ridge_loss"] * 2, "n_runs": [12, 12], "mean_diff_abs_error": [-0.1, 0.0],
                             "ci_low": [-0.2, -0.1], "ci_high": [-0.05, 0.1], "verdict": [raw, null]})
    summ = pd.DataFrame({"fraction": [0.3] * 3, "method": ["ridge_loss", "ridge_topology", "ridge_topology_null"],
                         "n_runs": [12] * 3, "mean_abs_error": [0.3, 0.2, 0.3]})
    text = "\n".join(forecast_lines(summ, {"forecast_comparisons": comp("better", "inconclusive")}))
    assert ("- 30% of training: raw topology features improve on the loss-only ridge but null-adjusted ones "
            "do not: the gain is explained by its null (covariance-matched Gaussian).") in text
    text = "\n".join(forecast_lines(summ, {"forecast_comparisons": comp("better", "better")}))
    assert "null-adjusted topology features improve on the loss-only ridge: topology beyond geometry." in text
    keys = key_numbers({"forecast": summ, "forecast_comparisons": comp("better", "better")})
    assert "forecast from 30% (leave-one-run-out): null-adjusted topology vs loss-only ridge: better" in keys
    # with both evaluations, the key numbers and the null lines come from leave-one-size-out only
    both = pd.concat([comp("better", "better").assign(evaluation="leave_one_run_out"),
                      comp("inconclusive", "inconclusive").assign(evaluation="leave_one_size_out")])
    summ2 = pd.concat([summ.assign(evaluation=e) for e in ("leave_one_run_out", "leave_one_size_out")])
    keys = key_numbers({"forecast": summ2, "forecast_comparisons": both})
    assert "forecast from 30% (leave-one-size-out): null-adjusted topology vs loss-only ridge: inconclusive" in keys
    assert not any("better" in k for k in keys)
    text = "\n".join(forecast_lines(summ2, {"forecast_comparisons": both}))
    assert "minus ridge_loss, leave_one_size_out):" in text and "topology beyond geometry" not in text
    assert text.index("Leave-one-size-out, primary:") < text.index("Leave-one-run-out, secondary")
    assert "| leave_one_run_out | 30% | ridge_topology_null | ridge_loss | 12 |" in text
    old = summ[summ.method != "ridge_topology_null"]
    assert NO_NULL_NOTE in forecast_lines(old, {})


def test_forecast_intervals_resample_sizes_not_runs():
    """Runs of one held-out size share one fold's model: a second seed that repeats each run's errors exactly
    adds no information, so the intervals (cluster bootstrap over sizes) equal those of one run per size."""
    fc = forecast(synthetic_runs(n_runs=12, late_effect=0.3, seed=2), fractions=(0.3,))
    fc = fc[fc["evaluation"] == "leave_one_size_out"]
    twin = fc.assign(run=fc["run"] + "-twin", seed=fc["seed"] + 100)
    a, b = summarise_forecasts(fc, n_bootstrap=300), summarise_forecasts(pd.concat([fc, twin]), n_bootstrap=300)
    cols = ["mean_abs_error", "mean_abs_error_ci_low", "mean_abs_error_ci_high"]
    np.testing.assert_allclose(a["methods"][cols].to_numpy(), b["methods"][cols].to_numpy())
    np.testing.assert_allclose(a["comparisons"][["ci_low", "ci_high"]].to_numpy(),
                               b["comparisons"][["ci_low", "ci_high"]].to_numpy())
    assert (b["methods"]["n_runs"] == 2 * a["methods"]["n_runs"]).all()


def _comparison_table(diffs, size_of_run):
    """A forecast table with only the two methods of one comparison (ridge_topology vs power_law),
    leave-one-size-out, one simulated study per fraction (``diffs``: fraction -> run -> difference):
    power_law's abs_error 1, ridge_topology's 1 + the run's difference."""
    rows = []
    for f, diff_by_run in diffs.items():
        for run, d in diff_by_run.items():
            for method, err in (("power_law", 1.0), ("ridge_topology", 1.0 + d)):
                rows.append({"run": run, "size": size_of_run[run], "fraction": f,
                             "evaluation": "leave_one_size_out", "method": method, "abs_error": err,
                             "rel_error": err / 3.0, "note": ""})
    return pd.DataFrame(rows)


def test_comparison_interval_is_the_jackknife_t_over_sizes_and_covers():
    """Issue 22 point 7: the default design's comparisons, 7 held-out sizes x 4 runs (2 activations x 2
    seeds) sharing a size deviation (sd 0.02) plus run noise (sd 0.01), true mean difference 0. The
    interval is the jackknife-t over sizes (toposcale.stats.CLUSTER_INTERVAL; its coverage at this design is
    tested at scale in tests/test_stats.py) and, through summarise_forecasts, covers 0: 60 studies (one per
    fraction of one table), expected 0.95, bound 0.85 (> 3 MC se of 0.028 below)."""
    from toposcale.stats import CLUSTER_INTERVAL, bootstrap_ci

    rng = np.random.default_rng(3)
    runs = [f"{a}-{s}-s{k}" for s in range(7) for a in ("gelu", "swiglu") for k in range(2)]
    size_of = {r: r.split("-")[1] for r in runs}
    diffs = {}
    for i in range(60):
        dev = rng.normal(0, 0.02, 7)
        diffs[(i + 1) / 61] = {r: dev[int(size_of[r])] + rng.normal(0, 0.01) for r in runs}
    comp = summarise_forecasts(_comparison_table(diffs, size_of), n_bootstrap=300)["comparisons"]
    assert len(comp) == 60
    hit = ((comp["ci_low"] <= 0) & (comp["ci_high"] >= 0)).mean()
    assert hit >= 0.85, hit
    first = diffs[min(diffs)]
    d = np.array([first[r] for r in sorted(runs)])
    want = bootstrap_ci(d, clusters=[size_of[r] for r in sorted(runs)], method=CLUSTER_INTERVAL)
    assert tuple(comp.sort_values("fraction").iloc[0][["ci_low", "ci_high"]]) == pytest.approx(want)


def test_leave_one_size_out_needs_the_size_column():
    """Issue 22 point 9: without a ``size`` column the folds fell back to ``n_nonembed``, which differs between
    the activations of one size (SwiGLU has another parameter count), so a held-out GELU run's same-width
    SwiGLU twin stayed in training. Leave-one-size-out now refuses such a table, naming the column;
    leave-one-run-out does not need it."""
    runs = pd.DataFrame({"run": ["gelu-a", "swiglu-a", "gelu-b", "swiglu-b", "gelu-c", "swiglu-c"],
                         "activation": ["gelu", "swiglu"] * 3,
                         "n_nonembed": [1000, 1020, 2000, 2040, 4000, 4080]})
    with pytest.raises(ValueError, match="'size'"):
        folds(runs, "leave_one_size_out")
    assert len(folds(runs, "leave_one_run_out")) == 6
    with_size = runs.assign(size=["a", "a", "b", "b", "c", "c"])
    held, train = folds(with_size, "leave_one_size_out")[0]
    assert held == ["gelu-a", "swiglu-a"] and "swiglu-a" not in train
