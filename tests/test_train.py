import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from toposcale.io import CheckpointError, load_model_weights, load_state, save_state
from toposcale.config import validate_config
from toposcale.train.model import GPT, GPTConfig
from toposcale.plan.study import study_runs
from toposcale.train.trainer import Trainer, batch_offsets, lr_at, train_run


def tiny_config(**training):
    t = {"batch_size": 4, "n_checkpoints": 5, "eval_batches": 1, "tokens_per_param": [4]}
    t.update(training)
    return validate_config({"corpus": {"seq_len": 32, "probe_size": 16},
                            "model": {"target_params": [3000], "activations": ["gelu"], "head_dim": 8},
                            "training": t})


def test_schedule_warmup_cosine_floor():
    lrs = [lr_at(s, 200, 1e-3, 0.1, 0.1) for s in range(200)]
    assert lrs[0] == pytest.approx(1e-3 / 20)
    assert max(lrs) == pytest.approx(1e-3) and lrs.index(max(lrs)) == 19
    assert lrs[-1] == pytest.approx(1e-4)
    assert all(a >= b - 1e-15 for a, b in zip(lrs[19:], lrs[20:]))  # monotone decay after warmup


def test_batches_are_a_function_of_step():
    a = batch_offsets(10_000, 32, 4, seed=1, step=7, micro=0)
    b = batch_offsets(10_000, 32, 4, seed=1, step=7, micro=0)
    c = batch_offsets(10_000, 32, 4, seed=1, step=8, micro=0)
    assert (a == b).all() and not (a == c).all()


def test_safetensors_round_trip(tmp_path):
    torch.manual_seed(0)
    m = GPT(GPTConfig(d_model=16, n_layers=1, n_heads=2, seq_len=8))
    save_state(tmp_path / "c.safetensors", m.state_dict(), {"step": 3})
    m2 = GPT(GPTConfig(d_model=16, n_layers=1, n_heads=2, seq_len=8))
    meta = load_model_weights(m2, tmp_path / "c.safetensors")
    assert meta["step"] == "3"
    for k, v in m.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k])
    assert not list(tmp_path.glob("*.tmp"))


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    m = GPT(GPTConfig(d_model=16, n_layers=1, n_heads=2, seq_len=8))
    p = tmp_path / "c.safetensors"
    save_state(p, m.state_dict())
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_state(p)


def test_training_reduces_loss_and_writes_files(tmp_path, tiny_corpus):
    torch.set_num_threads(1)
    cfg = tiny_config()
    run = study_runs(cfg)[0].to_dict()
    info = train_run(run, cfg, tiny_corpus, tmp_path / "run", log=lambda s: None)
    log = pd.read_csv(tmp_path / "run" / "log.csv")
    assert list(log.columns) == ["step", "tokens", "train_loss", "val_loss", "lr", "tokens_per_s", "elapsed_s"]
    assert log["val_loss"].iloc[0] == pytest.approx(math.log(256), abs=0.3)
    assert log["val_loss"].iloc[-1] < log["val_loss"].iloc[0] - 1.0
    assert np.isfinite(log[["train_loss", "val_loss"]].to_numpy()).all()
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["n_nonembed"] == saved["n_nonembed_model"] == run["n_nonembed"]
    assert saved["flops"] == 6 * run["n_nonembed"] * saved["tokens_seen"]
    assert "torch" in saved["versions"] and saved["config"]["training"]["batch_size"] == 4
    assert saved["compute"]["torch_cpu_capability"] and saved["compute"]["torch_threads"] >= 1
    assert len(list((tmp_path / "run" / "checkpoints").glob("*.safetensors"))) == len(info["checkpoint_steps"])
    assert not (tmp_path / "run" / ".partial").exists()


def test_resume_matches_uninterrupted(tmp_path, tiny_corpus):
    torch.set_num_threads(1)
    cfg = tiny_config()
    run = study_runs(cfg)[0].to_dict()
    full = train_run(run, cfg, tiny_corpus, tmp_path / "a", log=lambda s: None)
    t = Trainer(run, cfg, tiny_corpus, tmp_path / "b", log=lambda s: None)
    first = t.train(max_seconds=0.0)  # stops right after the first checkpoint past step 0
    assert not first["finished"]
    t2 = Trainer(run, cfg, tiny_corpus, tmp_path / "b", log=lambda s: None)
    t2.train()
    resumed = t2.finalize()
    assert resumed["final_val_loss"] == pytest.approx(full["final_val_loss"], abs=1e-4)
    a = pd.read_csv(tmp_path / "a" / "log.csv")
    b = pd.read_csv(tmp_path / "b" / "log.csv")
    assert (a["step"] == b["step"]).all()
    assert np.allclose(a["val_loss"], b["val_loss"], atol=1e-4)
    da = pd.read_csv(tmp_path / "a" / "dense_log.csv")
    db = pd.read_csv(tmp_path / "b" / "dense_log.csv")
    assert da["step"].tolist() == db["step"].tolist()
    assert np.allclose(da[["train_loss", "val_loss", "lr"]], db[["train_loss", "val_loss", "lr"]], atol=1e-4,
                       equal_nan=True)


def test_dense_log_rows_and_validation_cadence(tmp_path, tiny_corpus):
    """dense_log.csv: a row every dense_log_every steps plus every checkpoint; val every dense_val_every
    steps plus checkpoints; train_loss the mean of the step losses since the previous row."""
    torch.set_num_threads(1)
    cfg = tiny_config(dense_log_every=2, dense_val_every=4, dense_val_windows=4)
    run = study_runs(cfg)[0].to_dict()
    info = train_run(run, cfg, tiny_corpus, tmp_path / "run", log=lambda s: None)
    d = pd.read_csv(tmp_path / "run" / "dense_log.csv")
    total, ck = run["total_steps"], set(info["checkpoint_steps"])
    assert list(d.columns) == ["step", "tokens", "train_loss", "val_loss", "lr"]
    expected = sorted({0, total} | ck | set(range(0, total + 1, 2)))
    assert d["step"].tolist() == expected
    has_val = set(d.loc[d["val_loss"].notna(), "step"])
    assert has_val == {s for s in expected if s % 4 == 0 or s in ck or s == total}
    assert (d["tokens"] == d["step"] * run["tokens_per_step"]).all()
    log = pd.read_csv(tmp_path / "run" / "log.csv")
    assert log["step"].tolist() == info["checkpoint_steps"]  # log.csv keeps one row per checkpoint
    # the dense train losses, weighted by the steps they cover, average to the checkpoint rows' losses
    steps = d["step"].to_numpy()
    width = np.diff(steps, prepend=0)
    for a, b in zip(log["step"][:-1], log["step"][1:]):
        sel = (steps > a) & (steps <= b)
        mean = np.sum(d["train_loss"][sel] * width[sel]) / np.sum(width[sel])
        assert mean == pytest.approx(log.set_index("step").loc[b, "train_loss"], rel=1e-9)


def test_divergence_is_reported(tmp_path, tiny_corpus):
    cfg = tiny_config(lr=1.0, grad_clip=0.0, warmup_frac=0.0)
    run = study_runs(cfg)[0].to_dict()
    t = Trainer(run, cfg, tiny_corpus, tmp_path / "r", log=lambda s: None)
    with torch.no_grad():
        for p in t.model.parameters():
            p.mul_(1e30)
    with pytest.raises(FloatingPointError, match="Lower training.lr"):
        t.train()
