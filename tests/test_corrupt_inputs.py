"""Corrupt inputs name themselves (issue 24 item 6): a truncated or corrupt checkpoint, cloud, diagram or null
file, and a missing or corrupt run.json / log.csv, each give one line naming the file and the snakemake command
that rebuilds it. Each file is written by the project's own writer, then cut short, then read by the real reader."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toposcale.io import (CheckpointError, InputFileError, load_state, read_run_info, read_run_log, save_state,
                          write_csv_atomic, write_json_atomic)
from toposcale.topology import CloudError, load_clouds, load_diagrams, load_null_diagrams, persist_files, rips_persistence
from toposcale.topology.diagram_io import save_diagrams, save_null_diagrams
from toposcale.topology.persist import main as persist_main
from toposcale.topology.summarise import bootstrap_checkpoint, summarise_run


def _cut(path, n=100):
    with open(path, "r+b") as fh:
        fh.truncate(n)


def _flip_middle(path):
    """Overwrite bytes in the middle of the file (a damaged member, the zip directory intact)."""
    raw = bytearray(Path(path).read_bytes())
    mid = len(raw) // 3
    raw[mid:mid + 64] = bytes(64)
    Path(path).write_bytes(bytes(raw))


def _assert_names(exc_text: str, path, word="corrupt"):
    """One line, naming the file, what is wrong, and the command that rebuilds it."""
    assert "\n" not in exc_text
    assert exc_text.startswith(f"{word} ")
    assert str(path) in exc_text
    assert f"rerun `snakemake --cores 1 {path}`" in exc_text


def _diagrams(seed=0):
    X = np.random.default_rng(seed).normal(size=(16, 3))
    return rips_persistence(X, max_dim=1), X


def test_truncated_null_file_names_itself_in_the_summary_job(tmp_path):
    """The report of the issue: a null file cut to 100 bytes made summarise fail with
    `zipfile.BadZipFile: File is not a zip file` and no file name."""
    dg, _ = _diagrams()
    root = tmp_path / "results"
    rel = Path("weights", "step0000004", "embed.npz")
    save_diagrams(root / "diagrams" / "r" / rel, dg, 1.0, {"n_distinct": 16})
    save_null_diagrams(root / "nulls" / "r" / rel, {"gaussian": [(dg, 1.0)]}, {"gaussian": 7})
    assert load_null_diagrams(root / "nulls" / "r" / rel)["gaussian"][0]["seed"] == 7
    _cut(root / "nulls" / "r" / rel)
    write_json_atomic({"name": "r", "total_steps": 4}, root / "runs" / "r" / "run.json")
    write_csv_atomic(pd.DataFrame({"step": [4], "tokens": [64], "train_loss": [3.0], "val_loss": [3.1]}),
                     root / "runs" / "r" / "log.csv")
    with pytest.raises(InputFileError) as err:
        summarise_run(root / "diagrams" / "r", ["weights"], {"weights": ["embed"]}, [4],
                      root / "runs" / "r" / "log.csv", root / "runs" / "r" / "run.json",
                      {"betti_grid_max": 1.0, "betti_grid_size": 5, "noise_fraction": 0.01,
                       "min_distinct_fraction": 0.5}, nulls_root=root / "nulls" / "r")
    _assert_names(str(err.value), root / "nulls" / "r" / rel)
    assert "(BadZipFile: File is not a zip file)" in str(err.value)
    assert str(err.value).startswith("corrupt null file ")


@pytest.mark.parametrize("damage", [_cut, _flip_middle])
def test_corrupt_diagram_file(tmp_path, damage):
    dg, _ = _diagrams()
    path = tmp_path / "diagrams" / "r" / "activations" / "step0000000" / "block00.npz"
    save_diagrams(path, dg, 1.0)
    assert load_diagrams(path)["n_points"] == 16
    damage(path)
    with pytest.raises(InputFileError) as err:
        load_diagrams(path)
    _assert_names(str(err.value), path)
    assert str(err.value).startswith("corrupt diagram file ")


def test_corrupt_null_file_in_the_middle(tmp_path):
    dg, _ = _diagrams()
    path = tmp_path / "nulls" / "r" / "weights" / "step0000000" / "embed.npz"
    save_null_diagrams(path, {"gaussian": [(dg, 1.0)] * 3}, {"gaussian": 1})
    _flip_middle(path)
    with pytest.raises(InputFileError) as err:
        load_null_diagrams(path)
    _assert_names(str(err.value), path)


def test_missing_diagram_file(tmp_path):
    path = tmp_path / "diagrams" / "r" / "weights" / "step0000000" / "embed.npz"
    with pytest.raises(InputFileError) as err:
        load_diagrams(path)
    _assert_names(str(err.value), path, word="missing")


def _clouds_file(tmp_path):
    from toposcale.topology.clouds import write_clouds

    rng = np.random.default_rng(1)
    path = tmp_path / "clouds" / "r" / "step0000000.npz"
    write_clouds(path, {"weights": {"embed": rng.normal(size=(12, 4))},
                        "activations": {"embed": rng.normal(size=(10, 6))}},
                 {"pca_components": 3, "max_points": 100}, seed=0, where="test")
    return path


def test_truncated_cloud_file_in_the_persistence_and_interval_jobs(tmp_path, capsys):
    path = _clouds_file(tmp_path)
    clouds = load_clouds(path)
    assert list(clouds) == ["weights/embed", "activations/embed"]
    assert clouds["activations/embed"][0].shape == (10, 3) and clouds["weights/embed"][1].shape == (3,)
    assert list(load_clouds(path, only="activations/embed")) == ["activations/embed"]
    with pytest.raises(CloudError, match=r"has no layer 'weights/block07' \(has \['weights/embed', 'activations/embed'\]\)"):
        load_clouds(path, only="weights/block07")
    _cut(path, 300)
    with pytest.raises(InputFileError):
        load_clouds(path, only="activations/embed")
    for call in (lambda: persist_files([path], tmp_path / "diagrams" / "r"),
                 lambda: bootstrap_checkpoint(path, {"bootstrap": {"n_resamples": 2, "fraction": 0.8}, "max_dim": 1,
                                                     "backend": "auto", "noise_fraction": 0.01}, 0, "r", 0)):
        with pytest.raises(InputFileError) as err:
            call()
        _assert_names(str(err.value), path)
        assert str(err.value).startswith("corrupt cloud file ")
    # the persistence command prints the one line and exits 1
    assert persist_main(["--out-root", str(tmp_path / "diagrams" / "r"), str(path)]) == 1
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"error: corrupt cloud file {path}") and "\n" not in line


def test_cloud_file_with_a_damaged_member(tmp_path):
    path = _clouds_file(tmp_path)
    _flip_middle(path)
    with pytest.raises(InputFileError) as err:
        load_clouds(path)
    _assert_names(str(err.value), path)


def test_truncated_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "runs" / "r" / "checkpoints" / "step0000010.safetensors"
    save_state(path, {"w": torch.ones(64, 64)}, {"step": 10})
    assert load_state(path)[1]["step"] == "10"
    _cut(path)
    with pytest.raises(CheckpointError) as err:
        load_state(path)
    assert isinstance(err.value, InputFileError)
    _assert_names(str(err.value), path)
    assert "retrain its run" in str(err.value)
    path.unlink()
    with pytest.raises(CheckpointError) as err:
        load_state(path)
    _assert_names(str(err.value), path, word="missing")


def test_missing_or_corrupt_run_json(tmp_path):
    path = tmp_path / "runs" / "r" / "run.json"
    with pytest.raises(InputFileError) as err:
        read_run_info(path)
    _assert_names(str(err.value), path, word="missing")
    info = {"name": "r", "total_steps": 40, "n_nonembed": 1000, "checkpoint_steps": list(range(40))}
    write_json_atomic(info, path, indent=2)
    assert read_run_info(path) == info
    _cut(path, 30)
    with pytest.raises(InputFileError) as err:
        read_run_info(path)
    _assert_names(str(err.value), path)
    assert "JSONDecodeError" in str(err.value)
    path.write_text(json.dumps({"total_steps": 40}))
    with pytest.raises(InputFileError, match=r"lacks \['name'\]"):
        read_run_info(path)


def test_missing_truncated_or_incomplete_log_csv(tmp_path):
    path = tmp_path / "runs" / "r" / "log.csv"
    with pytest.raises(InputFileError) as err:
        read_run_log(path)
    _assert_names(str(err.value), path, word="missing")
    log = pd.DataFrame({"step": np.arange(0, 50, 10), "tokens": np.arange(0, 50, 10) * 64,
                        "train_loss": np.linspace(5, 2, 5), "val_loss": np.linspace(5.1, 2.1, 5),
                        "lr": 0.001, "tokens_per_s": 1e4, "elapsed_s": 1.0})
    write_csv_atomic(log, path)
    pd.testing.assert_frame_equal(read_run_log(path), log)
    _cut(path, 100)   # mid-row: pandas alone would read the rows before it and say nothing
    assert len(pd.read_csv(path)) >= 1
    with pytest.raises(InputFileError) as err:
        read_run_log(path)
    _assert_names(str(err.value), path)
    assert "cut short" in str(err.value)
    path.write_text("step,tokens\n0,0\n")
    with pytest.raises(InputFileError, match=r"lacks columns \['train_loss', 'val_loss'\]"):
        read_run_log(path)


def test_truncated_grokking_diagram_file(tmp_path):
    from toposcale.experiments.grokking.diagrams import load_run_diagrams, save_run_diagrams

    dg, X = _diagrams()
    path = tmp_path / "grokking" / "grok-s0" / "diagrams.npz"
    save_run_diagrams(path, {0: {"embed": dg, "plane": dg, "plane_points": X[:, :2]},
                             10: {"embed": dg, "plane": dg, "plane_points": X[:, :2]}})
    assert sorted(load_run_diagrams(path)) == [0, 10]
    _cut(path)
    with pytest.raises(InputFileError) as err:
        load_run_diagrams(path)
    _assert_names(str(err.value), path)
