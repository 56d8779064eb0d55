"""Correlations of metrics with loss: planted links recovered, shared trends not mistaken for them."""

import sys

import numpy as np
import pandas as pd
import pytest

from toposcale.analysis.dynamics import correlate, null_comparison, seed_summary
from toposcale.analysis.metrics_table import DEFAULT_METRICS, load_metrics
from toposcale.io import write_csv_atomic

STEPS = [0] + sorted({int(round(v)) for v in np.geomspace(1, 5000, 30)})


def synthetic_metrics(run="gelu-d64L2-s0", seed=0, n_nonembed=50_000, rng_seed=0):
    """Metrics rows in the results/metrics format with known structure.

    val_loss = power law in step + a fluctuation ``w`` (e.g. from the data order);
    'tracker' metrics (h0_total_persistence_norm) = trend + ``w``: they follow the loss beyond time;
    'trend-only' metrics (h1_total_persistence, frobenius_norm) = trend + independent noise.
    """
    rng = np.random.default_rng(rng_seed)
    steps = np.array(STEPS)
    t = np.maximum(steps, 1)
    w = rng.normal(size=len(steps))
    val = 1.5 + 4.0 * t ** -0.4 + 0.2 * w
    rows = []
    for source, layers in (("weights", ["embed", "block00", "block01"]),
                           ("activations", ["embed", "block00", "block01", "final"])):
        for layer in layers:
            noise = rng.normal(size=(4, len(steps)))
            base = {
                "h0_total_persistence_norm": -np.log(t) + 1.0 * w,          # tracks loss beyond trend
                "h1_total_persistence": np.log(t) + 0.5 * noise[0],         # shares the trend only
                "frobenius_norm": 10 + np.log(t) + 0.5 * noise[1],          # baseline, trend only
                "h1_n_bars": np.full(len(steps), 3.0),                       # constant: no correlation
            }
            for i, s in enumerate(steps):
                row = {"run": run, "activation": run.split("-")[0], "size": run.split("-")[1],
                       "seed": seed, "n_nonembed": n_nonembed, "step": int(s), "tokens": int(s) * 2048,
                       "frac": s / steps[-1], "train_loss": val[i] - 0.02, "val_loss": val[i],
                       "source": source, "layer": layer, "n_points": 64, "scale": 1.0,
                       "neural_persistence": (0.5 + 0.01 * s ** 0.5) if source == "weights" else np.nan}
                row.update({k: v[i] for k, v in base.items()})
                rows.append(row)
    return pd.DataFrame(rows)


def bh_min_q(p):
    """The smallest Benjamini-Hochberg q of the finite p-values: ``min_k m p_(k) / k`` (capped at 1)."""
    p = np.sort(p[np.isfinite(p)])
    return min(1.0, float(np.min(p.size * p / np.arange(1, p.size + 1))))


def test_partial_correlation_separates_tracking_from_shared_trend():
    df = synthetic_metrics()
    out = correlate(df, n_bootstrap=200, seed=0)
    assert len(out) > 0 and set(out["run"]) == {"gelu-d64L2-s0"}
    assert (out["n"] == len(STEPS) - 1).all()                  # step 0 excluded

    tracker = out[out.metric == "h0_total_persistence_norm"]
    # tracker = -log t + w and loss = trend(t) + w both fall with time and share w
    assert (tracker["rho"] > 0.6).all()
    assert (tracker["rho_partial"] > 0.5).all()
    # the tracker shares the loss' fluctuation: the detrended test (the only one) finds it
    assert tracker["significant_detrended"].all()
    # raw and partial correlations are description: no p-value, no verdict
    assert not {"p", "q", "significant", "p_partial", "q_partial", "significant_partial"} & set(out.columns)

    # trend-only metrics grow with time while the loss falls: strong raw rho, no partial rho. Two trends
    # are not evidence of a link: the detrended test calls at most a few significant
    trend_only = out[out.metric.isin(["h1_total_persistence", "frobenius_norm"])]
    assert (trend_only["rho"] < -0.6).all()
    assert (trend_only["rho_partial"].abs() < 0.6).all()
    assert trend_only["significant_detrended"].mean() <= 0.15

    # constant metric: no correlation can be computed, and it never counts as significant
    const = out[out.metric == "h1_n_bars"]
    assert const["rho"].isna().all() and not const["significant_detrended"].any()
    # neural persistence only exists for weights
    assert set(out[out.metric == "neural_persistence"]["source"]) == {"weights"}


def test_bootstrap_intervals_cover_the_estimate_and_bh_is_per_run():
    df = pd.concat([synthetic_metrics("gelu-d64L2-s0", 0, rng_seed=1),
                    synthetic_metrics("swiglu-d64L2-s0", 0, rng_seed=2)])
    out = correlate(df, n_bootstrap=200, seed=3)
    ok = out["rho"].notna()
    assert (out.loc[ok, "rho_ci_low"] <= out.loc[ok, "rho"] + 1e-9).all()
    assert (out.loc[ok, "rho"] <= out.loc[ok, "rho_ci_high"] + 1e-9).all()
    assert (out.loc[ok, "rho_ci_high"] - out.loc[ok, "rho_ci_low"] > 0).all()
    for _, g in out.groupby("run"):
        p = g["p_detrended"].to_numpy()
        fin = np.isfinite(p)
        # BH over the run's family: q >= p, and the smallest q is min_k m p_(k) / k
        assert (g["q_detrended"].to_numpy()[fin] >= p[fin] - 1e-15).all()
        assert g["q_detrended"].min() == pytest.approx(bh_min_q(p))
    again = correlate(df, n_bootstrap=200, seed=3)
    pd.testing.assert_frame_equal(out, again)


def test_seed_summary_spread():
    df = pd.concat([synthetic_metrics(f"gelu-d64L2-s{s}", s, rng_seed=10 + s) for s in range(3)])
    summary = seed_summary(correlate(df, n_bootstrap=0))
    tracker = summary[summary.metric == "h0_total_persistence_norm"]
    assert (tracker["n_seeds"] == 3).all()
    assert (tracker["rho_partial_mean"] > 0.6).all()
    assert (tracker["sign_agreement_partial"] == 1.0).all()
    assert (tracker["rho_partial_sd"] >= 0).all()
    assert tracker["decidable"].all() and (tracker["needs"] == "").all()
    # one seed: no across-seed claim, the row says what it needs
    one = seed_summary(correlate(df[df["run"] == "gelu-d64L2-s0"], n_bootstrap=0))
    assert not one["decidable"].any() and one["sign_agreement_partial"].isna().all()
    assert (one["needs"] == "cannot decide: need >= 2 seeds, have 1").all()


def test_input_errors_and_io(tmp_path):
    df = synthetic_metrics()
    with pytest.raises(ValueError, match="val_loss"):
        correlate(df.drop(columns="val_loss"))
    with pytest.raises(ValueError, match="not_a_metric"):
        correlate(df, metric_cols=["not_a_metric"])
    assert "h0_total_persistence_norm" in DEFAULT_METRICS
    path = tmp_path / "m.parquet"
    df.to_parquet(path)
    back = load_metrics([path])
    assert len(back) == len(df)
    write_csv_atomic(back.head(3), tmp_path / "out" / "x.csv")
    assert len(pd.read_csv(tmp_path / "out" / "x.csv")) == 3
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_detrended_correlation_when_loss_is_strictly_monotone():
    """With a strictly falling loss the rank partial correlation is undefined (NaN); the detrended
    correlation still finds a metric that co-fluctuates with the loss, and ignores one that does not."""
    rng = np.random.default_rng(5)
    df = synthetic_metrics()
    steps = np.sort(df["step"].unique())
    lt = np.log(np.maximum(steps, 1))
    w = rng.normal(size=len(steps))
    loss = 5.0 - 0.5 * lt + 0.03 * w                       # falls by >= 0.1 per checkpoint after the first
    loss_monotone = np.all(np.diff(loss[1:]) < 0)
    assert loss_monotone
    by_step = dict(zip(steps, loss))
    df["val_loss"] = df["step"].map(by_step)
    df["h0_total_persistence_norm"] = df["step"].map(dict(zip(steps, -lt + 0.5 * w)))
    out = correlate(df, metric_cols=["h0_total_persistence_norm", "h1_total_persistence"], n_bootstrap=100)
    assert out["loss_monotone"].all()
    assert out["rho_partial"].isna().all() and "significant_partial" not in out
    tracker = out[out.metric == "h0_total_persistence_norm"]
    assert (tracker["rho_detrended"] > 0.7).all() and tracker["significant_detrended"].all()
    assert (tracker["rho_detrended_ci_low"] > 0).all()
    other = out[out.metric == "h1_total_persistence"]
    assert other["significant_detrended"].mean() <= 0.15


#: The config of the stand-in ``snakemake`` object (its hash is the provenance of what the scripts write).
SCRIPT_CONFIG = {"seed": 0, "results": "stand-in"}


def run_script(name, inputs, outputs, params, tmp_path):
    """Execute workflow/scripts/{name}.py with a stand-in for Snakemake's ``snakemake`` object."""
    import runpy
    from pathlib import Path
    from types import SimpleNamespace

    from snakemake.iocontainers import Namedlist

    log = tmp_path / f"{name}.log"
    fake = SimpleNamespace(input=Namedlist(fromdict=inputs), output=Namedlist(fromdict=outputs),
                           params=Namedlist(fromdict=params), log=Namedlist([str(log)]), config=SCRIPT_CONFIG)
    script = Path(__file__).resolve().parents[1] / "workflow" / "scripts" / f"{name}.py"
    saved = sys.stderr  # a script redirects sys.stderr to its log, as each Snakemake job does
    try:
        runpy.run_path(str(script), init_globals={"snakemake": fake}, run_name="__main__")
    finally:
        if sys.stderr is not saved:
            sys.stderr.close()
        sys.stderr = saved
    return log.read_text()


def test_scripts_write_table_and_heatmap(tmp_path):
    paths = []
    for s in range(2):
        p = tmp_path / f"gelu-d64L2-s{s}.parquet"
        synthetic_metrics(f"gelu-d64L2-s{s}", s, rng_seed=20 + s).to_parquet(p)
        paths.append(str(p))
    cfg = {"metrics": [], "fdr_alpha": 0.05, "n_bootstrap": 50, "n_surrogates": 199}
    a = tmp_path / "analysis"
    out = {"csv": str(a / "dynamics.csv"), "seeds": str(a / "seeds.csv")}
    log = run_script("dynamics", {"metrics": paths}, out, {"cfg": cfg, "seed": 0}, tmp_path)
    corr = pd.read_csv(out["csv"])
    assert set(corr["run"]) == {"gelu-d64L2-s0", "gelu-d64L2-s1"} and "correlation rows" in log
    assert pd.read_csv(out["seeds"])["n_seeds"].max() == 2
    png = tmp_path / "figures" / "dynamics_correlations.png"
    run_script("fig_dynamics", {"dynamics": out["csv"]}, {"heatmap": str(png)},
               {"dpi": 60, "fdr_alpha": cfg["fdr_alpha"]}, tmp_path)
    assert png.stat().st_size > 10_000
    # provenance: the scripts named their config, so table and figure carry its hash
    from toposcale.io import read_provenance
    from toposcale.provenance import config_hash

    for written in (out["csv"], out["seeds"], png):
        assert read_provenance(written)["config_sha256"] == config_hash(SCRIPT_CONFIG)


def null_metrics(rng_seed=0, degenerate_steps=(), second_null="same"):
    """Metrics rows with the issue-15 null columns and known answers.

    ``h0_total_persistence_norm`` tracks the loss only through geometry: its Gaussian null mean follows
    the loss (trend + fluctuation ``w``) and its standardised excess ``_null_z`` is independent noise.
    ``h1_total_persistence_norm`` is the opposite: a flat, noisy null mean and an excess that tracks the
    loss. ``degenerate`` is True for the checkpoints in ``degenerate_steps`` of the weights' embed layer.
    The second null of each source (``_perm_*`` for weights, ``_copula_*`` for activations, issue 22):
    ``second_null='same'`` repeats the Gaussian null's columns (the structure beats both nulls),
    ``'explains'`` makes its mean follow the metric (its excess is noise: what heavy tails alone give),
    ``None`` leaves the columns out.
    """
    rng = np.random.default_rng(10_000 + rng_seed)                     # not the stream that drew the loss
    df = synthetic_metrics(rng_seed=rng_seed).drop(columns=["h1_total_persistence", "h1_n_bars"])
    steps = np.array(STEPS)
    lt = np.log(np.maximum(steps, 1))
    w = (df.drop_duplicates("step").sort_values("step")["val_loss"].to_numpy() - 1.5
         - 4.0 * np.maximum(steps, 1) ** -0.4) / 0.2                  # the loss' own fluctuation
    parts = []
    for (source, layer), g in df.groupby(["source", "layer"], sort=False):
        g = g.sort_values("step").copy()
        noise = rng.normal(size=(3, len(steps)))
        sd = np.full(len(steps), 0.1)
        geo_mean = -lt + w                                             # null mean tracks the loss
        geo_z = noise[0]                                               # excess is noise
        top_mean = 2.0 + 0.3 * noise[1]                                # null mean is noise
        top_z = -lt + w + 0.3 * noise[2]                               # excess tracks the loss
        for m, mean, z in (("h0_total_persistence_norm", geo_mean, geo_z),
                           ("h1_total_persistence_norm", top_mean, top_z)):
            g[m], g[f"{m}_null_mean"], g[f"{m}_null_sd"], g[f"{m}_null_z"] = mean + sd * z, mean, sd, z
            second = "perm" if source == "weights" else "copula"
            if second_null == "same":
                g[f"{m}_{second}_mean"], g[f"{m}_{second}_sd"], g[f"{m}_{second}_z"] = mean, sd, z
            elif second_null == "explains":
                z2 = rng.normal(size=len(steps))
                g[f"{m}_{second}_mean"], g[f"{m}_{second}_sd"] = g[m] - sd * z2, sd
                g[f"{m}_{second}_z"] = z2
        g["degenerate"] = (source == "weights") & (layer == "embed") & g["step"].isin(degenerate_steps)
        parts.append(g)
    return pd.concat(parts, ignore_index=True)


def test_raw_and_null_z_side_by_side_geometry_vs_topology():
    dropped = STEPS[5:9]
    df = null_metrics(degenerate_steps=dropped)
    cols = ["h0_total_persistence_norm", "h1_total_persistence_norm", "frobenius_norm"]
    out = correlate(df, metric_cols=cols, n_bootstrap=200, seed=0)
    assert set(out["variant"]) == {"raw", "null_z", "perm_z", "copula_z"}
    assert set(out[out.variant == "perm_z"]["source"]) == {"weights"}
    assert set(out[out.variant == "copula_z"]["source"]) == {"activations"}
    assert set(out[out.variant == "null_z"]["metric"]) == {"h0_total_persistence_norm", "h1_total_persistence_norm"}
    # BH runs over the whole family, null_z rows included: the smallest q is min_k m p_(k) / k
    assert out["q_detrended"].min() == pytest.approx(bh_min_q(out["p_detrended"].to_numpy()))

    geo = out[out.metric == "h0_total_persistence_norm"]
    assert geo[geo.variant == "raw"]["significant_detrended"].all()              # raw: tracks loss (via its null)
    assert geo[geo.variant == "null_z"]["significant_detrended"].mean() <= 0.15  # null_z: noise
    topo = out[out.metric == "h1_total_persistence_norm"]
    assert topo[topo.variant == "null_z"]["significant_detrended"].all()
    with pytest.raises(ValueError, match="description, not tested"):
        null_comparison(out, "")

    cmp = null_comparison(out)
    verdict = cmp.set_index(["source", "layer", "metric"])["verdict"]
    geo_v = verdict.xs("h0_total_persistence_norm", level="metric")
    assert (geo_v == "explained by its null").mean() >= 0.85
    assert (verdict.xs("h1_total_persistence_norm", level="metric") == "topology beyond geometry").all()
    beaten = cmp.set_index(["source", "metric"])["nulls_beaten"].xs("h1_total_persistence_norm", level="metric")
    assert set(beaten["weights"]) == {"gaussian+permutation"} and set(beaten["activations"]) == {"gaussian+copula"}
    assert len(cmp) == 2 * 7                                           # baselines have no null pair

    # degenerate clouds are left out of the series and counted
    emb = out[(out.source == "weights") & (out.layer == "embed")]
    assert (emb["n_degenerate_dropped"] == len(dropped)).all()
    assert (emb["n"] == len(STEPS) - 1 - len(dropped)).all()
    assert (out.loc[out.layer != "embed", "n_degenerate_dropped"] == 0).all()


@pytest.mark.parametrize("second", ["explains", None])
def test_beyond_geometry_needs_every_null_of_the_source(second):
    """Issue 22: a series that beats the Gaussian null but not the source's second null (entry permutation
    for weights, copula for activations; what heavy tails alone give), or whose table lacks that null, is
    labelled by the null it beats, never 'topology beyond geometry' (before: 'topology beyond geometry')."""
    df = null_metrics(second_null=second)
    out = correlate(df, metric_cols=["h1_total_persistence_norm"], n_bootstrap=100, seed=0)
    cmp = null_comparison(out)
    assert (cmp["beats_null_z"] == True).all()                        # noqa: E712 (object column)
    assert not (cmp["verdict"] == "topology beyond geometry").any()
    assert set(cmp["verdict"]) == {"beyond the gaussian null only"}
    assert set(cmp["nulls_beaten"]) == {"gaussian"}


def test_old_metrics_without_null_columns_give_raw_rows_and_a_note():
    df = synthetic_metrics()
    with pytest.warns(UserWarning, match="null_z"):
        out = correlate(df, metric_cols=["h0_total_persistence_norm"], n_bootstrap=0)
    assert set(out["variant"]) == {"raw"}
    assert null_comparison(out).empty
    summary = seed_summary(out)
    assert set(summary["variant"]) == {"raw"}


def test_report_lines_put_raw_and_null_side_by_side():
    from toposcale.report.keys import key_numbers
    from toposcale.report.sections import dynamics_lines
    from toposcale.report.variants import NO_NULL_NOTE

    cols = ["h0_total_persistence_norm", "h1_total_persistence_norm", "frobenius_norm"]
    out = correlate(null_metrics(degenerate_steps=STEPS[5:9]), metric_cols=cols, n_bootstrap=100, seed=0)
    text = "\n".join(dynamics_lines(out))
    # detrended (the tested variant): h0 tracks the loss' fluctuation through its null mean (3 of 3); h1's raw
    # values' fluctuation is mostly its noisy null mean (0 of 3); raw and partial rho are description only
    assert "| weights | topological (null_z) | 6 | 3 (50%) |" in text and "| weights | topological | 6 | 3 (50%) |" in text
    assert "Description, not tested: raw; partial on log(step)" in text and "significant (raw)" not in text
    assert "Degenerate clouds left out of the series: 4 checkpoints in 1 (run, source, layer) series." in text
    # detrended: the geometric metric is explained by its null, the excess metric is beyond geometry
    # columns: pairs, beyond geometry, beyond some nulls only, explained by its null
    assert "| weights | h0_total_persistence_norm | 3 | 0 | 0 | 3 |" in text
    assert "| activations | h1_total_persistence_norm | 4 | 4 | 0 | 0 |" in text
    ranking = text[text.index("weights: metrics ranked"):]
    assert "null_z" not in ranking                                     # the ranking is of raw series
    keys = key_numbers({"dynamics": out})
    assert any(k.startswith("weights: topology beyond geometry in ") for k in keys)

    old = correlate(synthetic_metrics(), metric_cols=cols[:1], n_bootstrap=0)
    assert NO_NULL_NOTE in dynamics_lines(old)


def test_dynamics_section_prints_the_power_of_the_null_verdict():
    """summary.md prints the 'nulls' operating characteristics beside the raw-vs-null verdicts (issue 22)."""
    from toposcale.operating import COLUMNS
    from toposcale.operating.nulls import VERDICT
    from toposcale.report.sections import dynamics_lines

    out = correlate(null_metrics(), metric_cols=["h1_total_persistence_norm"], n_bootstrap=0, seed=0)
    oc = pd.DataFrame([dict(zip(COLUMNS, (VERDICT, "nulls", "d", "planted X", 0.64, 0.03, "fake", 0.01, 0.005,
                                          200, False, "")))])
    text = "\n".join(dynamics_lines(out, {"operating": oc}))
    assert ("'topology beyond geometry' along training: power 0.64 ± 0.03 (planted X) — below 0.8: cannot decide "
            "at this design; FPR 0.01 ± 0.01 (fake).") in text
    assert "along training: power" not in "\n".join(dynamics_lines(out, {}))


# ----------------------------------------------------------------------------- issue 22, point 3 and 9

def _shared_trend_metrics(n_runs=60, phi=0.6, noise=0.3, seed=0):
    """Independent metric and loss series that share a trend (a power law in step, the loss's shape) with
    AR(1) noise of their own: ``n_runs`` runs of one series each, 25 log-spaced checkpoints (step > 0)."""
    rng = np.random.default_rng(seed)
    steps = np.unique(np.round(np.geomspace(10, 5000, 25))).astype(int)
    n = steps.size
    trend = (steps / steps[0]) ** -0.4

    def ar1():
        x = np.empty(n)
        x[0] = rng.normal()
        for t in range(1, n):
            x[t] = phi * x[t - 1] + np.sqrt(1 - phi ** 2) * rng.normal()
        return x

    rows = []
    for r in range(n_runs):
        loss, metric = 2.0 + trend + noise * 0.2 * ar1(), 5.0 * trend + noise * ar1()
        rows += [dict(run=f"r{r}", step=int(s), source="weights", layer="embed", val_loss=lv, h1_entropy=mv)
                 for s, lv, mv in zip(steps, loss, metric)]
    return pd.DataFrame(rows)


def test_every_tested_variant_is_calibrated_under_a_shared_trend():
    """Issue 22 point 3: only the loss was surrogated, as if stationary, so the raw variant called 50-98%
    of independent series that merely share a trend 'significant'. Every variant that still carries a
    verdict (has a ``significant`` column) must reject at most nominal 0.05 + 3 x its Monte Carlo error
    (0.028 at 60 series: bound 0.13, i.e. 8 of 60); raw and partial correlations are description."""
    out = correlate(_shared_trend_metrics(), metric_cols=["h1_entropy"], n_bootstrap=0, n_surrogates=199)
    assert (out["rho"] > 0.5).mean() > 0.9                      # the shared trend is there
    tested = [c for c in out.columns if c.startswith("significant")]
    assert tested, "no variant carries a verdict"
    for col in tested:
        suffix = col[len("significant"):]
        rate = float((out[f"p{suffix}"] <= 0.05).mean())
        assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / len(out)), (col, rate)
    assert {"rho", "rho_partial", "rho_detrended"} <= set(out.columns)   # kept as description


def test_detrended_refuses_five_checkpoints():
    """Issue 22 point 9: with n = 5 the polynomial degree min(3, n - 5) is 0, so 'detrended' was the raw
    rho; it must say cannot decide (NaN, no p-value, a needs note) instead."""
    df = _shared_trend_metrics(n_runs=3)
    first = sorted(df["step"].unique())[:5]
    out = correlate(df[df["step"].isin(first)], metric_cols=["h1_entropy"], n_bootstrap=0, n_surrogates=99)
    assert (out["n"] == 5).all()
    assert out["rho_detrended"].isna().all() and out["p_detrended"].isna().all()
    assert not out["significant_detrended"].any()
    assert out["detrended_needs"].str.startswith("cannot decide: need >= 6 checkpoints").all()
    six = correlate(df[df["step"].isin(sorted(df["step"].unique())[:6])], metric_cols=["h1_entropy"],
                    n_bootstrap=0, n_surrogates=99)
    assert six["rho_detrended"].notna().all() and (six["detrended_needs"] == "").all()


def test_operating_check_of_the_detrended_verdict():
    """The registered check at a reduced Monte Carlo size (n_sim = 60, B = 199, the default design's 25
    checkpoints): both negative controls (shared trend with AR(1) noise; independent AR(1)) at most
    0.05 + 3 x 0.028; the planted detrended rho 0.5 is found more often than the controls."""
    from toposcale.config import validate_config
    from toposcale.operating import Design
    from toposcale.operating.dynamics import VERDICT, check

    d = Design.from_config(validate_config({}))
    d = Design(**{**d.__dict__, "n_surrogates": 199})
    rows = check(d, 60, 0)
    assert {r.verdict for r in rows} == {VERDICT} and len(rows) == 2
    for r in rows:
        assert r.fpr <= 0.05 + 3 * 0.028, (r.control, r.fpr)
    assert rows[0].power >= 0.25 and rows[0].power > max(r.fpr for r in rows)
