"""Alignment of topology with the loss's stage crossings (toposcale.analysis.alignment) and its
operating-characteristics check, on synthetic metrics and stage-crossings tables built here.

The series come from :func:`toposcale.operating.alignment.simulate` (AR(1) noise phi 0.5, marginal sd 1,
a smooth decay, plus the planted or fake component), placed in a metrics table in the
results/metrics/{run}.parquet layout (two blocks per source; the block mean is the analysed series) and a
stage-crossings table with the columns of COMMON.md.
"""
import numpy as np
import pandas as pd
import pytest

from toposcale.analysis import alignment as AL
from toposcale.operating import Design
from toposcale.operating import alignment as OC
from toposcale.plan.decidability import crossings_for_alignment

#: The default study's checkpoint fractions (config.yaml: 25 checkpoints at step > 0).
FRACS = (0.016, 0.032, 0.048, 0.065, 0.081, 0.097, 0.113, 0.129, 0.145, 0.161, 0.177, 0.21, 0.226, 0.258, 0.29,
         0.339, 0.371, 0.435, 0.484, 0.548, 0.613, 0.694, 0.79, 0.887, 1.0)
CROSS = "unigram->bigram"
H0, H1 = "h0_total_persistence_norm", "h1_total_persistence_norm"


def design(sizes=range(7), seeds=2, fracs=FRACS):
    return Design(activations=("gelu", "swiglu"), sizes=tuple(sizes), holdout_sizes=(), seeds=seeds,
                  checkpoint_fracs=tuple(fracs), k_nulls=4, n_permutations=199, n_surrogates=999)


def tables(kinds: dict, d=None, seed=0, null_kinds=None):
    """Metrics and crossings tables of the crossing runs of ``d``: ``kinds`` maps (source, metric) -> series
    kind of the block mean (each block = mean + its own small offset); ``null_kinds`` the same for the
    ``_null_z`` columns (default: same kinds, an independent draw)."""
    d = d or design()
    rng = np.random.default_rng(seed)
    cr = OC.crossing_fracs(d, rng)
    sizes = sorted(d.sizes)[1:]
    n_runs = len(cr)
    names = [f"r{i}" for i in range(n_runs)]
    n_ne = np.repeat(sizes, d.seeds * len(d.activations))
    cols = {}
    for (src, metric), kind in kinds.items():
        cols[(src, metric)] = np.vstack([r["values"] for r in OC.simulate(d, kind, rng, cr)])
    for (src, metric), kind in (null_kinds if null_kinds is not None else kinds).items():
        cols[(src, metric + "_null_z")] = np.vstack([r["values"] for r in OC.simulate(d, kind, rng, cr)])
    rows = []
    for i, run in enumerate(names):
        for src in sorted({s for s, _ in cols}):
            for b, off in (("block00", -0.5), ("block01", 0.5)):
                for t, f in enumerate(d.checkpoint_fracs):
                    row = {"run": run, "activation": ("gelu", "swiglu")[i % 2], "size": f"d{16 * int(n_ne[i])}L2",
                           "seed": i // (2 * len(sizes)), "n_nonembed": int(n_ne[i]), "step": f * OC.TOTAL_STEPS, "frac": f,
                           "source": src, "layer": b, "val_loss": 3.0, "degenerate": False}
                    row.update({m: cols[(s, m)][i, t] + off for s, m in cols if s == src})
                    rows.append(row)
    metrics = pd.DataFrame(rows)
    crossings = pd.DataFrame({"run": names, "activation": "gelu", "n_nonembed": n_ne, "seed": 0, "crossing": CROSS,
                              "from_order": 1, "to_order": 2, "step_start": cr[:, 0] * OC.TOTAL_STEPS,
                              "step_cross": cr[:, 1] * OC.TOTAL_STEPS, "step_end": cr[:, 2] * OC.TOTAL_STEPS,
                              "frac_cross": cr[:, 1], "complete": True})
    return metrics, crossings


def row(out, source="activations", metric=H0, variant="raw"):
    r = out[(out["source"] == source) & (out["metric"] == metric) & (out["variant"] == variant)]
    assert len(r) == 1
    return r.iloc[0]


def test_window_and_lag_known_answers():
    steps = np.array([1, 2, 4, 8, 16, 32, 64], float)
    assert AL.window(steps, 5, 7) == (1, 3)               # inside interval 2 (4..8), widened by one
    assert AL.window(steps, 5, 20, widen=0) == (2, 4)     # intervals 4..8, 8..16, 16..32
    assert AL.window(steps, 1, 1.5, widen=2) == (0, 2)    # clipped at the start
    assert AL.window(steps, 100, 200) is None             # after the last checkpoint
    u = np.array([1, 1, 5, 1, 1, 1], float)               # the largest move is in interval 2 (4..8)
    assert AL.crossing_lag(u, steps, 20, max_lag=3) == -2  # crossing in interval 4: topology moves 2 earlier
    assert AL.crossing_lag(u, steps, 5, max_lag=3) == 0
    assert AL.crossing_lag(np.ones(6), steps, 20, max_lag=1) == 0   # ties: smallest |lag|
    assert np.isnan(AL.crossing_lag(u, steps, 100, max_lag=3))
    assert np.allclose(AL.standardised_increments([0, 1, 3, 4, 8]), [1, 2, 1, 4] / np.median([1, 2, 1, 4]))
    assert np.isnan(AL.standardised_increments([2, 2, 2, 2])).all()


def test_planted_series_passes_fixed_fraction_and_smooth_trend_do_not():
    metrics, crossings = tables({("activations", H0): "planted", ("activations", H1): "fixed fraction",
                                 ("weights", H0): "smooth trend", ("weights", H1): "noise"})
    out = AL.align(metrics, crossings, n_null=499, n_bootstrap=200, seed=1)
    assert len(out) == 8 and list(out.columns) == list(AL.COLUMNS)
    assert (out["n_runs"] == 24).all() and (out["n_crossings"] == 24).all()
    good = row(out)
    assert good["verdict"] == AL.marks(CROSS) == "topology marks the unigram->bigram transition"
    assert good["p_random"] < 0.01 and good["p_swap"] < 0.01
    assert good["ci_low"] <= good["statistic"] <= good["ci_high"] and good["ci_low"] > 1.5
    assert abs(good["lag"]) <= 1 and good["lag_ci_low"] <= good["lag"] <= good["lag_ci_high"]
    assert row(out, variant="null_z")["verdict"] == AL.marks(CROSS)
    fixed = row(out, metric=H1)
    assert fixed["p_random"] < 0.05 and fixed["p_swap"] > 0.05         # moves near the crossings, not at them
    assert fixed["verdict"] == "no alignment"
    assert row(out, source="weights")["verdict"] == "no alignment"       # smooth trend
    assert row(out, source="weights", metric=H1)["verdict"] == "no alignment"


def test_raw_passes_null_z_does_not_is_explained_by_its_null():
    metrics, crossings = tables({("activations", H0): "planted"}, null_kinds={("activations", H0): "noise"})
    out = AL.align(metrics, crossings, n_null=199, n_bootstrap=0)
    assert row(out)["verdict"] == "explained by its null"
    assert row(out, variant="null_z")["verdict"] == "no alignment"
    assert np.isnan(row(out)["ci_low"])                                 # n_bootstrap = 0: no interval


def test_too_few_crossings_cannot_decide_and_incomplete_ones_do_not_count():
    metrics, crossings = tables({("activations", H0): "planted"})
    assert crossings_for_alignment(0.05) == 4
    crossings.loc[3:, "complete"] = False
    out = AL.align(metrics, crossings, series=[("activations", "blocks", H0)], n_null=99, n_bootstrap=0)
    r = row(out)
    assert r["n_crossings"] == 3 and r["verdict"] == "cannot decide: need >= 4 complete unigram->bigram crossings, have 3"
    assert np.isnan(r["q_value"])
    later = pd.concat([crossings, crossings.iloc[:2].assign(crossing="bigram->trigram", complete="False")])
    out = AL.align(metrics, later, series=[("activations", "blocks", H0)], variants=("raw",), n_null=99,
                   n_bootstrap=0)
    assert list(out["crossing"]) == ["bigram->trigram", CROSS] and list(out["n_runs"]) == [0, 3]
    assert out["verdict"].iloc[0] == "cannot decide: need >= 4 complete bigram->trigram crossings, have 0"
    with pytest.raises(ValueError, match="stage_crossings.csv"):
        AL.align(metrics, crossings.drop(columns="step_end"))


def test_degenerate_clouds_are_left_out():
    """A huge spike at each crossing in a degenerate cloud must not make a noise series pass."""
    metrics, crossings = tables({("activations", H0): "noise"})
    spikes = []
    for c in crossings.itertuples():
        at = metrics[(metrics["run"] == c.run)]
        near = at.iloc[(at["step"] - c.step_cross).abs().argsort()[:2]].copy()
        near[H0] += 1e3
        near["degenerate"] = True
        near["layer"] = "block02"
        spikes.append(near)
    both = pd.concat([metrics] + spikes, ignore_index=True)
    out = AL.align(both, crossings, n_null=199, n_bootstrap=0)
    assert row(out)["verdict"] == "no alignment"
    assert row(out)["statistic"] == pytest.approx(row(AL.align(metrics, crossings, n_null=199, n_bootstrap=0))["statistic"])


def test_details_give_per_crossing_rows_and_nulls():
    metrics, crossings = tables({("activations", H0): "planted"})
    out, det = AL.align(metrics, crossings, series=[("activations", "blocks", H0)], variants=("raw",),
                        n_null=99, n_bootstrap=0, details=True)
    per = det["crossings"]
    assert len(per) == 24 and per["used"].all()
    assert per["z"].mean() == pytest.approx(row(out)["statistic"])
    rand, swap = det["nulls"][("activations", "blocks", H0, "raw", CROSS)]
    assert len(rand) == len(swap) == 99 and rand.mean() < row(out)["statistic"]


def test_operating_check_at_the_default_design():
    """n_sim = 40 per row: power >= 0.9 - 3 mcse and each FPR <= 0.05 + 3 x 0.034 (mcse at p = 0.05)."""
    rows = OC.check(design(), n_sim=40, seed=3)
    assert [r.control for r in rows] == list(OC.CONTROLS)
    assert all(r.verdict == AL.VERDICT_KEY for r in rows)
    assert rows[0].power >= 0.9 - 3 * rows[0].power_mcse
    assert all(r.fpr <= 0.05 + 3 * 0.034 for r in rows)


def test_operating_check_cannot_find_a_crossing_between_few_checkpoints():
    """The smoke study's 8 log-spaced checkpoints and 6 crossing runs: the swap null cannot separate a
    run's own crossing from its neighbours', so the check reports low power (< 0.5 at n_sim 30)."""
    smoke = design(sizes=range(4), seeds=1, fracs=(0.008, 0.016, 0.032, 0.065, 0.129, 0.25, 0.5, 1.0))
    rows = OC.check(smoke, n_sim=30, seed=0)
    assert rows[0].power < 0.5 and not rows[0].decidable


def test_plan_row_and_registered_check():
    import yaml
    from conftest import ROOT

    from toposcale.config import validate_config
    from toposcale.operating import checks
    from toposcale.plan.decidability import plan

    cfg = validate_config(yaml.safe_load((ROOT / "configs" / "smoke.yaml").read_text()))
    r = [r for r in plan(cfg) if r["analysis"] == "topology at stage crossings"]
    assert len(r) == 1 and r[0]["decidable"] and r[0]["need"] == ">= 4 runs that may complete a crossing"
    cfg["model"]["target_params"] = cfg["model"]["target_params"][:1]
    cfg["model"]["activations"] = cfg["model"]["activations"][:1]
    r = [r for r in plan(cfg) if r["analysis"] == "topology at stage crossings"][0]
    assert not r["decidable"] and r["message"].startswith("cannot decide: need >= 4")
    assert checks()["alignment"] is OC.check


def test_summary_section_quotes_verdicts_with_power_and_says_cannot_decide(tmp_path):
    from toposcale.operating import run_checks
    from toposcale.report.summary import build_summary

    metrics, crossings = tables({("activations", H0): "planted", ("weights", H0): "fixed fraction"})
    table = AL.align(metrics, crossings, n_null=199, n_bootstrap=100)
    table.to_csv(tmp_path / "alignment.csv", index=False)
    run_checks(design(), 10, 0, families=["alignment"]).to_csv(tmp_path / "oc.csv", index=False)
    md = build_summary({"alignment": str(tmp_path / "alignment.csv"), "operating": str(tmp_path / "oc.csv")})
    assert "## Topology at the loss's stage crossings" in md
    line = next(x for x in md.splitlines() if x.startswith("- **activations blocks h0_total_persistence_norm**"))
    raw, nz = row(table), row(table, variant="null_z")          # verdicts are quoted from the table
    assert f"raw: {raw['verdict']} (rate {raw['statistic']:.2f} [" in line and f"; null_z: {nz['verdict']} (rate" in line
    assert raw["p_random"] < 0.05 and raw["p_swap"] < 0.05 and "swap null p" in line and "; lag " in line
    assert "- **weights blocks h0_total_persistence_norm** at unigram->bigram (24 complete crossings): raw: no alignment" in md
    assert "_Power of these verdicts at this design: power 1.00 ± 0.00 (4-sd drop" in md
    AL.align(metrics, crossings.iloc[:0]).to_csv(tmp_path / "empty.csv", index=False)
    md = build_summary({"alignment": str(tmp_path / "empty.csv")})
    assert "No stage crossing in this study (the stage-crossings table is empty): cannot decide" in md


def test_alignment_figure(tmp_path):
    from PIL import Image

    from toposcale.report.plots.alignment import plot_alignment, shown_runs

    metrics, crossings = tables({("activations", H0): "planted", ("activations", H1): "fixed fraction",
                                 ("weights", H0): "smooth trend", ("weights", H1): "noise"})
    out, det = AL.align(metrics, crossings, n_null=99, n_bootstrap=50, details=True)
    path = tmp_path / "alignment.png"
    res = plot_alignment(metrics, crossings, out, AL.null_table(det["nulls"]), path, dpi=60)
    assert len(res["runs"]) == 4 and len(res["rows"]) == 8
    sizes = metrics.drop_duplicates("run").set_index("run").loc[res["runs"], "n_nonembed"]
    assert list(sizes) == sorted(sizes) and sizes.nunique() == 4            # spread over sizes
    assert res["runs"] == shown_runs(metrics, crossings)
    w, h = Image.open(path).size
    assert w > 800 and h > 400
    empty = tmp_path / "empty.png"
    plot_alignment(metrics, crossings.iloc[:0], out.iloc[:0], AL.null_table({}), empty, dpi=50)
    assert empty.stat().st_size > 5_000
