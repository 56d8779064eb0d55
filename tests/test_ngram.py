"""Known answers for the corpus n-gram levels (toposcale.train.ngram)."""
import json

import numpy as np
import pytest

from toposcale.train.ngram import kneser_ney_levels, load_levels, ngram_keys, ngram_levels, plugin_entropies


def _entropy(p):
    p = np.asarray(p, dtype=float)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def test_keys_split_into_context_and_suffix():
    t = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    k3, k2 = ngram_keys(t, 3, 10), ngram_keys(t, 2, 10)
    assert k3[0] == 314 and len(k3) == 6
    assert (k3 // 10 == k2[:-1]).all()      # context = first n-1 tokens
    assert (k3 % 100 == k2[1:]).all()       # suffix = last n-1 tokens


def test_iid_source_every_level_is_its_entropy():
    """An i.i.d. source: no order can beat H(p); smoothing costs little at 300k train tokens, V = 8.

    Bounds for this size: the validation mean of -log p has sd ~ 1.1/sqrt(100k) ~ 0.004 nats; the
    smoothing cost of order 5 (8^4 = 4096 contexts, ~73 train tokens each) is below 0.06 nats.
    """
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(8))
    h = _entropy(p)
    train = rng.choice(8, size=300_000, p=p)
    val = rng.choice(8, size=100_000, p=p)
    levels = [lv["nats"] for lv in kneser_ney_levels(train, val, 8, 5)]
    assert levels[0] == pytest.approx(h, abs=0.015)
    for k, lv in enumerate(levels, start=1):
        assert h - 0.015 < lv < h + 0.06, (k, lv, h)


def test_markov_chain_bigram_and_above_reach_its_entropy_rate():
    """Order-1 Markov chain on 6 states: unigram level = H(stationary) > entropy rate = bigram+ levels."""
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.full(6, 0.3), size=6)
    evals, evecs = np.linalg.eig(P.T)
    pi = np.real(evecs[:, np.argmin(np.abs(evals - 1))])
    pi = pi / pi.sum()
    rate = float(sum(pi[i] * _entropy(P[i]) for i in range(6)))
    x = np.zeros(220_000, dtype=np.int64)
    u = rng.random(len(x))
    cum = np.cumsum(P, axis=1)
    for i in range(1, len(x)):
        x[i] = min(np.searchsorted(cum[x[i - 1]], u[i]), 5)
    train, val = x[:160_000], x[160_000:]
    levels = [lv["nats"] for lv in kneser_ney_levels(train, val, 6, 4)]
    assert levels[0] == pytest.approx(_entropy(pi), abs=0.02)
    assert levels[0] > rate + 0.3
    for lv in levels[1:]:
        assert rate - 0.02 < lv < rate + 0.04, (levels, rate)


def test_plugin_entropy_is_biased_low_where_contexts_are_rare():
    """i.i.d. uniform bytes over 64 symbols, 50k tokens: the plug-in 3-gram value falls far below log 64
    (4,096 contexts seen ~12 times each), the held-out smoothed level does not."""
    rng = np.random.default_rng(2)
    train, val = rng.integers(0, 64, 50_000), rng.integers(0, 64, 20_000)
    plug = plugin_entropies(train, 64, 3)
    held = [lv["nats"] for lv in kneser_ney_levels(train, val, 64, 3)]
    assert plug[2] < np.log(64) - 0.3
    assert held[2] > np.log(64) - 0.01


def test_kjv_levels_fall_with_order(tiny_corpus):
    """The KJV byte levels fall with order and sit near the plug-in values the issue quotes
    (unigram 3.02, bigram 2.26, trigram 1.73, 4-gram 1.33 nats); the held-out 5-gram is above its plug-in."""
    from toposcale.train.corpus import load_tokens

    train, val = load_tokens(tiny_corpus / "train.bin"), load_tokens(tiny_corpus / "val.bin")
    doc = ngram_levels(train, val, 256, 5, corpus="kjv")
    nats = [lv["nats"] for lv in doc["levels"]]
    assert all(a > b for a, b in zip(nats, nats[1:])), nats
    for got, quoted in zip(nats[:4], [3.02, 2.26, 1.73, 1.33]):
        assert got == pytest.approx(quoted, abs=0.03)
    assert doc["levels"][4]["nats"] > doc["levels"][4]["plugin_train_nats"]
    assert [lv["name"] for lv in doc["levels"]] == ["unigram", "bigram", "trigram", "4-gram", "5-gram"]


def test_bad_tokens_and_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="outside"):
        kneser_ney_levels(np.array([0, 1, 300, 2, 3, 4, 5]), np.array([0, 1, 2, 3, 4, 5]), 256, 2)
    bad = tmp_path / "ngram_levels.json"
    bad.write_text(json.dumps({"levels": [{"order": 2, "nats": 1.0}]}))
    with pytest.raises(ValueError, match="data_ngram_levels"):
        load_levels(bad)
