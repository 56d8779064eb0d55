"""summary.md generation (toposcale.report.summary, .sections, .keys, .text) from synthetic analysis tables, and the report rules."""
import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from toposcale.io import read_table
from toposcale.report import keys as K
from toposcale.report import sections as SEC
from toposcale.report import transitions_section as TS
from toposcale.report import summary as R
from toposcale.report import text as TX

# --------------------------------------------------------------------------------------------- formatting


def test_fmt_significant_digits_and_missing():
    assert TX.fmt(2.1, 4) == "2.100"
    assert TX.fmt(0.0123456) == "0.0123"
    assert TX.fmt(1234.5, 3) == "1234"
    assert TX.fmt(2.5e-5) == "2.50e-05"
    assert TX.fmt(3.2e6) == "3.20e+06"
    assert TX.fmt(7) == "7" and TX.fmt(np.int64(7)) == "7"
    assert TX.fmt(None) == "n/a" and TX.fmt(float("nan")) == "n/a"
    assert TX.fmt(True) == "yes" and TX.fmt(np.bool_(False)) == "no"
    assert TX.fmt_ci(0.1, 0.25) == "[0.100, 0.250]" and TX.fmt_ci(None, 1) == "[n/a]"
    assert TX.fmt_pct(1.234) == "+1.23%" and TX.fmt_pct(-0.5) == "-0.50%"


def test_md_table_escapes_pipes():
    t = TX.md_table(["a", "b"], [[1, "x|y"]])
    assert t.splitlines() == ["| a | b |", "|---|---|", "| 1 | x\\|y |"]


# --------------------------------------------------------------------------------------------- tables


def scaling_json():
    """A scaling.json in the format of toposcale.analysis.scaling.analyse_grid with known numbers."""
    act = {
        "law": "compute", "n_fit": 4, "fit_runs": [], "points": [], "notes": ["alpha CI is wide"],
        "fit": {"params": {"E": 1.6778, "A": 17.14, "alpha": 0.1211},
                "ci": {"E": [1.597, 1.730], "A": [12.95, 20.23], "alpha": [0.1064, 0.1303]}},
        "power_law": {"params": {"A": 5.92, "alpha": 0.03439}, "ci": {"A": [5.2, 6.6], "alpha": [0.0299, 0.0386]},
                      "r2": 0.99},
        "holdout": [{"run": "gelu-d64L4-s0", "N": 4e5, "D": 8e6, "C": 1.92e13, "observed": 2.1004,
                     "predicted": 2.1263, "pi_lo": 2.0966, "pi_hi": 2.1566, "rel_error_pct": 1.2331,
                     "inside_interval": True, "power_law_predicted": 2.07, "power_law_rel_error_pct": -1.547}],
    }
    swi = json.loads(json.dumps(act))
    swi["holdout"][0].update(run="swiglu-d64L4-s0", rel_error_pct=-3.5, inside_interval=False)
    swi["fit"]["params"]["alpha"] = 0.1187
    topo = [{"source": "weights", "metric": "h0_total_persistence_norm", "group": "all", "n": 8, "gamma": 0.4242,
             "gamma_ci": [0.31, 0.55], "spearman_rho": 0.93, "spearman_p": 0.002, "note": ""},
            {"source": "weights", "metric": "h0_total_persistence_norm", "group": "gelu", "n": 4, "gamma": 9.99,
             "gamma_ci": [1, 2], "spearman_rho": 1.0, "spearman_p": 0.04, "note": ""}]
    comp = [{"baseline": "gelu", "other": "swiglu", "law": "compute", "kind": "offset only",
             "compute_multiplier": 1.94, "compute_multiplier_ci": [1.5, 2.4],
             "verdict": "swiglu vs gelu: offset only (computed verdict)."}]
    return {"settings": {"n_bootstrap": 1000, "ci_level": 0.95, "loss": "final val_loss, nats/token",
                         "compute": "C = 6 * n_nonembed * tokens_seen FLOPs"},
            "activations": {"gelu": act, "swiglu": swi}, "comparisons": comp, "verdict": comp[0]["verdict"],
            "topology": topo, "notes": ["grid note"]}


def dynamics_csv():
    """Planted: h0_total_persistence_norm significant (detrended, the tested variant) in 3 of 4 series, h1 in
    none; raw and partial rho are description (no p-value)."""
    rows = []
    for run in ("gelu-a-s0", "gelu-b-s0"):
        for layer in ("embed", "block00"):
            rows.append(dict(run=run, source="weights", layer=layer, metric="h0_total_persistence_norm",
                             kind="topological", n=10, rho=-0.9, rho_partial=np.nan, rho_detrended=-0.8,
                             significant_detrended=not (run == "gelu-b-s0" and layer == "block00")))
            rows.append(dict(run=run, source="weights", layer=layer, metric="h1_total_persistence_norm",
                             kind="topological", n=10, rho=0.1, rho_partial=np.nan, rho_detrended=0.05,
                             significant_detrended=False))
            rows.append(dict(run=run, source="weights", layer=layer, metric="frobenius_norm", kind="baseline",
                             n=10, rho=-0.95, rho_partial=np.nan, rho_detrended=-0.3,
                             significant_detrended=False))
    return pd.DataFrame(rows)


def forecast_rows():
    """Raw forecast rows: per fraction, ridge_topology errors 0.1 and 0.3 (mean 0.2), power_law 0.5 and 0.7."""
    rows = []
    for f in (0.1, 0.5):
        for run, (et, ep) in {"r1": (0.1, 0.5), "r2": (0.3, 0.7)}.items():
            for method, e in (("ridge_topology", et / (1 if f == 0.1 else 2)), ("power_law", ep)):
                rows.append(dict(run=run, fraction=f, method=method, final_loss=2.0, predicted=2.0 + e, error=e,
                                 abs_error=e, rel_error=e / 2.0))
    return pd.DataFrame(rows)


def transitions_csv():
    rows = []
    for run, frac in (("gelu-a-s0", 0.25), ("gelu-b-s0", np.nan)):
        sig = bool(np.isfinite(frac))
        rows.append(dict(run=run, n_nonembed=1000, source="loss", layer="-", metric="val_loss", n_points=12,
                         p_value=0.01, significant=sig, transition_step=10, transition_frac=frac,
                         transition_p=0.004 if sig else np.nan, diminishing_returns_frac=0.6))
        rows.append(dict(run=run, n_nonembed=1000, source="weights", layer="blocks",
                         metric="h0_total_persistence_norm", n_points=12, p_value=0.02, significant=True,
                         transition_step=5, transition_frac=0.3, transition_p=0.01,
                         diminishing_returns_frac=np.nan))
    return pd.DataFrame(rows)


def pretrained_csv():
    return pd.DataFrame([
        dict(model="minilm", kind="encoder", origin="pretrained", corpus="kjv", expansion_ratio=3.217,
             expansion_ratio_lo=2.9, expansion_ratio_hi=3.61, expansion_ratio_norm=1.234,
             expansion_ratio_norm_lo=1.1, expansion_ratio_norm_hi=1.4, peak_layer="layer03", peak_depth=0.5),
        dict(model="gelu-d16L2-s0", kind="decoder", origin="trained", corpus="kjv", expansion_ratio=1.5,
             expansion_ratio_lo=np.nan, expansion_ratio_hi=np.nan, expansion_ratio_norm=1.1,
             expansion_ratio_norm_lo=np.nan, expansion_ratio_norm_hi=np.nan, peak_layer="block01", peak_depth=1.0),
    ])


@pytest.fixture()
def tables(tmp_path):
    paths = {"scaling": tmp_path / "scaling.json", "dynamics": tmp_path / "dynamics.csv",
             "forecast": tmp_path / "forecast.csv", "transitions": tmp_path / "transitions.csv",
             "pretrained": tmp_path / "pretrained.csv"}
    paths["scaling"].write_text(json.dumps(scaling_json()))
    dynamics_csv().to_csv(paths["dynamics"], index=False)
    forecast_rows().to_csv(paths["forecast"], index=False)
    transitions_csv().to_csv(paths["transitions"], index=False)
    pretrained_csv().to_csv(paths["pretrained"], index=False)
    return paths


def _section(text, title):
    """The body of the ``## title`` section."""
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 3)
    return text[start:] if end < 0 else text[start:end]


def test_scaling_section_quotes_the_given_numbers(tables):
    text = R.build_summary({"scaling": tables["scaling"]})
    sec = _section(text, "Scaling laws and holdout prediction")
    assert "| gelu | compute | alpha | 0.1211 | [0.1064, 0.1303] | 4 |" in sec
    assert "| swiglu | compute | alpha | 0.1187 |" in sec
    assert "| gelu-d64L4-s0 | gelu | 2.100 | 2.126 | [2.097, 2.157] | +1.23% | yes | -1.55% |" in sec
    assert "| swiglu-d64L4-s0 | swiglu |" in sec and "| -3.50% | no |" in sec
    assert "swiglu vs gelu: offset only (computed verdict)." in sec
    # topology vs size: only the pooled group is quoted
    assert "| weights | h0_total_persistence_norm | 8 | 0.424 | [0.310, 0.550] | 0.930 | 0.00200 |" in sec
    assert "9.99" not in sec
    assert "- grid note" in sec and "- gelu: alpha CI is wide" in sec


def test_dynamics_section_counts_planted_significance(tables):
    sec = _section(R.build_summary({"dynamics": tables["dynamics"]}), "Topology against loss during training")
    assert "2 runs, 12 (run, source, layer, metric) series" in sec
    assert "Tested: detrended in log(step): 'significant' = " in sec
    assert "Description, not tested: raw (two series that merely share a trend" in sec
    assert "Undefined for every series (too few checkpoints or monotone loss): partial on log(step)." in sec
    # topological: 3 of 8 detrended significant; baseline 0/4; raw rho beside them as description, no count
    assert "| weights | topological | 8 | 3 (38%) | 0.425 | 0.500 |" in sec
    assert "| weights | baseline | 4 | 0 (0%) | 0.300 | 0.950 |" in sec
    assert "significant (raw)" not in sec
    ranking = sec[sec.index("weights: metrics ranked"):]
    rows = [line for line in ranking.splitlines() if line.startswith("| ") and "metric" not in line]
    assert rows[0].startswith("| h0_total_persistence_norm | topological | 4 | 75% | -0.800 | -0.900 |")
    assert "partial on log(step)" not in ranking


def test_forecast_section_means_and_best_method(tables):
    sec = _section(R.build_summary({"forecast": tables["forecast"]}), "Forecasting the final loss")
    assert "| 10% | ridge_topology | 2 | 0.200 |" in sec and "| 10% | power_law | 2 | 0.600 |" in sec
    assert "| 50% | ridge_topology | 2 | 0.100 | 5.00% |" in sec
    assert ("Lowest mean absolute error (leave-one-run-out, secondary): 10% of training: ridge_topology (0.200 nats); "
            "50% of training: ridge_topology (0.100 nats).") in sec
    assert "95% CI" not in sec  # raw rows carry no intervals


def test_forecast_section_from_summary_table(tmp_path):
    summ = pd.DataFrame({"fraction": [0.2, 0.2], "method": ["power_law", "ridge_loss"], "n_runs": [5, 5],
                         "mean_abs_error": [0.3, 0.12], "mean_abs_error_ci_low": [0.2, 0.1],
                         "mean_abs_error_ci_high": [0.4, 0.15], "mean_rel_error": [0.1, 0.04]})
    summ.to_csv(tmp_path / "f.csv", index=False)
    sec = R.build_summary({"forecast": tmp_path / "f.csv"})
    assert "| 20% | ridge_loss | 5 | 0.120 | [0.100, 0.150] | 4.00% |" in sec
    assert "20% of training: ridge_loss (0.120 nats)" in sec


def test_transitions_section(tables):
    sec = _section(R.build_summary({"transitions": tables["transitions"]}), "Phase transitions")
    assert "| loss | 2 | 1 (50%) |" in sec and "| weights | 2 | 2 (100%) |" in sec
    assert "| gelu-a-s0 | 0.25 (p 0.0040) | 0.30 (p 0.010) | 0.60 |" in sec
    assert "| gelu-b-s0 | none | 0.30 (p 0.010) | 0.60 |" in sec


def test_pretrained_section(tables):
    sec = _section(R.build_summary({"pretrained": tables["pretrained"]}), "Pretrained models")
    assert "| minilm | encoder | pretrained | kjv | 3.22 | [2.90, 3.61] | 1.23 | [1.10, 1.40] | layer03 (0.50) |" in sec
    assert "| gelu-d16L2-s0 | decoder | trained | kjv | 1.50 | [n/a] | 1.10 | [n/a] | block01 (1.0) |" in sec


def test_sections_follow_inputs_and_problems_become_notes(tables, tmp_path):
    full = R.build_summary(tables)
    heads = [line for line in full.splitlines() if line.startswith("## ")]
    assert heads == ["## Scaling laws and holdout prediction", "## Topology against loss during training",
                     "## Forecasting the final loss from partial training", "## Phase transitions",
                     "## Pretrained models: expansion ratios", "## Provenance"]
    only = R.build_summary({"pretrained": tables["pretrained"], "grokking": None})
    assert "## Pretrained" in only and "Scaling" not in only and "Grokking" not in only
    # a missing column: the section names it and prints no numbers
    pd.DataFrame({"model": ["m"], "corpus": ["c"]}).to_csv(tmp_path / "bad.csv", index=False)
    text = R.build_summary({"pretrained": tmp_path / "bad.csv"})
    assert "lacks columns ['expansion_ratio']" in text
    text = R.build_summary({"dynamics": tmp_path / "nope.csv"})
    assert "does not exist; section skipped" in text
    with pytest.raises(ValueError, match="scalling"):
        R.build_summary({"scalling": tables["scaling"]})
    assert "No analysis tables were given." in R.build_summary({})


def grokking_csv():
    """Planted: embed_h1 separates and moves first; resid_h0 separates but lags; fourier_share separates
    (time-matched test: matched AUC and BH q); plane_h1_n_bars does not."""
    matched = {"embed_h1_total_persistence": (0.9, 0.004), "resid_h0_entropy": (0.15, 0.01),
               "plane_h1_n_bars": (0.55, 0.6), "fourier_share": (0.98, 0.002)}
    df = pd.DataFrame([
        dict(metric="embed_h1_total_persistence", kind="topological", direction="up", auc=0.97, auc_lo=0.9,
             auc_hi=1.0, separates=True, n_pre=20, n_post=30, n_seeds=3, lead_steps=120.0, lead_min=80.0,
             lead_max=200.0, acc_cross_step=900, metric_cross_step=780, resolution_steps=50,
             verdict="before", seed_verdicts="before;before;with"),
        dict(metric="resid_h0_entropy", kind="topological", direction="down", auc=0.2, auc_lo=0.1,
             auc_hi=0.35, separates=True, n_pre=20, n_post=30, n_seeds=3, lead_steps=-300.0, lead_min=-400.0,
             lead_max=-100.0, acc_cross_step=900, metric_cross_step=1200, resolution_steps=50,
             verdict="after", seed_verdicts="after;after;after"),
        dict(metric="plane_h1_n_bars", kind="topological", direction="none", auc=0.52, auc_lo=0.4,
             auc_hi=0.65, separates=False, n_pre=20, n_post=30, n_seeds=3, lead_steps=np.nan, lead_min=np.nan,
             lead_max=np.nan, acc_cross_step=900, metric_cross_step=np.nan, resolution_steps=50,
             verdict="never", seed_verdicts="never;never;never"),
        dict(metric="fourier_share", kind="reference", direction="up", auc=0.99, auc_lo=0.95, auc_hi=1.0,
             separates=True, n_pre=20, n_post=30, n_seeds=3, lead_steps=10.0, lead_min=0.0, lead_max=40.0,
             acc_cross_step=900, metric_cross_step=890, resolution_steps=50, verdict="with",
             seed_verdicts="with;with;with"),
    ])
    df["auc_matched"] = df["metric"].map(lambda m: matched[m][0])
    df["q_matched"] = df["metric"].map(lambda m: matched[m][1])
    return df


def test_grokking_section_and_positive_control(tmp_path):
    grokking_csv().to_csv(tmp_path / "g.csv", index=False)
    pd.DataFrame({"seed": [0, 0, 1, 1, 2], "arm": ["grok", "control"] * 2 + ["control"], "step": 1500,
                  "test_acc": [1.0, 0.05, 1.0, 0.04, 0.3], "fourier_freq": [7, 3, 11, 2, 5],
                  "fourier_share": [0.9, 0.2, 0.85, 0.2, 0.5], "plane_ratio": [8.0, 1.2, 2.0, 1.1, 9.0],
                  "dominant": [True, False, False, False, True], "expected": [True, False, True, False, None],
                  "ground_truth": ["generalised"] * 1 + ["memorised"] + ["generalised", "memorised",
                                                                           "cannot decide: partly generalised"],
                  "decided": [True, True, True, True, False],
                  "ok": [True, True, False, True, None]}).to_csv(tmp_path / "c.csv", index=False)
    sec = _section(R.build_summary({"grokking": tmp_path / "g.csv", "grokking_control": tmp_path / "c.csv"}),
                   "Grokking positive control")
    assert ("reference: 1 of 1 measures separate, 0 of them move before test accuracy; topological: "
            "2 of 3 measures separate, 1 of them move before test accuracy.") in sec
    rows = [line for line in sec.splitlines() if line.startswith("| ") and "measure |" not in line]
    assert rows[0].startswith("| fourier_share |")  # ordered by |matched AUC - 0.5|
    assert ("| embed_h1_total_persistence | topological | up | 0.900 | 0.0040 | yes | 0.970 | [0.900, 1.00] | "
            "120 [80.0, 200] | before |") in sec
    assert "| plane_h1_n_bars | topological | none | 0.550 | 0.60 | no | 0.520 | [0.400, 0.650] | n/a [n/a] | never |" in sec
    assert "pooled AUC (description)" in sec and "time-matched test" in sec
    # a table written before the time-matched test: nothing is called separating, and it says why
    grokking_csv().drop(columns=["auc_matched", "q_matched"]).to_csv(tmp_path / "old.csv", index=False)
    old = _section(R.build_summary({"grokking": tmp_path / "old.csv"}), "Grokking positive control")
    assert "predates the time-matched test" in old and "topological: 0 of 3 measures separate" in old
    assert ("FAILS: as expected in 3 of 4 decided runs (2 generalised, 2 memorised controls); 1 of 5 runs cannot "
            "decide") in sec
    assert "| 1 | grok | 1.00 | 2.00 | no | yes | no |" in sec
    assert "| 2 | control | 0.300 | 9.00 | yes | cannot decide: partly generalised | n/a |" in sec
    # without the control table: no control paragraph
    assert "Positive control" not in R.build_summary({"grokking": tmp_path / "g.csv"})
    # the auxiliary table alone gives no section
    assert "## Grokking" not in R.build_summary({"grokking_control": tmp_path / "c.csv", "pretrained": None})


def test_forecast_and_transition_auxiliary_tables(tables, tmp_path):
    pd.DataFrame({"fraction": [0.1, 0.1], "method": ["ridge_topology", "power_law"], "n_runs": [2, 2],
                  "mean_abs_error": [0.2, 0.6], "mean_abs_error_ci_low": [0.1, 0.5],
                  "mean_abs_error_ci_high": [0.3, 0.7], "mean_rel_error": [0.1, 0.3]}).to_csv(tmp_path / "fs.csv",
                                                                                              index=False)
    pd.DataFrame({"fraction": [0.1], "method": ["ridge_topology"], "reference": ["power_law"], "n_runs": [2],
                  "mean_diff_abs_error": [-0.4], "ci_low": [-0.5], "ci_high": [-0.3],
                  "verdict": ["better"]}).to_csv(tmp_path / "fc.csv", index=False)
    pd.DataFrame({"activation": ["gelu", "gelu"], "source": ["loss", "weights"], "layer": ["-", "blocks"],
                  "metric": ["val_loss", "h0_total_persistence_norm"], "quantity": ["transition_frac"] * 2,
                  "n_runs": [5, 4], "rho": [0.9, 0.2], "p": [0.01, 0.8], "q": [0.02, 0.8]}).to_csv(
        tmp_path / "ts.csv", index=False)
    text = R.build_summary({"forecast": tables["forecast"], "forecast_summary": tmp_path / "fs.csv",
                            "forecast_comparisons": tmp_path / "fc.csv", "transitions": tables["transitions"],
                            "transition_sizes": tmp_path / "ts.csv"})
    sec = _section(text, "Forecasting the final loss")
    assert "| 10% | ridge_topology | 2 | 0.200 | [0.100, 0.300] | 10.00% |" in sec
    assert "| 10% | ridge_topology | power_law | 2 | -0.400 | [-0.500, -0.300] | better |" in sec
    assert "50%" not in sec  # the summary table replaces the raw means
    sec = _section(text, "Phase transitions")
    assert "1 of 2 trends have q <= 0.05" in sec
    assert "| gelu | loss | - | val_loss | transition_frac | 5 | 0.900 | 0.0100 | 0.0200 |" in sec
    assert "`fs.csv`" in text.splitlines()[2]


def test_write_summary_atomic(tables, tmp_path):
    out = tmp_path / "report" / "summary.md"
    text = R.write_summary({"scaling": tables["scaling"]}, out, title="T")
    assert out.read_text() == text and text.startswith("# T\n")
    assert not list(out.parent.glob("*.tmp"))


def test_key_numbers(tables):
    tabs = {k: read_table(p) for k, p in tables.items()}
    lines = K.key_numbers(tabs)
    assert "gelu compute law: alpha = 0.121 [0.106, 0.130]" in lines
    assert "gelu holdout gelu-d64L4-s0: error +1.23% (inside PI)" in lines
    assert "swiglu holdout swiglu-d64L4-s0: error -3.50% (outside PI)" in lines
    assert "weights: significant loss correlations (detrended in log(step)): 0/4 baseline, 3/8 topological" in lines
    assert "forecast from 10% (leave-one-run-out): best ridge_topology, mean abs. error 0.200 nats" in lines
    assert "val_loss transition in 1/2 runs, at 0.25-0.25 of training" in lines
    assert "minilm on kjv: expansion ratio 3.22 [2.90, 3.61]" in lines
    assert K.key_numbers({"pretrained": pd.DataFrame({"model": ["m"]})}) == []
    g = K.key_numbers({"grokking": grokking_csv()})
    assert g == ["grokking, reference measures: 1/1 separate pre/post at matched steps, 0 move first",
                 "grokking, topological measures: 2/3 separate pre/post at matched steps, 1 move first"]
    old = K.key_numbers({"grokking": grokking_csv().drop(columns=["auc_matched", "q_matched"])})
    assert old[1] == "grokking, topological measures: 0/3 separate pre/post at matched steps, 0 move first"


# ------------------------------------------------------------------- against the real analysis modules


def test_summary_from_real_analysis_outputs(tmp_path):
    """Schema check: tables written by toposcale.analysis.scaling / dynamics / forecast / transitions are read."""
    from test_figures import make_study

    from toposcale.analysis import dynamics, forecasting, scaling, transitions

    runs = []
    for act, A in (("gelu", 30.0), ("swiglu", 27.0)):
        for i, N in enumerate([2e4, 5e4, 1e5, 2e5, 4e5]):
            D = 20 * N
            runs.append(dict(name=f"{act}-s{i}-s0", activation=act, size=f"s{i}", seed=0, n_nonembed=N,
                             tokens_seen=D, flops=6 * N * D, tokens_per_param=20.0,
                             final_val_loss=(1.8 + A * (6 * N * D) ** -0.15) * (1 + 0.003 * np.sin(i)),
                             holdout=i == 4))
    res = scaling.analyse_grid(runs, n_bootstrap=20)
    scaling.write_outputs(res, tmp_path / "scaling.json", tmp_path / "scaling.csv")
    _, _, metrics, _ = make_study(steps=[0, 1, 2, 4, 8, 16, 32, 64, 128, 256])
    dynamics.correlate(metrics, metric_cols=["h0_total_persistence_norm", "frobenius_norm"],
                       n_bootstrap=0).to_csv(tmp_path / "dynamics.csv", index=False)
    forecasting.forecast(metrics, fractions=(0.3,)).to_csv(tmp_path / "forecast.csv", index=False)
    transitions.detect_transitions(metrics, metric_cols=["h0_total_persistence_norm"], settings={"n_null": 99},
                                   min_points=6)[0].to_csv(tmp_path / "transitions.csv", index=False)
    paths = {k: tmp_path / f"{k}.{'json' if k == 'scaling' else 'csv'}"
             for k in ("scaling", "dynamics", "forecast", "transitions")}
    text = R.build_summary(paths)
    assert "section is skipped" not in text and "Could not read" not in text
    h = res["activations"]["gelu"]["holdout"][0]
    assert f"| {h['run']} | gelu | {TX.fmt(h['observed'], 4)} | {TX.fmt(h['predicted'], 4)} |" in text
    assert TX.fmt(res["activations"]["gelu"]["fit"]["params"]["alpha"], 4) in text
    assert "| 30% | " in text and "val_loss" in text
    assert len(K.key_numbers({k: read_table(p) for k, p in paths.items()})) >= 6


# ------------------------------------------------------------------- the rules, on a synthetic study


@pytest.mark.workflow
def test_figure_and_report_rules_on_synthetic_tables(tmp_path):
    """figures.smk + report.smk on synthetic tables of the smoke study's runs: every figure, summary.md
    and `snakemake --report` (captions rendered), without training or homology."""
    import yaml
    from conftest import ROOT, run_snakemake
    from test_figures import write_study

    from toposcale.config import validate_config
    from toposcale.plan.study import run_checkpoint_steps, study_runs

    cfg = validate_config(yaml.safe_load((ROOT / "configs" / "smoke.yaml").read_text()))
    res = tmp_path / "res"
    specs = []
    for r in study_runs(cfg):
        d = r.to_dict()
        d["checkpoint_steps"] = run_checkpoint_steps(r.total_steps, cfg["training"])
        specs.append(d)
    write_study(res, specs)
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "scaling.json").write_text(json.dumps(scaling_json()))
    rules = ROOT / "workflow" / "rules"
    (tmp_path / "Snakefile").write_text(textwrap.dedent(f"""
        configfile: "{ROOT / 'configs' / 'smoke.yaml'}"
        include: "{rules / 'common.smk'}"
        include: "{rules / 'figures.smk'}"
        include: "{rules / 'report.smk'}"

        from toposcale.plan.targets import STUDY_FIGURES

        rule all:
            input: [PATHS.figure(n) for n in STUDY_FIGURES], PATHS.report("summary.md")
            default_target: True

        rule stub_scaling:
            input: "{tmp_path / 'analysis' / 'scaling.json'}"
            output: f"{{RESULTS}}/analysis/scaling.json"
            shell: "cp {{input}} {{output}}"
        """))
    args = ["-s", str(tmp_path / "Snakefile"), "-d", str(tmp_path), "--config", f"results={res}"]
    run_snakemake(["--cores", "2", *args], cwd=tmp_path, timeout=600)
    for name in ("training_curves", "metric_evolution", "diagrams", "betti_curves", "summary"):
        assert (res / "figures" / f"{name}.png").stat().st_size > 10_000
    md = (res / "report" / "summary.md").read_text()
    assert "| gelu-d64L4-s0 | gelu | 2.100 | 2.126 |" in md and "## Forecasting" not in md
    run_snakemake(["--cores", "1", *args, "--report", str(tmp_path / "report.html")], cwd=tmp_path, timeout=300)
    html = (tmp_path / "report.html").read_text()
    largest = max((s for s in specs if not s["holdout"]), key=lambda s: (s["target_params"], s["activation"] == "gelu"))
    assert "Persistence diagrams and barcodes of run" in html and largest["name"] in html
    assert "snakemake.config" not in html and "snakemake.params" not in html  # templates rendered


def test_sub_section_with_an_old_table_becomes_a_note():
    old = pd.DataFrame({"source": ["weights"], "layer": ["block00"], "metric": ["h0_total_persistence"]})
    lines = TS._transition_size_lines(old)
    assert lines == ["_transition_sizes.csv lacks columns ['quantity', 'n_runs', 'rho', 'p', 'q']; "
                     "size trends skipped._", ""]


def test_size_and_forecast_verdicts_print_their_operating_characteristics(tables, tmp_path):
    """Issue 22: summary.md prints power and FPR (with Monte Carlo errors) beside the size verdicts and the
    forecast comparisons, read from the operating-characteristics table under the checks' verdict keys."""
    from toposcale.operating import Characteristic
    from toposcale.operating.forecast import VERDICT as FC
    from toposcale.operating.size import VERDICT_BEYOND, VERDICT_TREND

    oc = pd.DataFrame([Characteristic(VERDICT_BEYOND, "size", "d", "gamma_adj -0.187", 0.96, 0.01, "no size trend",
                                      0.05, 0.02, 200).row(),
                       Characteristic(VERDICT_TREND, "size", "d", "gamma 0.152", 0.85, 0.03, "no size trend",
                                      0.04, 0.01, 200).row(),
                       Characteristic(FC, "forecast", "d", "A - B = -0.041", 0.74, 0.03, "equally good",
                                      0.01, 0.01, 200).row()])
    oc.to_csv(tmp_path / "oc.csv", index=False)
    pd.DataFrame({"fraction": [0.1], "method": ["ridge_topology"], "reference": ["power_law"], "n_runs": [2],
                  "mean_diff_abs_error": [-0.4], "ci_low": [-0.5], "ci_high": [-0.3],
                  "verdict": ["better"]}).to_csv(tmp_path / "fc.csv", index=False)
    text = R.build_summary({"scaling": tables["scaling"], "operating": tmp_path / "oc.csv",
                            "forecast": tables["forecast"], "forecast_comparisons": tmp_path / "fc.csv"})
    sec = _section(text, "Scaling laws and holdout prediction")
    assert "jackknife-t CIs over sizes" in sec
    assert (f"'{VERDICT_BEYOND}': power 0.96 ± 0.01 (gamma_adj -0.187); FPR 0.05 ± 0.02 (no size trend)") in sec
    assert "power 0.85 ± 0.03 (gamma 0.152)" in sec
    sec = _section(text, "Forecasting the final loss")
    assert ("operating characteristics of 'better' at this design: power 0.74 ± 0.03 (A - B = -0.041) — below "
            "0.8: cannot decide at this design; FPR 0.01 ± 0.01 (equally good)") in sec


def test_power_notes_beside_the_grokking_and_dynamics_verdicts(tables, tmp_path):
    """The separation and detrended verdicts print their measured power and FPR (issue 22)."""
    from toposcale.report.experiment_sections import grokking_lines
    from toposcale.report.sections import dynamics_lines

    oc = pd.DataFrame([dict(verdict=v, planted="p", power=0.81, power_mcse=0.03, control=c, fpr=0.05, fpr_mcse=0.02,
                            n_sim=200, decidable=True)
                       for v, c in (("grokking separation", "clock log(step)"),
                                    ("dynamics detrended correlation", "shared trend"))])
    text = "\n".join(grokking_lines(grokking_csv(), {"operating": oc}))
    assert "Separation verdict: power 0.81 ± 0.03 (p); FPR 0.05 ± 0.02 (clock log(step))." in text
    text = "\n".join(dynamics_lines(read_table(tables["dynamics"]), {"operating": oc}))
    assert "Detrended verdict: power 0.81 ± 0.03 (p); FPR 0.05 ± 0.02 (shared trend)." in text


def test_scaling_section_prints_the_lower_envelope_as_description():
    """The envelope law's holdout row (predicted, interval, errors beside the naive prediction) is printed
    under the scaling section and labelled as a description, never a verdict."""
    env = {"gelu": {"n_points": 180, "n_envelope": 23, "params": {"E": 1.0, "A": 50.0, "alpha": 0.21},
                    "ci": {"alpha": [0.15, 0.33]},
                    "holdout": [{"run": "gelu-d64L2-s0", "observed": 1.678, "predicted": 1.812, "pi_lo": 1.70,
                                 "pi_hi": 1.93, "rel_error_pct": 8.0, "naive_error_pct": 17.0}]},
           "swiglu": {"n_points": 40, "n_envelope": 2, "note": "envelope spans 2 sizes; the law has 3 parameters: "
                                                                "cannot fit", "holdout": []}}
    text = "\n".join(SEC.scaling_lines({"activations": {}, "envelope": env}))
    assert "Lower envelope of every checkpoint" in text and "description, not a verdict" in text
    row = next(ln for ln in text.splitlines() if ln.startswith("| gelu-d64L2-s0"))
    assert "23 of 180" in row and "0.210 [0.150, 0.330]" in row and "+8.00%" in row and "+17.00%" in row, row
    assert "- swiglu: envelope spans 2 sizes" in text
    assert "Lower envelope" not in "\n".join(SEC.scaling_lines({"activations": {}}))
