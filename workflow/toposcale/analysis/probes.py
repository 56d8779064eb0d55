"""Direct probes of what a checkpoint has learned: distance to the corpus n-gram tables and induction.

Per checkpoint of a trained run (one row of ``analysis/probes/{run}.csv``):

* ``kl_unigram``, ``kl_bigram`` (nats): the mean over the probe positions of
  ``KL(p_model( . | x_<=t) || q( . ))``, i.e. ``sum_v p_model(v) [log p_model(v) - log q(v)]`` with
  ``p_model`` the model's next-token distribution at position ``t`` of a probe sequence (softmax of the
  logits) and ``q`` the corpus unigram distribution (``kl_unigram``) or the corpus bigram conditional
  ``q(v | x_t)`` given the current token ``x_t`` (``kl_bigram``). The mean runs over every position
  ``t = 0 .. T-1`` of ``probes.probe_sequences`` evenly spaced rows of the probe set (``probe.npy``,
  validation split; all rows when it has no more), equal weights. The direction is
  model-first: the divergence *of the model from* the table, which stays finite for any model because
  ``q > 0`` everywhere (below). A model in its unigram stage has ``kl_unigram`` near 0; in its bigram stage
  ``kl_bigram`` near 0 and ``kl_unigram`` near the mutual information of consecutive tokens.
* Corpus tables: counts of tokens and of consecutive token pairs of the *training* split (``train.bin``;
  the blocks of the split are concatenated, so the few pairs that straddle a block join count too), with
  add-alpha smoothing ``q(v) = (c(v) + alpha) / (n + alpha V)`` and
  ``q(v | u) = (c(u, v) + alpha) / (c(u, .) + alpha V)`` (``V`` the vocabulary size, ``alpha`` =
  ``probes.alpha``): a token or pair the training split never shows has a small positive probability, so no
  target gives an infinite divergence.
* Induction (Olsson et al. 2022, "In-context learning and induction heads"): ``probes.induction_sequences``
  random sequences ``s`` of length ``L`` each, fed twice in a row (``x = s s``, length ``2L``). Tokens are
  drawn uniformly from the tokens that occur in the training split (an untrained embedding would test
  nothing), without replacement when ``L`` is at most their number, so each token occurs once per repeat;
  the generator is seeded with the config seed and is the same for every checkpoint and run.

  - ``induction_attention``: for query position ``t`` in the second repeat (``t = L .. 2L-1``) the previous
    occurrence of the current token ``x_t`` is ``t - L``; the induction target is the position after it,
    ``t - L + 1``. The score of a head is the attention weight from ``t`` to ``t - L + 1``, averaged over
    ``t = L .. 2L-1`` and the sequences. ``induction_attention`` is the maximum of the scores over the heads
    of layers 1 .. n_layers-1 (0-based: every layer but the first, since an induction head needs a
    previous-token head in an earlier layer); NaN for a 1-layer model. ``induction_layer`` and
    ``induction_head`` (0-based) name the maximising head, ``induction_length`` is ``L``. Uniform causal
    attention scores ``induction_uniform`` = ``mean_{t=L..2L-1} 1/(t+1)``
    (:func:`uniform_induction_attention`, about ``ln(2) / L``); a perfect induction head scores 1.
  - ``induction_loss_drop`` (nats): mean next-token cross-entropy on the first repeat (targets at
    positions ``1 .. L-1``) minus that on the second repeat (targets at ``L+1 .. 2L-1``, the ones a copy of
    the first repeat predicts); ``repeat_loss_first`` and ``repeat_loss_second`` are the two means. Positive
    when the model uses the repeat; a perfect copier drops by the whole first-repeat loss. Without
    replacement, every second-repeat target has already occurred in the context and no first-repeat
    target has, so a model that merely up-weights tokens seen in its context (a 1-layer model can) also
    shows a drop.
  - ``induction_order_gain`` (nats): the part of the drop that needs the order of the first repeat. Control
    sequences keep each first repeat ``s`` and replace the second by a random permutation of ``s`` (same
    tokens, new order; seeded); the gain is the mean loss of the control at targets ``L+1 .. 2L-1`` minus
    that of the true repeat at the same positions. Seeing the tokens helps both equally; only copying the
    successor of the previous occurrence (induction) helps the repeat alone.
* ``probe_loss`` (nats): mean next-token cross-entropy on the same probe rows (targets at positions
  1 .. T-1), for comparison with the divergences.

Cost: three forward passes per checkpoint (probe rows, repeats, controls), float32 on the CPU, one thread:
measured 7.2 s of CPU for the 26 checkpoints of the default study's largest run (swiglu-d64L2), 0.4 s for a
smoke run, plus about 2 s to import torch.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from toposcale.io import load_model_weights, write_csv_atomic
from toposcale.train.corpus import load_tokens
from toposcale.train.model import GPT, GPTConfig

#: Columns of ``analysis/probes/{run}.csv``, in order.
COLUMNS = ["run", "step", "tokens", "kl_unigram", "kl_bigram", "induction_attention", "induction_loss_drop",
           "induction_layer", "induction_head", "induction_length", "induction_uniform", "repeat_loss_first",
           "repeat_loss_second", "induction_order_gain", "probe_loss"]


class ProbeError(ValueError):
    """A probe cannot be computed with the given inputs or settings."""


def ngram_log_tables(tokens: np.ndarray, vocab_size: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Add-alpha smoothed log unigram ``log q(v)`` (V,) and log bigram conditional ``log q(v | u)`` (V, V).

    Row ``u`` of the bigram table is the distribution of the token after ``u`` (see module docstring).

    Examples
    --------
    >>> lu, lb = ngram_log_tables(np.array([0, 1, 0, 1]), 3, 1.0)
    >>> np.round(np.exp(lu), 3).tolist(), np.round(np.exp(lb[0]), 3).tolist()
    ([0.429, 0.429, 0.143], [0.2, 0.6, 0.2])
    """
    if alpha <= 0:
        raise ProbeError(f"probes.alpha = {alpha}: must be > 0, or an unseen token has probability 0 and an "
                         f"infinite divergence")
    t = np.asarray(tokens, dtype=np.int64)
    if t.size and (t.min() < 0 or t.max() >= vocab_size):
        raise ProbeError(f"token ids span [{t.min()}, {t.max()}], outside the vocabulary of {vocab_size}; the "
                         f"corpus and the run's tokenizer disagree")
    uni = np.bincount(t, minlength=vocab_size).astype(np.float64) + alpha
    pairs = np.bincount(t[:-1] * vocab_size + t[1:], minlength=vocab_size * vocab_size)
    big = pairs.reshape(vocab_size, vocab_size).astype(np.float64) + alpha
    return np.log(uni / uni.sum()), np.log(big / big.sum(axis=1, keepdims=True))


def kl_to_tables(logits: torch.Tensor, inputs: torch.Tensor, log_unigram: np.ndarray,
                 log_bigram: np.ndarray) -> tuple[float, float]:
    """Mean ``KL(p_model || q_unigram)`` and ``KL(p_model || q_bigram( . | x_t))`` in nats over all positions.

    ``logits`` (N, T, V) are the model's outputs at the ``inputs`` (N, T); position ``t`` predicts token
    ``t + 1`` and its bigram reference is the row of ``inputs[:, t]``. Computed in float64.
    """
    logp = torch.log_softmax(logits.double(), dim=-1)
    p = logp.exp()
    lu = torch.as_tensor(log_unigram, dtype=torch.float64)
    lb = torch.as_tensor(log_bigram, dtype=torch.float64)
    kl_uni = (p * (logp - lu)).sum(-1)
    kl_bi = (p * (logp - lb[inputs.long()])).sum(-1)
    return float(kl_uni.mean()), float(kl_bi.mean())


def induction_length(config_length: int, seq_len: int, n_support: int) -> int:
    """Length ``L`` of one repeat: ``probes.induction_length``, or (0) ``min(seq_len // 2, n_support)``.

    Examples
    --------
    >>> induction_length(0, 128, 63), induction_length(0, 64, 63), induction_length(10, 64, 63)
    (63, 32, 10)
    """
    length = min(seq_len // 2, n_support) if config_length == 0 else int(config_length)
    if length < 2 or 2 * length > seq_len:
        raise ProbeError(f"probes.induction_length = {config_length} gives repeats of {length} tokens; two "
                         f"repeats must fit the context of {seq_len} tokens and each needs >= 2 tokens")
    return length


def repeated_sequences(n: int, length: int, support: np.ndarray, seed: int) -> np.ndarray:
    """``n`` sequences ``s s`` (int64, shape (n, 2 * length)), ``s`` drawn uniformly from ``support``.

    Without replacement when ``length <= len(support)`` (every token once per repeat), else with.
    """
    support = np.asarray(support, dtype=np.int64)
    rng = np.random.default_rng([seed, 21])
    replace = length > len(support)
    first = np.stack([rng.choice(support, size=length, replace=replace) for _ in range(n)])
    return np.concatenate([first, first], axis=1)


def induction_attention_scores(attention, length: int) -> np.ndarray:
    """Mean attention from each second-repeat position ``t`` to ``t - length + 1``, per (layer, head).

    ``attention`` is (n_layers, batch, heads, 2L, 2L), entry ``[l, b, h, query, key]`` (as
    :meth:`toposcale.train.model.GPT.forward` returns it). Returns (n_layers, heads): the mean over the
    batch and the ``L`` query positions ``t = L .. 2L-1``.
    """
    a = torch.as_tensor(attention)
    t = torch.arange(length, 2 * length)
    picked = a[..., t, t - length + 1]                       # (layers, batch, heads, L)
    return picked.double().mean(dim=(1, 3)).numpy()


def shuffled_controls(tokens: np.ndarray, seed: int) -> np.ndarray:
    """Control sequences for :func:`induction_loss_drop`: first halves kept, second halves permuted.

    ``tokens`` (n, 2L) from :func:`repeated_sequences`; each row's second half becomes a random
    permutation of its first half (generator seeded with ``(seed, 22)``).
    """
    tokens = np.asarray(tokens)
    length = tokens.shape[1] // 2
    rng = np.random.default_rng([seed, 22])
    second = np.stack([rng.permutation(row[:length]) for row in tokens])
    return np.concatenate([tokens[:, :length], second], axis=1)


def induction_loss_drop(logits: torch.Tensor, tokens: torch.Tensor, length: int) -> tuple[float, float, float]:
    """(first-repeat loss, second-repeat loss, first minus second) in nats; see module docstring.

    ``logits`` (N, 2L, V) at ``tokens`` (N, 2L); the loss of target position ``j`` uses the logits at
    ``j - 1``. First repeat: targets ``1 .. L-1``; second: ``L+1 .. 2L-1``.
    """
    nll = F.cross_entropy(logits[:, :-1].double().transpose(1, 2), tokens[:, 1:].long(), reduction="none")
    # nll[:, j - 1] is the loss of target position j
    first = float(nll[:, 0:length - 1].mean())
    second = float(nll[:, length:2 * length - 1].mean())
    return first, second, first - second


def uniform_induction_attention(length: int) -> float:
    """The induction attention score of uniform causal attention: ``mean_{t=L..2L-1} 1 / (t + 1)``.

    Examples
    --------
    >>> round(uniform_induction_attention(32), 4)
    0.0214
    """
    return float(np.mean(1.0 / np.arange(length + 1, 2 * length + 1)))


def best_induction_head(scores: np.ndarray) -> tuple[float, float, float]:
    """(max score, layer, head) over layers >= 1 of a (n_layers, heads) score array; NaNs for one layer."""
    if scores.shape[0] < 2:
        return math.nan, math.nan, math.nan
    later = scores[1:]
    layer, head = np.unravel_index(int(np.argmax(later)), later.shape)
    return float(later[layer, head]), float(layer + 1), float(head)


@torch.no_grad()
def measure_checkpoint(model: GPT, probe: np.ndarray, log_unigram: np.ndarray, log_bigram: np.ndarray,
                       induction_tokens: np.ndarray, control_tokens: np.ndarray, batch_size: int = 64) -> dict:
    """Every probe of one model (the columns of :data:`COLUMNS` after run, step, tokens).

    ``induction_tokens`` from :func:`repeated_sequences`, ``control_tokens`` from :func:`shuffled_controls`.
    """
    model.eval()
    device = next(model.parameters()).device
    kl_u = kl_b = loss = 0.0
    n = len(probe)
    for i in range(0, n, batch_size):
        x = torch.as_tensor(probe[i:i + batch_size], dtype=torch.long, device=device)
        logits = model(x)[0].float().cpu()
        u, b = kl_to_tables(logits, x.cpu(), log_unigram, log_bigram)
        ce = float(F.cross_entropy(logits[:, :-1].double().transpose(1, 2), x[:, 1:].cpu()))
        w = len(x) / n
        kl_u, kl_b, loss = kl_u + w * u, kl_b + w * b, loss + w * ce
    length = induction_tokens.shape[1] // 2
    x = torch.as_tensor(induction_tokens, dtype=torch.long, device=device)
    logits, _, attention = model(x, return_attention=True)
    scores = induction_attention_scores(attention.float().cpu(), length)
    first, second, drop = induction_loss_drop(logits.float().cpu(), x.cpu(), length)
    best, layer, head = best_induction_head(scores)
    xc = torch.as_tensor(control_tokens, dtype=torch.long, device=device)
    control_second = induction_loss_drop(model(xc)[0].float().cpu(), xc.cpu(), length)[1]
    return {"kl_unigram": kl_u, "kl_bigram": kl_b, "induction_attention": best, "induction_loss_drop": drop,
            "induction_layer": layer, "induction_head": head, "induction_length": length,
            "induction_uniform": uniform_induction_attention(length), "repeat_loss_first": first,
            "repeat_loss_second": second, "induction_order_gain": control_second - second, "probe_loss": loss}


def probe_rows(probe: np.ndarray, n: int) -> np.ndarray:
    """``n`` evenly spaced rows of the probe set (first and last included), or all of it when it has no more.

    Examples
    --------
    >>> probe_rows(np.arange(10)[:, None], 4).ravel().tolist()
    [0, 3, 6, 9]
    """
    if len(probe) <= n:
        return probe
    return probe[np.linspace(0, len(probe) - 1, n).round().astype(int)]


def probe_run(run: dict, config: dict, checkpoints: list, steps: list, probe_path, train_path, out,
              threads: int = 1, log=print) -> pd.DataFrame:
    """Measure every checkpoint of ``run`` (``checkpoints`` and ``steps`` aligned); write ``out`` atomically.

    ``config`` needs ``seed``, ``corpus.seq_len`` and the ``probes`` section. The model runs on the CPU in
    float32 (the probes are two small forward passes; no device transfer is worth it).
    """
    torch.set_num_threads(max(1, threads))
    pcfg = config["probes"]
    seq_len = config["corpus"]["seq_len"]
    vocab = run["vocab_size"]
    train = load_tokens(train_path)
    log_uni, log_bi = ngram_log_tables(train, vocab, pcfg["alpha"])
    support = np.flatnonzero(np.bincount(np.asarray(train, dtype=np.int64), minlength=vocab))
    length = induction_length(pcfg["induction_length"], seq_len, len(support))
    ind = repeated_sequences(pcfg["induction_sequences"], length, support, config["seed"])
    control = shuffled_controls(ind, config["seed"])
    probe = probe_rows(np.load(probe_path), pcfg["probe_sequences"])
    model = GPT(GPTConfig.from_run(run, seq_len))
    rows = []
    for ckpt, step in zip(checkpoints, steps):
        load_model_weights(model, ckpt)
        row = {"run": run["name"], "step": int(step), "tokens": int(step) * int(run["tokens_per_step"])}
        row.update(measure_checkpoint(model, probe, log_uni, log_bi, ind, control))
        for key in ("kl_unigram", "kl_bigram", "probe_loss"):
            if not math.isfinite(row[key]):
                raise ProbeError(f"run {run['name']}, checkpoint {ckpt}: {key} = {row[key]}; the checkpoint "
                                 f"has diverged (non-finite logits). Lower training.lr and retrain this run")
        rows.append(row)
        log(f"[{run['name']}] step {step}: KL uni {row['kl_unigram']:.3f} bi {row['kl_bigram']:.3f} "
            f"induction attn {row['induction_attention']:.3f} drop {row['induction_loss_drop']:.3f}")
    df = pd.DataFrame(rows, columns=COLUMNS)
    write_csv_atomic(df, out)
    return df
