import pytest

from toposcale.config import ConfigError, load_config, validate_config


def test_defaults_filled():
    cfg = validate_config({})
    assert cfg["training"]["tokens_per_param"] == [20]
    assert cfg["topology"]["bootstrap"] == {"n_checkpoints": 0, "n_resamples": 200, "fraction": 0.8}  # off
    assert cfg["pretrained"]["n_resamples"] == 200
    assert cfg["corpus"]["source"] == "builtin:kjv"
    assert cfg["topology"]["nulls"] == {"n_draws": 4, "kinds": ["gaussian", "permutation", "copula"], "sd_pool_window": 3}
    assert cfg["topology"]["min_distinct_fraction"] == 0.5


@pytest.mark.parametrize("bad, fragment", [
    ({"trainig": {}}, "unknown key 'trainig'"),
    ({"training": {"lr": -1}}, "training.lr = -1 is not allowed: must be > 0"),
    ({"training": {"lr": "fast"}}, "training.lr = 'fast' is not allowed: must be of type number"),
    ({"corpus": {"tokenizer": "wordpiece"}}, "corpus.tokenizer = 'wordpiece' is not allowed: must be one of"),
    ({"topology": {"granularity": "step"}}, "topology.granularity"),
    ({"model": {"target_params": [25000], "holdout_params": [99000]}}, "holdout_params contains 99000"),
    ({"topology": {"bootstrap": {"n_resamples": 2}}}, "topology.bootstrap.n_resamples = 2"),
    ({"pretrained": {"n_resamples": 199}}, "pretrained.n_resamples = 199 is not allowed: its 95% intervals"),
    ({"topology": {"nulls": {"n_draws": 1}}}, "topology.nulls.n_draws = 1 is not allowed: must be >= 2"),
    ({"topology": {"nulls": {"n_draws": 65}}}, "topology.nulls.n_draws = 65 is not allowed: must be <= 64"),
    ({"topology": {"nulls": {"n_draws": 2.5}}}, "topology.nulls.n_draws = 2.5 is not allowed: must be of type integer"),
    ({"topology": {"nulls": {"kinds": ["permutation"]}}},
     "topology.nulls.kinds = ['permutation'] is not allowed: must contain 'gaussian'"),
    ({"topology": {"nulls": {"kinds": ["gaussian", "shuffle"]}}},
     "topology.nulls.kinds.1 = 'shuffle' is not allowed: must be one of ['gaussian', 'permutation', 'copula']"),
    ({"topology": {"min_distinct_fraction": 0}}, "topology.min_distinct_fraction = 0 is not allowed: must be > 0"),
    ({"topology": {"min_distinct_fraction": 1.5}}, "topology.min_distinct_fraction = 1.5 is not allowed: must be <= 1"),
    ({"grokking": {"positive_control": {"min_loop_size": 0}}},
     "grokking.positive_control.min_loop_size = 0 is not allowed: must be > 0"),
    ({"grokking": {"positive_control": {"min_dominance_ratio": 1}}},
     "grokking.positive_control.min_dominance_ratio = 1 is not allowed: must be > 1"),
    ({"grokking": {"positive_control": {"min_null_z": "high"}}},
     "grokking.positive_control.min_null_z = 'high' is not allowed: must be of type number"),
    ({"grokking": {"positive_control": {"min_ratio": 3}}}, "unknown key grokking.positive_control.'min_ratio'"),
    ({"grokking": {"accuracy": {"post_grok": 1.0}}}, "grokking.accuracy.post_grok = 1.0 is not allowed: must be < 1"),
    ({"grokking": {"accuracy": {"pre_grok": 0.6}}}, "grokking.accuracy = {'pre_grok': 0.6, 'post_grok': 0.99, "
     "'grok': 0.5} is not allowed: must have pre_grok < grok < post_grok"),
])
def test_bad_config_one_line_error(bad, fragment):
    with pytest.raises(ConfigError) as exc:
        validate_config(bad)
    msg = str(exc.value)
    assert fragment in msg and "\n" not in msg


def test_repo_configs_valid():
    for path in ["config.yaml", "configs/smoke.yaml"]:
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_missing_corpus_source_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as exc:
        validate_config({"corpus": {"source": "texts/missing.txt"}})
    msg = str(exc.value)
    assert msg == f"config error: corpus.source = 'texts/missing.txt' does not exist: {tmp_path / 'texts/missing.txt'}"
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "missing.txt").write_text("now it exists\n")
    assert validate_config({"corpus": {"source": "texts/missing.txt"}})["corpus"]["source"] == "texts/missing.txt"
    assert validate_config({"corpus": {"source": "texts"}})["corpus"]["source"] == "texts"


def test_strings_from_command_line_become_the_schema_types(tmp_path, monkeypatch):
    # snakemake --config 'figures={dpi: 90}' hands nested values over as strings
    cfg = validate_config({"figures": {"dpi": "90"}, "training": {"lr": "1e-3", "tokens_per_param": ["20", "40"]},
                           "grokking": {"enabled": "false", "p": "31.0"}})
    assert cfg["figures"]["dpi"] == 90 and isinstance(cfg["figures"]["dpi"], int)
    assert cfg["training"]["lr"] == 0.001
    assert cfg["training"]["tokens_per_param"] == [20, 40]
    assert cfg["grokking"]["enabled"] is False
    assert cfg["grokking"]["p"] == 31 and isinstance(cfg["grokking"]["p"], int)
    # string keys stay strings, even when they look like numbers (a corpus file named "123" must exist)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "123").write_text("a corpus\n")
    assert validate_config({"corpus": {"source": "123"}})["corpus"]["source"] == "123"


@pytest.mark.parametrize("bad, fragment", [
    ({"figures": {"dpi": "ninety"}}, "figures.dpi = 'ninety' is not allowed: must be of type integer"),
    ({"figures": {"dpi": "90.5"}}, "figures.dpi = '90.5' is not allowed: must be of type integer"),
    ({"figures": {"dpi": "true"}}, "figures.dpi = 'true' is not allowed: must be of type integer"),
    ({"grokking": {"enabled": "1"}}, "grokking.enabled = '1' is not allowed: must be of type boolean"),
    ({"figures": {"dpi": "20"}}, "figures.dpi = 20 is not allowed: must be >= 50"),
])
def test_strings_that_do_not_fit_are_still_rejected(bad, fragment):
    with pytest.raises(ConfigError) as exc:
        validate_config(bad)
    assert fragment in str(exc.value)
