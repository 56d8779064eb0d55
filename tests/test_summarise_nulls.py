"""Issue 15: null draws in the persistence jobs, cloud hygiene, and the null columns of the metrics table."""
import json

import numpy as np
import pandas as pd
import pytest

from toposcale.config import validate_config
from toposcale.plan.paths import StudyPaths, step_name
from toposcale.topology.diagram_io import load_diagrams, load_null_diagrams, save_null_diagrams
from toposcale.topology.homology import rips_persistence
from toposcale.topology.hygiene import cloud_hygiene
from toposcale.topology.metrics import BASELINE_COLUMNS, METRIC_COLUMNS, diagram_scale
from toposcale.topology.nulls import null_seed
from toposcale.topology.persist import main as persist_main
from toposcale.topology.persist import persist_files
from toposcale.topology.summarise import NULL_METRICS, summarise_run

TOPO = validate_config({})["topology"]
RUN = "gelu-d16L1-s0"


def _write_clouds(path, clouds: dict):
    """A clouds file as toposcale.topology.clouds writes it: 'source/layer' arrays plus their baselines."""
    arrays = {}
    for key, X in clouds.items():
        arrays[key] = X
        arrays[f"{key}/baselines"] = np.arange(len(BASELINE_COLUMNS), dtype=np.float64)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)


def _circle(rng, n, radius=1.0, noise=0.05, d=6):
    t = rng.uniform(0, 2 * np.pi, n)
    X = rng.normal(scale=noise, size=(n, d))
    X[:, 0] += radius * np.cos(t)
    X[:, 1] += radius * np.sin(t)
    return X


def _study(tmp_path, clouds_by_step: dict, K: int, kinds=("gaussian", "permutation")):
    """Persist every step's clouds (with K null draws) and write the run's log and run.json."""
    paths = StudyPaths(str(tmp_path), "kjv")
    files = []
    for step, clouds in clouds_by_step.items():
        f = tmp_path / "clouds" / RUN / f"{step_name(step)}.npz"
        _write_clouds(f, clouds)
        files.append(f)
    persist_files(files, paths.diagrams_root(RUN), null_root=paths.nulls_root(RUN), n_draws=K, kinds=kinds, seed=0)
    steps = sorted(clouds_by_step)
    pd.DataFrame({"step": steps, "tokens": [100 * s for s in steps], "train_loss": [3.0] * len(steps),
                  "val_loss": [3.1] * len(steps)}).to_csv(tmp_path / "log.csv", index=False)
    run = {"name": RUN, "activation": "gelu", "size": 16, "seed": 0, "n_nonembed": 1000, "target_params": 1000,
           "holdout": False, "tokens_per_param": 20, "total_steps": max(steps)}
    (tmp_path / "run.json").write_text(json.dumps(run))
    return paths


def _summarise(tmp_path, paths, clouds_by_step, layers, topology=TOPO):
    sources = sorted(layers)
    return summarise_run(paths.diagrams_root(RUN), sources, layers, sorted(clouds_by_step), tmp_path / "log.csv",
                         tmp_path / "run.json", topology, nulls_root=paths.nulls_root(RUN))


def test_null_files_hold_k_draws_per_applicable_kind_and_summaries_get_the_columns(tmp_path):
    rng = np.random.default_rng(0)
    clouds = {3: {"weights/block00": rng.normal(size=(40, 8)), "activations/final": rng.normal(size=(30, 5))}}
    paths = _study(tmp_path, clouds, K=3)
    w = load_null_diagrams(paths.null_diagram(RUN, "weights", 3, "block00"))
    a = load_null_diagrams(paths.null_diagram(RUN, "activations", 3, "final"))
    assert sorted(w) == ["gaussian", "permutation"] and [len(v) for v in w.values()] == [3, 3]
    assert sorted(a) == ["gaussian"] and len(a["gaussian"]) == 3
    X = clouds[3]["weights/block00"]
    for kind, draws in w.items():
        assert draws[0]["seed"] == null_seed(0, RUN, 3, "weights", "block00", kind)
        for d in draws:  # each draw is a full diagram of a 40-point cloud, with its own scale
            assert d["n_points"] == 40 and len(d["h0"]) == 40 and d["scale"] == diagram_scale(d["h0"])
    # the draws differ from each other and from the real cloud
    assert len({round(d["scale"], 12) for d in w["gaussian"]}) == 3
    real = load_diagrams(paths.diagram(RUN, "weights", 3, "block00"))
    assert real["n_distinct"] == 40 and 1.0 < real["effective_rank"] <= 8.0
    assert real["effective_rank"] == pytest.approx(cloud_hygiene(X)["effective_rank"])

    metrics, betti = _summarise(tmp_path, paths, clouds, {"weights": ["block00"], "activations": ["final"]})
    for m in NULL_METRICS:
        for suffix in ("null_mean", "null_sd", "null_z", "perm_mean", "perm_sd", "perm_z"):
            assert f"{m}_{suffix}" in metrics.columns
    for col in ("n_null_draws", "n_distinct", "effective_rank", "degenerate"):
        assert col in metrics.columns
    assert (metrics["n_null_draws"] == 3).all() and not metrics["degenerate"].any()
    assert (metrics["h0_total_persistence_null_sd"] > 0).all()
    assert np.isfinite(metrics["h0_total_persistence_null_z"]).all() and np.isfinite(metrics["scale_null_z"]).all()
    wrow = metrics[metrics.source == "weights"].iloc[0]
    arow = metrics[metrics.source == "activations"].iloc[0]
    assert np.isfinite(wrow["h0_total_persistence_perm_z"]) and np.isnan(arow["h0_total_persistence_perm_z"])
    # the null columns are exactly the summaries of the stored draws
    vals = [d["scale"] for d in w["gaussian"]]
    assert wrow["scale_null_mean"] == pytest.approx(np.mean(vals))
    assert wrow["scale_null_sd"] == pytest.approx(np.std(vals, ddof=1))
    assert wrow["scale_null_z"] == pytest.approx((wrow["scale"] - np.mean(vals)) / np.std(vals, ddof=1))
    assert {"null_mean", "null_sd"} <= set(betti.columns)
    h0 = betti[(betti.source == "weights") & (betti.dim == 0)]
    # at t = 0 every draw of 40 distinct points has 40 H0 bars alive (39 finite + the essential one), as the cloud
    assert h0["null_mean"].iloc[0] == 40.0 and h0["null_sd"].iloc[0] == 0.0 and h0["betti"].iloc[0] == 40
    assert np.isfinite(h0["null_sd"]).all()


def test_kinds_follow_the_config_and_cli(tmp_path):
    rng = np.random.default_rng(1)
    f = tmp_path / "clouds" / RUN / f"{step_name(0)}.npz"
    _write_clouds(f, {"weights/embed": rng.normal(size=(20, 4))})
    root, nulls = tmp_path / "diagrams" / RUN, tmp_path / "nulls" / RUN
    assert persist_main(["--out-root", str(root), "--null-root", str(nulls), "--n-draws", "2", "--kinds",
                         "gaussian", "--seed", "7", str(f)]) == 0
    draws = load_null_diagrams(nulls / "weights" / step_name(0) / "embed.npz")
    assert list(draws) == ["gaussian"] and len(draws["gaussian"]) == 2
    assert draws["gaussian"][0]["seed"] == null_seed(7, RUN, 0, "weights", "embed", "gaussian")
    with pytest.raises(SystemExit):
        persist_main(["--out-root", str(root), "--null-root", str(nulls), "--kinds", "gaussian", str(f)])
    # without null draws the real diagram still gets its hygiene extras and no null file appears
    persist_files([f], tmp_path / "d0" / RUN)
    assert load_diagrams(tmp_path / "d0" / RUN / "weights" / step_name(0) / "embed.npz")["n_distinct"] == 20
    assert not (tmp_path / "nulls0").exists()


def test_null_file_round_trip_keeps_every_draw(tmp_path):
    rng = np.random.default_rng(2)
    dgs = [rips_persistence(rng.normal(size=(n, 3))) for n in (10, 15)]
    save_null_diagrams(tmp_path / "n.npz", {"gaussian": [(d, diagram_scale(d.h0)) for d in dgs],
                                            "permutation": []}, {"gaussian": 5, "permutation": 6})
    back = load_null_diagrams(tmp_path / "n.npz")
    assert back["permutation"] == []
    for d, b in zip(dgs, back["gaussian"]):
        np.testing.assert_array_equal(d.h0, b["h0"])
        np.testing.assert_array_equal(d.h1, b["h1"])
        assert b["n_points"] == d.n_points and b["seed"] == 5


def test_gaussian_cloud_is_explained_by_its_null_but_a_circle_is_not(tmp_path):
    rng = np.random.default_rng(3)
    cov = np.diag([4.0, 2.0, 1.0, 0.5, 0.25])
    clouds = {s: {"activations/final": rng.multivariate_normal(np.zeros(5), cov, size=60),
                  "activations/embed": _circle(rng, 60)} for s in range(6)}
    paths = _study(tmp_path, clouds, K=8, kinds=("gaussian",))
    metrics, _ = _summarise(tmp_path, paths, clouds, {"activations": ["embed", "final"]})
    gauss = metrics[metrics.layer == "final"]
    circle = metrics[metrics.layer == "embed"]
    assert gauss["h0_total_persistence_null_z"].abs().mean() < 2
    assert (circle["h1_max_lifetime_null_z"] > 5).all()


def test_duplicated_points_are_counted_and_flagged(tmp_path):
    rng = np.random.default_rng(4)
    base = rng.normal(size=(8, 4))
    clouds = {0: {"activations/embed": base[rng.integers(0, 8, size=48)],  # 8 distinct of 48
                  "activations/final": rng.normal(size=(48, 4))}}
    paths = _study(tmp_path, clouds, K=2, kinds=("gaussian",))
    metrics, _ = _summarise(tmp_path, paths, clouds, {"activations": ["embed", "final"]})
    row = metrics.set_index("layer")
    assert row.loc["embed", "n_distinct"] <= 8 and bool(row.loc["embed", "degenerate"])
    assert row.loc["final", "n_distinct"] == 48 and not bool(row.loc["final", "degenerate"])
    strict = {**TOPO, "min_distinct_fraction": 0.1}  # 8/48 = 0.17 >= 0.1: not degenerate at this threshold
    assert not _summarise(tmp_path, paths, clouds, {"activations": ["embed", "final"]}, strict)[0]["degenerate"].any()


def test_cloud_hygiene_edge_cases():
    assert cloud_hygiene(np.zeros((1, 3))) == {"n_distinct": 1, "effective_rank": 1.0}
    X = np.random.default_rng(5).normal(size=(500, 6))
    Q, _ = np.linalg.qr(np.random.default_rng(6).normal(size=(6, 6)))
    # rotation-invariant; k equal-variance directions give rank close to k
    assert cloud_hygiene(X @ Q)["effective_rank"] == pytest.approx(cloud_hygiene(X)["effective_rank"])
    assert cloud_hygiene(X[:, :3] @ Q[:3])["effective_rank"] == pytest.approx(3.0, abs=0.1)
    with pytest.raises(ValueError, match="NaN"):
        cloud_hygiene(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="shape"):
        cloud_hygiene(np.zeros(4))


def test_null_metrics_cover_every_metric_column():
    assert NULL_METRICS == (*METRIC_COLUMNS, "scale")
