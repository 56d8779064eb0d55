"""toposcale.analysis.probes: n-gram divergences and induction scores against known answers."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from toposcale.analysis.probes import (COLUMNS, ProbeError, best_induction_head, induction_attention_scores,
                                       induction_length, induction_loss_drop, kl_to_tables, ngram_log_tables,
                                       probe_run, repeated_sequences, uniform_induction_attention)
from toposcale.io import save_state
from toposcale.train.model import GPT, GPTConfig

V = 6


@pytest.fixture(scope="module")
def corpus():
    """A Markov chain over 6 tokens with strong bigram structure (token 5 never occurs)."""
    rng = np.random.default_rng(0)
    trans = rng.dirichlet(np.full(5, 0.3), size=5)
    x = [0]
    for _ in range(20000):
        x.append(rng.choice(5, p=trans[x[-1]]))
    return np.array(x, dtype=np.int64)


def test_tables_are_smoothed_distributions(corpus):
    lu, lb = ngram_log_tables(corpus, V, 0.1)
    assert np.isfinite(lu).all() and np.isfinite(lb).all()
    assert np.exp(lu).sum() == pytest.approx(1.0) and np.allclose(np.exp(lb).sum(axis=1), 1.0)
    # the unseen token gets alpha / (n + alpha V), never 0
    assert np.exp(lu[5]) == pytest.approx(0.1 / (len(corpus) + 0.1 * V))
    counts = np.bincount(corpus[:-1] * V + corpus[1:], minlength=V * V).reshape(V, V)
    assert np.exp(lb[2, 3]) == pytest.approx((counts[2, 3] + 0.1) / (counts[2].sum() + 0.1 * V))
    with pytest.raises(ProbeError, match="probes.alpha"):
        ngram_log_tables(corpus, V, 0.0)
    with pytest.raises(ProbeError, match="vocabulary"):
        ngram_log_tables(corpus, 4, 0.1)


def test_bigram_model_has_zero_kl_to_bigram_and_positive_to_unigram(corpus):
    lu, lb = ngram_log_tables(corpus, V, 0.1)
    inputs = torch.as_tensor(corpus[:400].reshape(4, 100))
    bigram_logits = torch.as_tensor(lb)[inputs]                 # the model IS the bigram table
    kl_u, kl_b = kl_to_tables(bigram_logits, inputs, lu, lb)
    assert abs(kl_b) < 1e-10
    assert kl_u > 0.3                                            # strong bigram structure: far from unigram
    unigram_logits = torch.as_tensor(lu).expand(4, 100, V)       # the model IS the unigram table
    kl_u, kl_b = kl_to_tables(unigram_logits, inputs, lu, lb)
    assert abs(kl_u) < 1e-10 and kl_b > 0.3
    # direction: KL(model || table) = sum_v p_model (log p_model - log q); check one position by hand
    logits = torch.randn(1, 1, V, dtype=torch.float64)
    p = torch.softmax(logits[0, 0], -1).numpy()
    assert kl_to_tables(logits, inputs[:1, :1], lu, lb)[0] == pytest.approx(float((p * (np.log(p) - lu)).sum()))


def test_model_on_an_unseen_token_gives_a_finite_divergence(corpus):
    lu, lb = ngram_log_tables(corpus, V, 0.1)
    logits = torch.full((1, 3, V), -1e4, dtype=torch.float64)
    logits[..., 5] = 0.0                                         # all mass on the never-seen token
    kl_u, kl_b = kl_to_tables(logits, torch.zeros(1, 3, dtype=torch.long), lu, lb)
    assert math.isfinite(kl_u) and math.isfinite(kl_b)
    assert kl_u == pytest.approx(-lu[5]) and kl_b == pytest.approx(-lb[0, 5])


def _induction_attention(n, heads, length):
    """(1 layer, n, heads, 2L, 2L) attention: causal uniform rows, except the second repeat attends
    exactly to t - L + 1 in head 0."""
    T = 2 * length
    uniform = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]
    att = uniform.expand(1, n, heads, T, T).clone()
    for t in range(length, T):
        att[0, :, 0, t] = 0.0
        att[0, :, 0, t, t - length + 1] = 1.0
    return att


def test_induction_attention_index_arithmetic():
    length = 7
    att = _induction_attention(3, 2, length)
    scores = induction_attention_scores(att, length)
    assert scores.shape == (1, 2)
    assert scores[0, 0] == pytest.approx(1.0)                    # the induction head
    expected_uniform = np.mean([1.0 / (t + 1) for t in range(length, 2 * length)])
    assert scores[0, 1] == pytest.approx(expected_uniform)
    assert uniform_induction_attention(length) == pytest.approx(expected_uniform)
    # attending to the previous occurrence itself (t - L), not the token after it, scores as uniform's zero
    wrong = torch.zeros_like(att)
    for t in range(length, 2 * length):
        wrong[0, :, :, t, t - length] = 1.0
    assert induction_attention_scores(wrong, length).max() == 0.0
    # layers >= 1 only: the best head of a 2-layer stack is found in layer 1, a 1-layer model gives NaN
    two = torch.cat([_induction_attention(3, 2, length).flip(2), att])   # layer 0 has its head 1 perfect
    s2 = induction_attention_scores(two, length)
    assert best_induction_head(s2) == (pytest.approx(1.0), 1.0, 0.0)
    assert all(math.isnan(v) for v in best_induction_head(s2[:1]))


def test_loss_drop_of_a_perfect_copier_is_the_first_repeat_loss():
    length, n = 9, 4
    x = torch.as_tensor(repeated_sequences(n, length, np.arange(V + 10), seed=0))
    T = 2 * length
    logits = torch.zeros(n, T, V + 10, dtype=torch.float64)      # uniform ...
    for t in range(length, T - 1):                               # ... except: copy the token after t - L
        logits[torch.arange(n), t, x[:, t - length + 1]] = 50.0
    first, second, drop = induction_loss_drop(logits, x, length)
    assert first == pytest.approx(math.log(V + 10))
    assert second == pytest.approx(0.0, abs=1e-12)
    assert drop == pytest.approx(math.log(V + 10))
    # a model that ignores the repeat (uniform everywhere) drops by 0
    assert induction_loss_drop(torch.zeros_like(logits), x, length)[2] == pytest.approx(0.0, abs=1e-12)


def test_repeated_sequences_and_length():
    x = repeated_sequences(5, 8, np.array([2, 3, 5, 7, 11, 13, 17, 19, 23]), seed=4)
    assert x.shape == (5, 16) and (x[:, :8] == x[:, 8:]).all()
    assert all(len(set(row[:8])) == 8 for row in x)              # without replacement: each token once
    assert set(np.unique(x)) <= {2, 3, 5, 7, 11, 13, 17, 19, 23}
    assert (repeated_sequences(5, 8, np.arange(9), seed=4) == repeated_sequences(5, 8, np.arange(9), seed=4)).all()
    assert induction_length(0, 128, 63) == 63 and induction_length(0, 64, 63) == 32
    with pytest.raises(ProbeError, match="induction_length"):
        induction_length(40, 64, 63)


def test_model_attention_matches_the_fused_path_and_sums_to_one():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=V, seq_len=16, d_model=16, n_layers=2, n_heads=2)).eval()
    x = torch.randint(0, V, (3, 12))
    with torch.no_grad():
        logits, _ = model(x)
        logits2, _, hidden, att = model(x, return_hidden=True, return_attention=True)
    assert torch.allclose(logits, logits2, atol=1e-5)
    assert att.shape == (2, 3, 2, 12, 12) and len(hidden) == 4
    assert torch.allclose(att.sum(-1), torch.ones(2, 3, 2, 12))
    assert (att.triu(1) == 0).all()


def test_probe_run_writes_one_row_per_checkpoint(tmp_path, corpus):
    run = {"name": "gelu-d16L2-s0", "vocab_size": V, "d_model": 16, "n_layers": 2, "n_heads": 2,
           "activation": "gelu", "tokens_per_step": 100}
    cfg = {"seed": 0, "corpus": {"seq_len": 16},
           "probes": {"alpha": 0.1, "induction_sequences": 4, "probe_sequences": 3, "induction_length": 0}}
    train = tmp_path / "train.bin"
    corpus.astype("<u2").tofile(train)
    probe = tmp_path / "probe.npy"
    np.save(probe, corpus[:64].reshape(4, 16))
    ckpts = []
    for step in (0, 10):
        torch.manual_seed(step)
        model = GPT(GPTConfig.from_run(run, 16))
        path = tmp_path / f"step{step}.safetensors"
        save_state(path, model.state_dict())
        ckpts.append(str(path))
    out = tmp_path / "probes.csv"
    df = probe_run(run, cfg, ckpts, [0, 10], probe, train, out, log=lambda s: None)
    back = pd.read_csv(out)
    assert list(back.columns) == COLUMNS and len(back) == 2
    assert back["tokens"].tolist() == [0, 1000]
    assert np.isfinite(back[["kl_unigram", "kl_bigram", "induction_attention", "induction_loss_drop"]]).all().all()
    # a near-uniform initial model over 6 tokens (one never seen): divergences > 0; induction length 5 (tokens 0..4)
    assert (back["kl_unigram"] > 0).all() and (back["kl_bigram"] > back["kl_unigram"]).all()
    assert back["induction_layer"].eq(1).all() and back["induction_length"].eq(5).all()
    assert df["step"].tolist() == [0, 10]


def test_probes_figure_draws_every_run_and_rejects_an_old_table(tmp_path):
    from toposcale.report.plots.probes import plot_probes

    runs, tables = [], {}
    for i, (act, layers) in enumerate([("gelu", 1), ("gelu", 2), ("swiglu", 2)]):
        name = f"{act}-d16L{layers}-s0"
        runs.append({"name": name, "activation": act, "size": f"d16L{layers}", "seed": 0,
                     "n_nonembed": 3000 * layers})
        steps = np.array([0, 1, 4, 16, 64])
        tables[name] = pd.DataFrame({
            "run": name, "step": steps, "tokens": steps * 512, "kl_unigram": 9.0 / (1 + steps),
            "kl_bigram": 7.0 / (1 + steps) + 0.5,
            "induction_attention": np.nan if layers == 1 else 0.02 + 0.01 * np.log1p(steps),
            "induction_loss_drop": 0.01 * steps, "induction_uniform": 0.0214})
    out = plot_probes(tables, runs, tmp_path / "probes.png", dpi=50)
    assert (tmp_path / "probes.png").stat().st_size > 5_000
    assert out["runs"] == ["gelu-d16L1-s0", "gelu-d16L2-s0", "swiglu-d16L2-s0"]
    assert "Probes of 3 runs" in out["title"] and "2 runs with >= 2 layers" in out["title"]
    old = {k: v.drop(columns="kl_bigram") for k, v in tables.items()}
    with pytest.raises(ValueError, match="kl_bigram"):
        plot_probes(old, runs, tmp_path / "x.png")


class _HandModel(torch.nn.Module):
    """A 2-layer stand-in for GPT with hand-set outputs: ``copy`` puts logit 30 on the token after the
    previous occurrence of the current token and attends there (layer 1, head 0); ``bag`` puts logit 30 on
    every token seen so far and attends uniformly."""

    def __init__(self, kind, vocab):
        super().__init__()
        self.kind, self.vocab = kind, vocab
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx, targets=None, return_attention=False):
        n, T = idx.shape
        logits = torch.zeros(n, T, self.vocab)
        att = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]
        att = att.expand(2, n, 1, T, T).clone()
        for b in range(n):
            for t in range(T):
                if self.kind == "bag":
                    logits[b, t, idx[b, :t + 1]] = 30.0
                    continue
                prev = [j for j in range(t) if idx[b, j] == idx[b, t]]
                if prev:
                    logits[b, t, idx[b, prev[-1] + 1]] = 30.0
                    att[1, b, 0, t] = 0.0
                    att[1, b, 0, t, prev[-1] + 1] = 1.0
        return (logits, None, att) if return_attention else (logits, None)


def test_measure_checkpoint_separates_induction_from_seen_token_copying(corpus):
    from toposcale.analysis.probes import measure_checkpoint, shuffled_controls

    lu, lb = ngram_log_tables(corpus, V, 0.1)
    vocab, length = 40, 12
    x = repeated_sequences(6, length, np.arange(vocab), seed=1)
    ctrl = shuffled_controls(x, seed=1)
    assert (ctrl[:, :length] == x[:, :length]).all() and (np.sort(ctrl[:, length:]) == np.sort(x[:, :length])).all()
    assert (ctrl[:, length:] != x[:, length:]).any()
    probe = np.zeros((1, 4), dtype=np.int64)
    flat = np.zeros((vocab, vocab))                              # tables over the hand models' vocabulary
    copy = measure_checkpoint(_HandModel("copy", vocab), probe, flat[0], flat, x, ctrl)
    assert copy["induction_attention"] == pytest.approx(1.0) and copy["induction_layer"] == 1
    assert copy["repeat_loss_second"] == pytest.approx(0.0, abs=1e-9)
    assert copy["induction_loss_drop"] == pytest.approx(math.log(vocab), rel=1e-6)
    assert copy["induction_order_gain"] > 1.0                    # the shuffled control defeats the copier
    bag = measure_checkpoint(_HandModel("bag", vocab), probe, flat[0], flat, x, ctrl)
    assert bag["induction_loss_drop"] > 5.0                      # the seen tokens get all the mass ...
    assert bag["induction_order_gain"] == pytest.approx(0.0, abs=1e-9)   # ... whatever their order
    assert bag["induction_attention"] == pytest.approx(uniform_induction_attention(length))
