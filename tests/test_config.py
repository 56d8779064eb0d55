import pytest

from toposcale.config import ConfigError, load_config, validate_config


def test_defaults_filled():
    cfg = validate_config({})
    assert cfg["training"]["tokens_per_param"] == [20]
    assert cfg["topology"]["bootstrap"]["n_resamples"] == 100
    assert cfg["corpus"]["source"] == "builtin:kjv"


@pytest.mark.parametrize("bad, fragment", [
    ({"trainig": {}}, "unknown key 'trainig'"),
    ({"training": {"lr": -1}}, "training.lr = -1 is not allowed: must be > 0"),
    ({"training": {"lr": "fast"}}, "training.lr = 'fast' is not allowed: must be of type number"),
    ({"corpus": {"tokenizer": "wordpiece"}}, "corpus.tokenizer = 'wordpiece' is not allowed: must be one of"),
    ({"topology": {"granularity": "step"}}, "topology.granularity"),
    ({"model": {"target_params": [25000], "holdout_params": [99000]}}, "holdout_params contains 99000"),
    ({"topology": {"bootstrap": {"n_resamples": 2}}}, "topology.bootstrap.n_resamples = 2"),
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
