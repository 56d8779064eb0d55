"""Figures of the trained study (toposcale.report.plots.training / evolution / diagrams / betti / summary) and
their run, checkpoint and layer choices (toposcale.plan.figures) on tiny synthetic tables.

The tables follow the results/ contracts (log.csv, run.json, metrics and Betti parquet columns,
diagram npz files) and are built here, so these tests do not depend on a finished study.
"""
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from toposcale.plan import figures as PF
from toposcale.report.plots import betti as BC
from toposcale.report.plots import diagrams as DG
from toposcale.report.plots import evolution as EV
from toposcale.report.plots import summary as S
from toposcale.report.plots import training as TR

STEPS = [0, 1, 3, 10, 30, 100]
TOKENS_PER_STEP = 512
SIZES = {"d16L1": 3000, "d16L3": 9000, "d32L4": 40000}  # shape label -> n_nonembed (gelu)
HOLDOUT = "d32L4"
BAR_METRICS = ("total_persistence", "total_persistence_norm", "max_lifetime", "max_lifetime_norm", "n_bars",
               "n_significant", "entropy", "entropy_norm")


def _layers(source, n_layers):
    blocks = [f"block{i:02d}" for i in range(n_layers)]
    return ["embed"] + blocks + (["final"] if source == "activations" else [])


def grid_runs(activations=("gelu", "swiglu"), steps=STEPS):
    """run.json dicts of a 3-size x len(activations) grid (size d32L4 held out)."""
    runs = []
    for act in activations:
        for size, n in SIZES.items():
            n_ne = n + (16 if act == "swiglu" else 0)
            runs.append({"name": f"{act}-{size}-s0", "activation": act, "size": size, "seed": 0, "target_params": n,
                         "n_nonembed": n_ne, "n_layers": int(size.split("L")[1]), "holdout": size == HOLDOUT,
                         "tokens_per_param": 20.0, "tokens_seen": steps[-1] * TOKENS_PER_STEP,
                         "flops": 6.0 * n_ne * steps[-1] * TOKENS_PER_STEP, "checkpoint_steps": list(steps),
                         "total_steps": steps[-1]})
    return runs


def make_study(activations=("gelu", "swiglu"), steps=STEPS, seed=0, runs=None):
    """Synthetic runs (run.json dicts), logs, metrics and Betti tables (default: :func:`grid_runs`).

    Planted: val_loss falls with step and size; scale-normalised H0 total persistence of every layer
    equals 100 / (1 + step)**0.2 * (1 + depth index) (so it falls during training); Betti-0 of a
    cloud with n points is max(1, round(n * (1 - t)**2)) on the grid, Betti-1 a bump at t = 0.8.
    """
    rng = np.random.default_rng(seed)
    runs = grid_runs(activations, steps) if runs is None else runs
    logs, metrics, betti = {}, [], {}
    for r in runs:
        name, act, size, n_ne = r["name"], r["activation"], r["size"], r["n_nonembed"]
        steps = r["checkpoint_steps"]
        st = np.array(steps, float)
        val = 1.5 + 4.0 * (1 + st) ** -0.5 * (3000 / n_ne) ** 0.1
        logs[name] = pd.DataFrame({"step": steps, "tokens": st * TOKENS_PER_STEP, "train_loss": val + 0.05,
                                   "val_loss": val, "lr": 1e-3, "tokens_per_s": 1e4, "elapsed_s": st})
        brow = []
        for source in ("weights", "activations"):
            for li, layer in enumerate(_layers(source, r["n_layers"])):
                n_pts = 64 if source == "weights" else 24
                for s, v in zip(steps, val):
                    row = {"run": name, "activation": act, "size": size, "seed": r["seed"], "n_nonembed": n_ne,
                           "target_params": r["target_params"], "holdout": r["holdout"], "step": s,
                           "tokens": s * TOKENS_PER_STEP, "frac": s / steps[-1], "train_loss": v + 0.05,
                           "val_loss": v, "source": source, "layer": layer, "n_points": n_pts,
                           "scale": 0.1 * (1 + s) ** 0.3}
                    for d in ("h0", "h1"):
                        for m in BAR_METRICS:
                            row[f"{d}_{m}"] = float(rng.uniform(0.5, 2.0))
                    row["h0_total_persistence_norm"] = 100.0 / (1 + s) ** 0.2 * (1 + li)
                    row["h1_total_persistence_norm"] = 5.0 + math.sin(s + li)
                    row["mean_pairwise_distance"] = 0.1 * (1 + s) ** 0.3
                    row["frobenius_norm"] = 1.0 + 0.01 * s
                    row["total_variance"] = 0.01 * (1 + s) ** 0.5
                    row["neural_persistence"] = 0.5 if source == "weights" else np.nan
                    metrics.append(row)
                    grid = np.linspace(0, 1.5, 16)
                    for dim in (0, 1):
                        b = (np.maximum(1, np.round(n_pts * np.clip(1 - grid, 0, 1) ** 2)) if dim == 0
                             else np.round(6 * np.exp(-((grid - 0.8) / 0.1) ** 2)))
                        brow += [{"step": s, "source": source, "layer": layer, "dim": dim, "t": t,
                                  "betti": int(x)} for t, x in zip(grid, b)]
        betti[name] = pd.DataFrame(brow)
    return runs, logs, pd.DataFrame(metrics), betti


def make_diagram(n_points=30, seed=0, scale=0.2):
    """A diagram dict as :func:`toposcale.topology.homology.load_diagrams` returns it (h0 with its infinite bar)."""
    rng = np.random.default_rng(seed)
    deaths = np.sort(rng.uniform(0.2, 1.0, n_points - 1)) * scale
    deaths[-1] = scale
    h0 = np.column_stack([np.zeros(n_points), np.append(deaths, np.inf)])
    b = rng.uniform(0.5, 0.9, 12) * scale
    h1 = np.column_stack([b, b + rng.uniform(0.01, 0.2, 12) * scale])
    return {"h0": h0, "h1": h1, "n_points": n_points, "scale": scale, "backend": "test", "seconds": 0.0}


def write_study(root, runs=None, corpus="kjv"):
    """Write a synthetic study (:func:`make_study`) under ``root`` in the results/ layout: run.json,
    log.csv, metrics and Betti parquet tables, every diagram file, the corpus's n-gram levels and a stage
    crossing table (one crossing of the first run); returns the run dicts."""
    from toposcale.analysis.stages import CROSSING_COLUMNS
    from toposcale.topology import Diagrams, save_diagrams

    root = Path(root)
    runs, logs, metrics, betti = make_study(runs=runs)
    (root / "data" / corpus).mkdir(parents=True, exist_ok=True)
    (root / "data" / corpus / "ngram_levels.json").write_text(json.dumps({"levels": [
        {"order": 1, "name": "unigram", "nats": 3.0}, {"order": 2, "name": "bigram", "nats": 2.2}]}))
    (root / "analysis").mkdir(parents=True, exist_ok=True)
    first = runs[0]
    row = {c: np.nan for c in CROSSING_COLUMNS}
    row.update(run=first["name"], activation=first["activation"], n_nonembed=first["n_nonembed"], seed=first["seed"],
               crossing="unigram->bigram", from_order=1, to_order=2, level_from=3.0, level_to=2.2,
               step_start=first["checkpoint_steps"][-2], step_cross=first["checkpoint_steps"][-2], complete=False,
               n_checkpoints_in_drop=2, margin=0.05)
    pd.DataFrame([row], columns=CROSSING_COLUMNS).to_csv(root / "analysis" / "stage_crossings.csv", index=False)
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    for r in runs:
        d = root / "runs" / r["name"]
        d.mkdir(parents=True, exist_ok=True)
        (d / "run.json").write_text(json.dumps(r))
        logs[r["name"]].to_csv(d / "log.csv", index=False)
        metrics[metrics["run"] == r["name"]].to_parquet(root / "metrics" / f"{r['name']}.parquet", index=False)
        betti[r["name"]].to_parquet(root / "metrics" / f"{r['name']}.betti.parquet", index=False)
        for source in ("weights", "activations"):
            for li, layer in enumerate(_layers(source, r["n_layers"])):
                for s in r["checkpoint_steps"]:
                    dg = make_diagram(seed=li + s)
                    save_diagrams(root / "diagrams" / r["name"] / source / f"step{s:07d}" / f"{layer}.npz",
                                  Diagrams(dg["h0"], dg["h1"], dg["n_points"], "test", 0.0), dg["scale"])
    return runs


def png_size(path):
    path = Path(path)
    assert path.exists() and path.stat().st_size > 5000, f"{path} missing or nearly empty"
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


@pytest.fixture(scope="module")
def study():
    return make_study()


# ------------------------------------------------------------------------------ selection helpers

def test_default_layers_embed_middle_last_and_explicit():
    names = ["embed"] + [f"block{i:02d}" for i in range(5)] + ["final"]
    assert PF.default_layers(names) == ["embed", "block02", "block04"]
    assert PF.default_layers(["embed", "block00", "block01"]) == ["embed", "block00", "block01"]
    assert PF.default_layers(["embed", "block00"]) == ["embed", "block00"]
    assert PF.default_layers(names, ["final", "block01"]) == ["final", "block01"]
    with pytest.raises(ValueError, match="block09"):
        PF.default_layers(names, ["block09"])
    # a layer of the other source only: dropped for this source, an error when nothing is left
    assert PF.layers_for_source(["embed", "block00"], ["final", "embed"]) == ["embed"]
    with pytest.raises(ValueError, match="layers_to_show"):
        PF.layers_for_source(["embed", "block00"], ["final"])
    assert PF.middle_layer(names) == "block02"


def test_layer_roles_line_up_runs_of_different_depth():
    assert PF.layer_roles(["embed", "block00"]) == {"embed": "embed", "last block": "block00"}
    assert PF.layer_roles(["embed", "block00", "block01", "block02"]) == {
        "embed": "embed", "middle block": "block01", "last block": "block02"}
    assert PF.layer_roles(["embed", "block00"], ["block02", "embed"]) == {"embed": "embed"}


def test_choose_steps_init_middle_final():
    sched = [0, 1, 2, 5, 11, 23, 51, 112, 247]
    assert PF.choose_steps(sched) == [0, 11, 247]
    assert PF.choose_steps(sched, 5) == [0, 2, 11, 51, 247]
    assert PF.choose_steps([0, 7], 3) == [0, 7]
    with pytest.raises(ValueError):
        PF.choose_steps([], 3)


def test_pick_run_largest_non_holdout_and_explicit(study):
    runs = study[0]
    assert PF.pick_run(runs) == "gelu-d16L3-s0"  # d32L4 is held out; gelu before swiglu at equal target
    assert PF.pick_run([r for r in runs if r["holdout"]]) == "gelu-d32L4-s0"
    assert PF.pick_run(runs, "swiglu-d16L1-s0") == "swiglu-d16L1-s0"
    with pytest.raises(ValueError, match="not a run"):
        PF.pick_run(runs, "gelu-d99L9-s0")


def test_default_runs_one_activation_spread_over_sizes(study):
    runs = study[0]
    assert PF.default_runs(runs) == ["gelu-d16L1-s0", "gelu-d16L3-s0", "gelu-d32L4-s0"]
    assert PF.default_runs(runs, max_runs=2) == ["gelu-d16L1-s0", "gelu-d32L4-s0"]
    assert PF.default_runs([r for r in runs if r["activation"] == "swiglu"], max_runs=2) == [
        "swiglu-d16L1-s0", "swiglu-d32L4-s0"]


def test_size_colors_sequential_dark_to_light():
    colors = TR.size_colors({"b": 2e4, "a": 1e3, "c": 5e5})
    lum = {k: 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2] for k, c in colors.items()}
    assert lum["a"] < lum["b"] < lum["c"]


def test_runs_table_groups_activations_by_target(study):
    info = TR.runs_table(study[0])
    assert info["size_key"].nunique() == 3
    assert list(info["run"][:2]) == ["gelu-d16L1-s0", "swiglu-d16L1-s0"]
    assert info.loc[info["size"] == HOLDOUT, "size_label"].str.contains("holdout").all()
    with pytest.raises(ValueError, match="n_nonembed"):
        TR.runs_table([{"name": "x", "activation": "gelu", "size": "d1L1", "seed": 0}])


# ------------------------------------------------------------------------------ figures

def test_training_curves_png_size_scales_with_dpi(study, tmp_path):
    runs, logs, _, _ = study
    out = TR.plot_training_curves(logs, runs, tmp_path / "a.png", dpi=50)
    TR.plot_training_curves(logs, runs, tmp_path / "b.png", dpi=100)
    (w1, h1), (w2, h2) = png_size(tmp_path / "a.png"), png_size(tmp_path / "b.png")
    assert abs(w2 - 2 * w1) <= 4 and abs(h2 - 2 * h1) <= 4
    assert 0.75 * TR.FIGSIZE[0] * 100 <= w2 <= 1.1 * TR.FIGSIZE[0] * 100
    assert out["runs"][0] == "gelu-d16L1-s0" and len(out["runs"]) == 6
    # title numbers come from the data: run count, sizes, parameter range, init loss
    init = sorted(float(log["val_loss"].iloc[0]) for log in logs.values())
    assert "6 runs: 3 sizes (3k-40k params)" in out["title"]
    assert f"{init[0]:.2f}-{init[-1]:.2f} nats" in out["title"]
    assert not (tmp_path / "a.tmp.png").exists()


def test_training_curves_mark_levels_and_crossings(study, tmp_path):
    import matplotlib.pyplot as plt

    runs, logs, _, _ = study
    runs = [dict(r, tokens_per_step=TOKENS_PER_STEP) for r in runs]
    levels = [{"order": 1, "name": "unigram", "nats": 3.0}, {"order": 2, "name": "bigram", "nats": 2.2},
              {"order": 3, "name": "trigram", "nats": 1.7}, {"order": 4, "name": "4-gram", "nats": 1.3}]
    cross = pd.DataFrame({"run": ["gelu-d32L4-s0", "gelu-d16L1-s0"], "step_cross": [30.0, np.nan],
                          "level_from": [3.0, 3.0], "level_to": [2.2, 2.2]})
    fig, ax = plt.subplots()
    drawn = TR.draw_training_curves(ax, logs, runs)
    lowest = min(float(log["val_loss"][log["tokens"] > 0].min()) for log in logs.values())
    TR.draw_stage_marks(ax, levels, cross, drawn["info"], TR.run_size_colors(drawn["info"]))
    flat = sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == ":")
    below = [lv["nats"] for lv in levels if lv["nats"] < lowest]
    assert flat == sorted(lv["nats"] for lv in levels if lv["nats"] >= lowest or lv["nats"] == max(below))
    marks = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(marks) == 1  # the crossing without a step is not drawn
    assert marks[0].get_xdata()[0] == 30 * TOKENS_PER_STEP and marks[0].get_ydata()[0] == pytest.approx(2.6)
    plt.close(fig)
    TR.plot_training_curves(logs, runs, tmp_path / "c.png", dpi=50, levels=levels, crossings=cross)
    assert (tmp_path / "c.png").exists()


def test_training_curves_missing_log_is_an_error(study, tmp_path):
    runs, logs, _, _ = study
    with pytest.raises(ValueError, match="gelu-d16L1-s0"):
        TR.plot_training_curves({k: v for k, v in logs.items() if k != "gelu-d16L1-s0"}, runs, tmp_path / "x.png")


def test_metric_evolution(study, tmp_path):
    _, _, metrics, _ = study
    out = EV.plot_metric_evolution(metrics, tmp_path / "m.png", dpi=60)
    w, h = png_size(tmp_path / "m.png")
    assert abs(w - EV.FIGSIZE_EVOLUTION[0] * 60) < 0.25 * EV.FIGSIZE_EVOLUTION[0] * 60
    assert out["runs"] == ["gelu-d16L1-s0", "gelu-d16L3-s0", "gelu-d32L4-s0"]
    assert list(out["roles"]) == ["embed", "middle block", "last block"]
    assert out["roles"]["last block"][("gelu-d32L4-s0", "weights")] == "block03"
    assert out["roles"]["last block"][("gelu-d16L1-s0", "weights")] == "block00"
    assert ("gelu-d16L1-s0", "weights") not in out["roles"]["middle block"]  # 1 block: no middle
    # explicit layers: runs without them contribute nothing for that layer
    info, roles = EV.evolution_roles(metrics, runs=["swiglu-d16L1-s0", "swiglu-d32L4-s0"],
                                    layers_to_show=["block02", "final"])
    assert list(info["run"]) == ["swiglu-d16L1-s0", "swiglu-d32L4-s0"]
    assert list(roles) == ["block02", "final"]
    assert set(roles["block02"]) == {("swiglu-d32L4-s0", "weights"), ("swiglu-d32L4-s0", "activations")}
    assert set(roles["final"]) == {("swiglu-d16L1-s0", "activations"), ("swiglu-d32L4-s0", "activations")}
    with pytest.raises(ValueError, match="layers_to_show"):
        EV.evolution_roles(metrics, layers_to_show=["block07"])
    with pytest.raises(ValueError, match="baseline"):
        EV.plot_metric_evolution(metrics, tmp_path / "x.png", baseline="h0_entropy")


def test_diagrams_figure(tmp_path):
    steps = [0, 10, 100]
    dg = {(src, s): make_diagram(seed=s) for src in ("weights", "activations") for s in steps}
    out = DG.plot_diagrams(dg, tmp_path / "d.png", run="gelu-d16L3-s0",
                          layers={"weights": "block01", "activations": "block01"},
                          tokens={s: s * TOKENS_PER_STEP for s in steps}, dpi=50)
    png_size(tmp_path / "d.png")
    assert out["steps"] == steps and out["sources"] == ["weights", "activations"]
    assert "gelu-d16L3-s0" in out["title"] and "block01" in out["title"]
    del dg[("activations", 10)]
    with pytest.raises(ValueError, match="activations"):
        DG.plot_diagrams(dg, tmp_path / "x.png", run="r", layers={})


def test_diagram_barcode_shows_the_longest_bars():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = make_diagram(n_points=50, seed=3, scale=2.0)
    fig, ax = plt.subplots()
    text = DG._draw_barcode(ax, d, 1.2, max_bars=10)
    assert text == "H0 10 of 49, H1 10 of 12"
    segs = np.concatenate([c.get_segments() for c in ax.collections])
    lengths = np.sort(segs[:, 1, 0] - segs[:, 0, 0])
    h0_life = np.sort(d["h0"][:-1, 1] / 2.0)[-10:]
    h1_life = np.sort((d["h1"][:, 1] - d["h1"][:, 0]) / 2.0)[-10:]
    assert np.allclose(lengths, np.sort(np.concatenate([h0_life, h1_life])))
    plt.close(fig)


def test_betti_curves(study, tmp_path):
    _, logs, _, betti = study
    run = "gelu-d32L4-s0"
    out = BC.plot_betti_curves(betti[run], tmp_path / "b.png", run=run,
                              tokens=dict(zip(logs[run]["step"], logs[run]["tokens"])), dpi=50)
    png_size(tmp_path / "b.png")
    assert out["steps"] == [0, 3, 100]  # first, middle (index 2 of 6, rounded half to even) and last
    assert out["layers"] == {"weights": ["embed", "block01", "block03"],
                             "activations": ["embed", "block01", "block03"]}
    assert BC.betti_layers(betti[run], ["final", "embed"]) == {"weights": ["embed"], "activations": ["final", "embed"]}
    with pytest.raises(ValueError, match="7"):
        BC.plot_betti_curves(betti[run], tmp_path / "x.png", run=run, steps=[7])


def test_layer_mean_weights_layers_equally(study):
    _, _, metrics, _ = study
    lm = S.layer_mean(metrics)
    row = lm[(lm["run"] == "gelu-d32L4-s0") & (lm["source"] == "weights") & (lm["step"] == 0)].iloc[0]
    # planted: 100 * (1 + layer index) for embed + 4 blocks -> mean 100 * 3
    assert row["h0_total_persistence_norm"] == pytest.approx(300.0)
    assert row["n_layers"] == 5


def _scaling_dict():
    curve = {"tokens_per_param": None, "C": [1e8, 1e9, 1e10], "loss": [3.0, 2.5, 2.1], "lo": [2.9, 2.4, 2.0],
             "hi": [3.1, 2.6, 2.2]}
    hold = {"run": "gelu-d32L4-s0", "N": 40000, "D": 51200, "C": 1.2e10, "observed": 2.0, "predicted": 2.05,
            "pi_lo": 1.95, "pi_hi": 2.15, "rel_error_pct": 2.5, "inside_interval": True}
    act = {"law": "compute", "n_fit": 2, "fit": {"params": {"E": 1.0, "A": 10.0, "alpha": 0.123},
                                                "ci": {"E": [0.9, 1.1], "A": [8, 12], "alpha": [0.1, 0.15]}},
           "curves": [curve], "holdout": [hold], "notes": []}
    topo = [{"source": "weights", "metric": "h0_total_persistence_norm", "group": "all", "n": 6, "gamma": 0.42,
             "gamma_ci": [0.3, 0.55], "spearman_rho": 0.9, "spearman_p": 0.01, "note": ""}]
    return {"activations": {"gelu": act}, "comparisons": [], "topology": topo, "notes": []}


def test_summary_figure_with_and_without_analyses(study, tmp_path):
    import matplotlib.pyplot as plt

    runs, logs, metrics, _ = study
    fig, ax = plt.subplots()
    info = S.final_losses(TR.runs_table(runs), logs)
    assert "no scaling.json" in S._panel_scaling(ax, info, None)
    plt.close(fig)
    dyn = pd.DataFrame({"run": ["gelu-d16L1-s0"] * 3, "source": ["weights"] * 3, "layer": ["embed", "block00", "x"],
                        "metric": ["h0_total_persistence_norm"] * 3, "rho": [0.5, 0.7, 0.9],
                        "rho_detrended": [0.2, 0.4, 0.6], "significant_detrended": [True, False, True]})
    out = S.plot_summary(logs, runs, metrics, tmp_path / "s2.png", scaling=_scaling_dict(), dynamics=dyn,
                         key_lines=["line one"], missing=["grokking"], dpi=40)
    png_size(tmp_path / "s2.png")
    assert "6 runs" in out["title"]
    assert "holdout error gelu +2.5%" in out["panels"][1]
    # raw rho is description (no significance count); the tested detrended variant carries the count
    assert "Spearman rho with loss (description): median +0.70 (3 series)" in out["panels"][3]
    assert "detrended: median +0.40 (3 series, 2 significant)" in out["panels"][3]


def test_final_losses_and_compute(study):
    runs, logs, _, _ = study
    info = S.final_losses(TR.runs_table(runs), logs)
    r = info.set_index("run").loc["gelu-d16L1-s0"]
    assert r["final_loss"] == pytest.approx(float(logs["gelu-d16L1-s0"]["val_loss"].iloc[-1]))
    assert r["C"] == pytest.approx(6.0 * 3000 * 100 * TOKENS_PER_STEP)


def with_nulls(metrics):
    """``metrics`` plus the issue-15 null columns: H0's Gaussian null lies at 0.8 x the curve (sd 5% of
    it, so the curve sits outside its band); H1's null is 5 +- 0.5, the centre of its sin curve."""
    m = metrics.copy()
    h0 = "h0_total_persistence_norm"
    m[f"{h0}_null_mean"], m[f"{h0}_null_sd"] = 0.8 * m[h0], 0.04 * m[h0]
    m["h1_total_persistence_norm_null_mean"], m["h1_total_persistence_norm_null_sd"] = 5.0, 0.5
    for c in ("h0_total_persistence_norm", "h1_total_persistence_norm"):
        m[f"{c}_null_z"] = (m[c] - m[f"{c}_null_mean"]) / m[f"{c}_null_sd"]
    return m


def test_metric_evolution_draws_the_null_band(study, tmp_path):
    _, _, metrics, _ = study
    out = EV.plot_metric_evolution(with_nulls(metrics), tmp_path / "null.png", dpi=60)
    png_size(tmp_path / "null.png")
    # one band per (run, source, layer role, H0/H1 row): 3 runs; weights 8 (run, role) curves, activations 8
    n_curves = sum(len(per) for per in out["roles"].values())
    assert out["null_bands"] == 2 * n_curves
    assert "null bands not drawn" not in out["title"]
    plain = EV.plot_metric_evolution(metrics, tmp_path / "plain.png", dpi=60)
    assert plain["null_bands"] == 0 and "null bands not drawn" in plain["title"]


def test_dynamics_figures_show_raw_and_null_adjusted(tmp_path):
    """Heatmap: each topological metric's null_z row sits right below it; forecast: the null-adjusted
    method is drawn; transitions: null_z rows of the table do not disturb the raw panels."""
    from toposcale.analysis.dynamics import correlate
    from toposcale.analysis.transitions import detect_transitions
    from toposcale.report.plots import dynamics as DY

    _, _, metrics, _ = make_study(activations=("gelu",), steps=[0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144])
    metrics = with_nulls(metrics)
    cols = ["h0_total_persistence_norm", "h1_total_persistence_norm", "frobenius_norm"]
    corr = correlate(metrics, metric_cols=cols, n_bootstrap=0)
    out = DY.plot_correlation_heatmap(corr, tmp_path / "hm.png", dpi=60)
    png_size(tmp_path / "hm.png")
    assert out["metrics"] == ["h0_total_persistence_norm", "h0_total_persistence_norm" + DY.NULL_ROW,
                              "h1_total_persistence_norm", "h1_total_persistence_norm" + DY.NULL_ROW,
                              "frobenius_norm"]
    assert "Gaussian null" in out["title"]
    old = DY.plot_correlation_heatmap(corr[corr.variant == "raw"].drop(columns="variant"), tmp_path / "o.png", dpi=60)
    assert old["metrics"] == ["h0_total_persistence_norm", "h1_total_persistence_norm", "frobenius_norm"]

    tr, _ = detect_transitions(metrics, metric_cols=cols[:2], settings={"n_null": 99}, min_points=6)
    assert set(tr["variant"]) == {"raw", "null_z"}
    res = DY.plot_transitions(metrics, tr, tmp_path / "tr.png", dpi=60)
    png_size(tmp_path / "tr.png")
    assert res["n_significant"] == int(tr.loc[tr.variant == "raw", "significant"].sum())
    assert tr["method"].iloc[0] in res["title"] and "PELT" not in res["title"]     # names the test that ran
    assert res["n_significant"] > 0    # the warmup's end: 5% of these 144-step runs (7 steps) -> 7 / 144
    assert res["warmup_fraction"] == pytest.approx(7 / 144)
    assert DY.plot_transitions(metrics, tr.drop(columns="warmup_steps"), tmp_path / "t2.png",
                               dpi=60)["warmup_fraction"] is None

    methods = pd.DataFrame([{"fraction": f, "method": m, "n_runs": 6, "mean_rel_error": e, "mean_rel_error_ci_low": e / 2,
                             "mean_rel_error_ci_high": 2 * e}
                            for f in (0.2, 0.5) for m, e in zip(DY.METHOD_STYLE, (0.1, 0.08, 0.05, 0.07, 0.2))])
    comps = pd.DataFrame([{"fraction": f, "method": m, "reference": r, "n_runs": 6, "mean_diff_abs_error": d,
                           "ci_low": d - 0.05, "ci_high": d + 0.05, "verdict": "better" if d + 0.05 < 0 else "inconclusive"}
                          for f in (0.2, 0.5) for m, r, d in (("ridge_topology", "power_law", -0.1),
                                                             ("ridge_topology", "ridge_loss", -0.08),
                                                             ("ridge_topology_null", "ridge_loss", -0.01))])
    DY.plot_forecast(methods, comps, tmp_path / "fc.png", dpi=60)
    png_size(tmp_path / "fc.png")


def test_summary_panels_draw_levels_and_keep_the_pooled_exponents_out_of_the_legend(study, tmp_path):
    """Issue 23: panel (b) draws the n-gram levels inside its y-range (not those outside), and panel (c)
    states the pooled exponents in its title, so its legend keeps one row per series and covers less."""
    import matplotlib.pyplot as plt

    runs, logs, metrics, _ = study
    info = S.final_losses(TR.runs_table(runs), logs)
    mid = float(info["final_loss"].median())
    levels = [{"order": 1, "name": "unigram", "nats": mid}, {"order": 5, "name": "5-gram", "nats": 1e-3}]
    fig, ax = plt.subplots()
    S._panel_scaling(ax, info, _scaling_dict(), levels)
    assert [t.get_text().strip() for t in ax.texts] == [f"unigram {mid:.2f}"]
    plt.close(fig)
    scaling = {"topology": [{"metric": S.SUMMARY_METRIC, "group": "all", "source": "weights", "gamma": 0.5,
                             "gamma_ci": [0.25, 0.75]}]}
    fig, ax = plt.subplots()
    title = S._panel_topology_size(ax, S.layer_mean(metrics), scaling)
    assert title.split("\n")[1] == "weights pooled: ~N^gamma, gamma = 0.50 [0.25, 0.75]"
    assert not any("pooled" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close(fig)
