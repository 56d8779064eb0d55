"""Checkpoint series as runs (issue 24): layer mapping, loss per byte, clouds, run files, hub loading, plan."""
import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from toposcale.config import ConfigError, validate_config  # noqa: E402
from toposcale.plan.series import SeriesError, check_series_paths, series_layers, series_runs  # noqa: E402

FIXTURE = {"steps": [0, 1, 3, 10, 30, 100, 200], "d_model": 32, "n_layers": 2, "n_heads": 4, "vocab_size": 512,
           "seq_len": 64, "batch_size": 8, "lr": 0.003, "train_bytes": 200_000}


def _tiny(arch):
    t = transformers
    if arch == "gpt_neox":
        cfg = t.GPTNeoXConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                              intermediate_size=96, max_position_embeddings=32)
        return t.GPTNeoXForCausalLM(cfg), 96
    if arch == "llama":
        cfg = t.LlamaConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            num_key_value_heads=2, intermediate_size=80, max_position_embeddings=32)
        return t.LlamaForCausalLM(cfg), 80
    if arch == "gpt2":
        cfg = t.GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_inner=112, n_positions=32)
        return t.GPT2LMHeadModel(cfg), 112
    if arch == "bert":
        cfg = t.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=72, max_position_embeddings=32)
        return t.BertModel(cfg), 72
    raise AssertionError(arch)


@pytest.mark.parametrize("arch", ["gpt_neox", "llama", "gpt2", "bert"])
def test_weight_cloud_has_one_point_per_intermediate_neuron(arch):
    from toposcale.experiments.series.layers import hf_weight_clouds

    torch.manual_seed(0)
    model, intermediate = _tiny(arch)
    clouds = hf_weight_clouds(model)
    assert list(clouds) == ["embed", "block00", "block01"]
    assert clouds["embed"].shape == (64, 32)
    width = 64 if arch == "llama" else 32  # llama: gate row followed by up row
    for name in ("block00", "block01"):
        assert clouds[name].shape == (intermediate, width), (arch, name, clouds[name].shape)
    # the points are the neurons' input weights, read independently from the module
    if arch == "gpt2":
        w = model.transformer.h[1].mlp.c_fc.weight.detach().numpy()  # Conv1D: (in=32, out=112)
        assert w.shape == (32, intermediate)
        np.testing.assert_allclose(clouds["block01"][5], w[:, 5])
    elif arch == "gpt_neox":
        np.testing.assert_allclose(clouds["block01"][5], model.gpt_neox.layers[1].mlp.dense_h_to_4h.weight[5].detach())
    elif arch == "llama":
        mlp = model.model.layers[0].mlp
        np.testing.assert_allclose(clouds["block00"][7], np.concatenate([mlp.gate_proj.weight[7].detach().numpy(),
                                                                         mlp.up_proj.weight[7].detach().numpy()]))
    else:
        np.testing.assert_allclose(clouds["block00"][3], model.encoder.layer[0].intermediate.dense.weight[3].detach())


def test_unknown_architecture_names_what_to_add():
    from toposcale.experiments.series.layers import UnknownArchitecture, hf_weight_clouds

    cfg = transformers.OPTConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                 ffn_dim=64, max_position_embeddings=32, word_embed_proj_dim=32)
    with pytest.raises(UnknownArchitecture, match=r"'opt'.*MLP_INPUT in toposcale/experiments/series/layers.py"):
        hf_weight_clouds(transformers.OPTForCausalLM(cfg))


@pytest.fixture(scope="session")
def fixture_series(tmp_path_factory):
    """The tiny GPT-NeoX series trained on the KJV training split (7 checkpoints, 200 steps)."""
    from toposcale.experiments.series.fixture import train_fixture_series

    cfg = validate_config({})
    out = tmp_path_factory.mktemp("series_fixture")
    return cfg, train_fixture_series(cfg["corpus"], FIXTURE, out, seed=0, log=lambda line: None)


def test_fixture_series_is_a_trained_hf_series(fixture_series):
    _, ckpts = fixture_series
    assert [c["step"] for c in ckpts] == FIXTURE["steps"]
    assert ckpts[-1]["tokens"] == 200 * 8 * 64
    assert ckpts[-1]["train_loss"] < ckpts[1]["train_loss"] - 1.0  # it learned (ln 513 = 6.24 nats at init)
    model = transformers.AutoModelForCausalLM.from_pretrained(ckpts[-1]["path"])
    tok = transformers.AutoTokenizer.from_pretrained(ckpts[-1]["path"])
    assert model.config.model_type == "gpt_neox" and len(tok) == 513
    assert tok.bos_token == "<|endoftext|>"


def _independent_loss_per_byte(model, tok, chunks):
    """Known answer: transformers' own mean loss (labels=) times the tokens it averages, per decoded byte."""
    total, n_bytes = 0.0, 0
    with torch.no_grad():
        for chunk in chunks:
            ids = tok(chunk, add_special_tokens=False)["input_ids"]
            x = torch.tensor([[tok.bos_token_id] + ids])
            total += float(model(input_ids=x, labels=x).loss) * len(ids)  # mean over the len(ids) predictions
            n_bytes += sum(len(tok.decode([i]).encode("utf-8")) for i in ids)
    return total / n_bytes


def test_loss_per_byte_equals_the_models_own_loss(fixture_series):
    from toposcale.experiments.series.extract import load_checkpoint
    from toposcale.experiments.series.loss import nll_per_byte, text_chunks, validation_text

    cfg, ckpts = fixture_series
    text = validation_text(cfg["corpus"], 4000)
    assert text.endswith("\n") and len(text.encode()) <= 4000
    losses = []
    for ckpt in (ckpts[0], ckpts[3], ckpts[-1]):
        model, tok = load_checkpoint(ckpt, "decoder")
        got = nll_per_byte(model, tok, text, window=40, batch_size=4)
        chunks = text_chunks(text, tok, 39)
        assert "".join(chunks) == text and got["n_bytes"] == len(text.encode())
        assert got["n_chunks"] == len(chunks) > 1
        want = _independent_loss_per_byte(model, tok, chunks)
        assert got["loss_per_byte"] == pytest.approx(want, rel=1e-5)
        assert got["loss_per_token"] > got["loss_per_byte"]  # > 1 byte per BPE token
        losses.append(got["loss_per_byte"])
    assert losses[0] > losses[1] > losses[2]  # training lowers the loss
    assert losses[0] == pytest.approx(math.log(513) * got["n_tokens"] / got["n_bytes"], rel=0.05)  # init ~ uniform


def test_text_chunks_split_long_lines_within_the_token_budget():
    from toposcale.experiments.series.fixture import fixture_tokenizer
    from toposcale.experiments.series.loss import text_chunks

    tok = fixture_tokenizer("in the beginning god created the heaven and the earth\n" * 50, 300)
    text = "word " * 300 + "\nshort line\n" + "x" * 50
    chunks = text_chunks(text, tok, 16)
    assert "".join(chunks) == text
    assert max(len(tok(c, add_special_tokens=False)["input_ids"]) for c in chunks) <= 16


@pytest.fixture(scope="session")
def series_study(fixture_series, tmp_path_factory):
    """The series job run on the fixture series, with a prepared byte-level corpus (probe.npy)."""
    from toposcale.experiments.series.extract import extract_series
    from toposcale.plan.paths import StudyPaths
    from toposcale.train.corpus import prepare_corpus

    _, ckpts = fixture_series
    root = tmp_path_factory.mktemp("series_study")
    cfg = validate_config({"results": str(root), "corpus": {"seq_len": 32, "probe_size": 24},
                           "topology": {"pca_components": 8, "max_points": 200},
                           "series": [{"name": "tiny", "loss_bytes": 3000, "loss_tokens": 48, "max_tokens": 24,
                                       "checkpoints": [{k: c[k] for k in ("step", "tokens", "path")} for c in ckpts]}]})
    paths = StudyPaths(cfg["results"], "kjv")
    prepare_corpus(cfg["corpus"], paths.data(""))
    spec = series_runs(cfg)[0]
    clouds = [paths.cloud(spec.name, s) for s in spec.steps]
    info = extract_series(spec.to_dict(), cfg, paths.data("probe.npy"), paths.data("tokenizer.json"), clouds,
                          paths.run_log(spec.name), paths.run_json(spec.name), log=lambda line: None)
    return cfg, spec, paths, info


def test_series_job_writes_trained_run_formats(series_study, fixture_series):
    from toposcale.experiments.series.extract import load_checkpoint
    from toposcale.experiments.series.loss import nll_per_byte, validation_text

    cfg, spec, paths, info = series_study
    with np.load(paths.cloud(spec.name, 200)) as npz:
        keys = set(npz.files)
        want = {f"{s}/{layer}" for s in ("weights", "activations") for layer in series_layers(spec, s)}
        assert want | {k + "/baselines" for k in want} == keys
        assert npz["weights/block00"].shape == (128, 32)  # 4 x d_model intermediate neurons
        assert npz["weights/embed"].shape == (200, 32)  # 513 vocabulary rows subsampled to max_points
        assert npz["activations/final"].shape == (24, 8)  # 24 probe texts, PCA to 8
        assert npz["activations/block01/baselines"].shape == (3,)
    log = pd.read_csv(paths.run_log(spec.name))
    assert list(log["step"]) == FIXTURE["steps"] and log["train_loss"].isna().all()
    model, tok = load_checkpoint(spec.checkpoints[-1], "decoder")
    again = nll_per_byte(model, tok, validation_text(cfg["corpus"], 3000), window=48)
    assert log["val_loss"].iloc[-1] == pytest.approx(again["loss_per_byte"], rel=1e-9)
    run = json.loads(open(paths.run_json(spec.name)).read())
    assert run["activation"] == "series" and run["size"] == "tiny" and run["total_steps"] == 200
    assert run["stages_applicable"] is False and "subword" in run["stages_reason"]
    assert run["n_layers"] == 2 and run["model_type"] == "gpt_neox"
    assert run["cloud_points"]["weights/embed"] == [513, 200] and run["cloud_points"]["weights/block01"] == [128, 128]


def test_series_clouds_flow_through_persistence_and_summaries(series_study):
    from toposcale.topology.persist import persist_files
    from toposcale.topology.summarise import summarise_run

    cfg, spec, paths, _ = series_study
    steps = spec.steps[-3:]
    persist_files([paths.cloud(spec.name, s) for s in steps], paths.diagrams_root(spec.name),
                  null_root=paths.nulls_root(spec.name), n_draws=2, kinds=("gaussian",), seed=0)
    layers = {s: series_layers(spec, s) for s in ("weights", "activations")}
    metrics, betti = summarise_run(paths.diagrams_root(spec.name), ["weights", "activations"], layers, steps,
                                   paths.run_log(spec.name), paths.run_json(spec.name), cfg["topology"],
                                   nulls_root=paths.nulls_root(spec.name))
    assert len(metrics) == len(steps) * 7 and (metrics["run"] == "series-tiny").all()
    assert metrics["val_loss"].notna().all() and metrics["h0_total_persistence_null_z"].notna().all()
    assert set(metrics["frac"]) == {s / 200 for s in steps}


def _fill_hub_cache(cache, repo, ckpts):
    """A Hugging Face hub cache as huggingface_hub writes it: snapshots per commit, refs per revision."""
    base = cache / f"models--{repo.replace('/', '--')}"
    for i, c in enumerate(ckpts):
        commit = f"{i + 1:040x}"
        shutil.copytree(c["path"], base / "snapshots" / commit)
        (base / "refs").mkdir(parents=True, exist_ok=True)
        (base / "refs" / f"step{c['step']}").write_text(commit)


def test_hub_revisions_load_offline_from_a_filled_cache(fixture_series, tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    from toposcale.experiments.series.extract import load_checkpoint

    _, ckpts = fixture_series
    _fill_hub_cache(tmp_path, "toposcale/tiny-neox", ckpts[-2:])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    cfg = validate_config({"series": [{"name": "hub", "hub_id": "toposcale/tiny-neox", "revisions": ["step200"],
                                       "steps": [200], "tokens": [1], "n_layers": 2}]})
    with pytest.raises(SeriesError, match="at least 2"):
        series_runs(cfg)
    cfg["series"][0].update(revisions=["step100", "step200"], steps=[100, 200], tokens=[10, 20])
    spec = series_runs(cfg)[0]
    model, tok = load_checkpoint(spec.checkpoints[1], "decoder")
    local, _ = load_checkpoint(ckpts[-1], "decoder")
    for (k, a), (_, b) in zip(model.state_dict().items(), local.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(Exception, match="step999"):
        load_checkpoint({"hub_id": "toposcale/tiny-neox", "revision": "step999", "step": 1, "tokens": 1}, "decoder")


def test_series_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="series"):
        validate_config({"series": [{"name": "a", "checkpoints": [], "colour": "red"}]})
    cfg = validate_config({"series": [{"name": "a", "checkpoints": [
        {"step": 0, "tokens": 0, "path": str(tmp_path / "nope0")}, {"step": 5, "tokens": 9, "path": str(tmp_path / "nope5")}]}]})
    with pytest.raises(SeriesError, match="n_layers"):
        series_runs(cfg)
    cfg["series"][0]["n_layers"] = 3
    spec = series_runs(cfg)[0]
    assert spec.name == "series-a" and series_layers(spec, "activations")[-1] == "final"
    with pytest.raises(SeriesError, match=r"nope0 \(and 1 more\) has no config.json.*save_pretrained"):
        check_series_paths([spec])
    check_series_paths([spec], produced=lambda p: True)
    cfg["series"][0]["kind"] = "encoder"
    assert series_layers(series_runs(cfg)[0], "activations") == ["embed", "block00", "block01", "block02"]
    cfg["series"][0]["checkpoints"].reverse()
    with pytest.raises(SeriesError, match="strictly increasing"):
        series_runs(cfg)


def test_model_dims_estimate_the_parameter_count(fixture_series):
    """The resource formulas read the model's shape from config.json at DAG time; the parameter estimate
    (weights only, no biases or norms) is within 3% of the real count of the fixture model."""
    from toposcale.plan.resources import series_mem_mb, series_runtime
    from toposcale.plan.series import model_dims

    cfg, ckpts = fixture_series
    cfg = validate_config({"series": [{"name": "fx", "checkpoints": [
        {k: c[k] for k in ("step", "tokens", "path")} for c in ckpts]}]})
    spec = series_runs(cfg)[0]
    assert spec.n_layers == 2  # read from config.json
    dims = model_dims(spec)
    real = sum(p.numel() for p in transformers.AutoModelForCausalLM.from_pretrained(ckpts[0]["path"]).parameters())
    assert dims["n_params"] == pytest.approx(real, rel=0.03)
    assert dims["vocab"] == 513 and dims["intermediate"] == 128
    assert 1500 < series_mem_mb(dims, 1024, 512) < 2000
    assert series_runtime(dims, len(ckpts), 100_000, 256, 64) >= 10


def test_missing_series_directory_stops_the_dag_with_the_fix(tmp_path):
    from conftest import run_snakemake

    cfg = tmp_path / "series.yaml"
    cfg.write_text("series:\n  - name: mine\n    checkpoints:\n"
                   f"      - {{step: 0, tokens: 0, path: {tmp_path}/nope/step0}}\n"
                   f"      - {{step: 10, tokens: 100, path: {tmp_path}/nope/step10}}\n    n_layers: 2\n")
    proc = run_snakemake(["-n", "--cores", "1", "--configfile", str(cfg), "--config", f"results={tmp_path}/r"],
                         check=False, timeout=300)
    assert proc.returncode != 0
    assert (f"config error: series 'mine': checkpoint directory {tmp_path}/nope/step0 (and 1 more) has no "
            f"config.json; give Hugging Face model directories") in proc.stderr + proc.stdout


def test_encoder_series_has_no_loss_and_no_final_layer(series_study, tmp_path):
    """An encoder (BERT) series: clouds of embed and blocks only (no final norm), val_loss NaN (no NLL)."""
    from toposcale.experiments.series.extract import extract_series

    cfg, _, paths, _ = series_study
    words = sorted({w.lower() for w in "in the beginning god created the heaven and the earth".split()})
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words) + "\n")
    tok = transformers.BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"))
    ckpts = []
    for step in (0, 5):
        torch.manual_seed(step)
        model, _ = _tiny("bert")
        d = tmp_path / f"bert{step}"
        model.save_pretrained(d)
        tok.save_pretrained(d)
        ckpts.append({"step": step, "tokens": 10 * step, "path": str(d)})
    ecfg = validate_config({**cfg, "series": [{"name": "enc", "kind": "encoder", "checkpoints": ckpts}]})
    spec = series_runs(ecfg)[0]
    clouds = [str(tmp_path / f"c{s}.npz") for s in spec.steps]
    info = extract_series(spec.to_dict(), ecfg, paths.data("probe.npy"), paths.data("tokenizer.json"), clouds,
                          tmp_path / "log.csv", tmp_path / "run.json", log=lambda line: None)
    with np.load(clouds[1]) as npz:
        assert {k for k in npz.files if not k.endswith("baselines")} == {
            "weights/embed", "weights/block00", "weights/block01",
            "activations/embed", "activations/block00", "activations/block01"}
        assert npz["weights/block00"].shape == (72, 32)
    assert pd.read_csv(tmp_path / "log.csv")["val_loss"].isna().all() and info["kind"] == "encoder"


def test_stage_note_marks_subword_tokenizers_not_applicable(fixture_series):
    from toposcale.experiments.series.extract import stage_note
    from toposcale.experiments.series.fixture import fixture_tokenizer

    _, ckpts = fixture_series
    tok = transformers.AutoTokenizer.from_pretrained(ckpts[0]["path"])
    units, ok, reason = stage_note(tok, "And God said, Let there be light: and there was light.\n")
    assert (units, ok) == ("subword tokens", False) and "bytes per token" in reason
    byte_tok = fixture_tokenizer("abc", 257)  # 256 byte symbols + <|endoftext|>: nothing merged
    assert stage_note(byte_tok, "And God said, Let there be light.") == ("bytes", True, "")
