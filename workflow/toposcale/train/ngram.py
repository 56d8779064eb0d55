"""Corpus n-gram loss levels: the cross-entropy an order-k model of the training split reaches on the
validation split, k = 1..K (the plateaus a small language model passes through: unigram, bigram, ...).

Estimator: interpolated Kneser-Ney (Chen and Goodman 1999, section 3; one absolute discount per order),
fitted on the training tokens and scored on the validation tokens; numbers are nats per token.

For the order-k model, with ``h`` the k-1 tokens before ``w`` and ``h'`` its last k-2 tokens::

    P_k(w | h) = max(c(h w) - D_k, 0) / c(h .) + D_k N1+(h .) / c(h .) * Q_{k-1}(w | h')

where ``c`` are raw training counts, ``c(h .)`` = sum over w of c(h w) and ``N1+(h .)`` the number of
distinct w with c(h w) > 0. The lower orders ``Q_n`` (n < k) have the same form with the raw counts
replaced by continuation counts ``N1+(. g w)`` (the number of distinct tokens seen before the n-gram
``g w``), and ``Q_0(w) = 1 / V`` (uniform over the vocabulary, so unseen tokens keep a positive
probability). When a context was never seen (zero total), the level passes its lower order through
unchanged. The discount of each level is ``D = n1 / (n1 + 2 n2)`` (Ney, Essen and Kneser 1994), with
``n1``, ``n2`` the numbers of n-grams whose count at that level (raw at the top, continuation below) is
exactly 1 and 2 (0.5 when there are none, as for KJV's unigrams, where every byte is seen often). Every order is scored on the same validation positions: those with at least K-1
tokens before them (contexts run across the joined blocks of the split, as training windows do).

Why held out and smoothed: the plug-in conditional entropy ``H(k-gram) - H((k-1)-gram)`` of the
training counts is biased low, increasingly with k, because the empirical distribution of a context seen
a few times puts all its mass on the continuations that happened to occur (a context seen once has
plug-in conditional entropy 0). With a 256-byte vocabulary and ~3.7 M training bytes, most 5-gram
contexts are rare, so the plug-in 5-gram value sits well below what any model can reach on new text.
The held-out cross-entropy of a smoothed model is an achievable loss (an upper bound on the true
conditional entropy for that order, up to sampling noise of the validation split), which is what a
trained model's validation loss is compared with. :func:`plugin_entropies` gives the biased plug-in
values beside it for reference.

Hand-written (numpy only) because no installed library fits n-gram models: n-grams are int64 keys
(base-V digits), counted with ``np.unique`` and looked up with ``np.searchsorted``; a 3.7 M-token split
takes seconds for K = 5.
"""

from __future__ import annotations

import numpy as np

ORDER_NAMES = {1: "unigram", 2: "bigram", 3: "trigram"}
ESTIMATOR = ("interpolated Kneser-Ney (one absolute discount per order, D = n1/(n1+2 n2); continuation counts "
             "below the top order; uniform 1/V base), fitted on the training split, cross-entropy on the "
             "validation split")


def order_name(k: int) -> str:
    """``'unigram'``, ``'bigram'``, ``'trigram'``, then ``'4-gram'``, ``'5-gram'``, ..."""
    return ORDER_NAMES.get(k, f"{k}-gram")


def ngram_keys(tokens: np.ndarray, n: int, vocab: int) -> np.ndarray:
    """int64 key ``sum_j tokens[i+j] * vocab**(n-1-j)`` of every n-gram starting at i (length len-n+1).

    The key of an n-gram divided by ``vocab`` is the key of its first n-1 tokens (its context); the key
    modulo ``vocab**(n-1)`` is the key of its last n-1 tokens.
    """
    t = np.asarray(tokens, dtype=np.int64)
    m = len(t) - n + 1
    if m <= 0:
        return np.zeros(0, dtype=np.int64)
    key = np.zeros(m, dtype=np.int64)
    for j in range(n):
        key = key * vocab + t[j:j + m]
    return key


def _check_vocab(tokens, vocab: int, max_order: int, what: str) -> None:
    if vocab ** max_order >= 2 ** 63:
        raise ValueError(f"vocab {vocab} ** max_order {max_order} does not fit an int64 key; lower stages.max_order")
    if len(tokens) and (int(np.min(tokens)) < 0 or int(np.max(tokens)) >= vocab):
        raise ValueError(f"{what} holds token ids outside [0, {vocab}); is the vocabulary size right?")


class _Level:
    """One interpolation level: sorted n-gram keys with their counts, and per-context totals and types."""

    def __init__(self, keys: np.ndarray, counts: np.ndarray, vocab: int):
        self.keys, self.counts = keys, counts.astype(np.float64)
        ctx = keys // vocab
        self.ctx, start = np.unique(ctx, return_index=True)  # keys sorted, so contexts are contiguous
        self.ctx_total = np.add.reduceat(self.counts, start) if len(start) else np.zeros(0)
        self.ctx_types = np.diff(np.append(start, len(keys))).astype(np.float64)
        n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
        self.discount = float(n1 / (n1 + 2 * n2)) if n1 + 2 * n2 > 0 else 0.5

    @staticmethod
    def _lookup(sorted_keys, values, query):
        idx = np.clip(np.searchsorted(sorted_keys, query), 0, max(len(sorted_keys) - 1, 0))
        if len(sorted_keys) == 0:
            return np.zeros(len(query))
        hit = sorted_keys[idx] == query
        return np.where(hit, values[idx], 0.0)

    def prob(self, query: np.ndarray, lower: np.ndarray, vocab: int) -> np.ndarray:
        """Interpolated probability of the n-grams ``query`` given the lower level's probabilities."""
        c = self._lookup(self.keys, self.counts, query)
        total = self._lookup(self.ctx, self.ctx_total, query // vocab)
        types = self._lookup(self.ctx, self.ctx_types, query // vocab)
        seen = total > 0
        safe = np.where(seen, total, 1.0)
        p = np.maximum(c - self.discount, 0.0) / safe + self.discount * types / safe * lower
        return np.where(seen, p, lower)


def _unique_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u, c = np.unique(keys, return_counts=True)
    return u, c


def _raw_counts(tokens: np.ndarray, vocab: int, max_order: int) -> dict:
    """Order n -> (sorted distinct n-gram keys, their counts), n = 1..max_order."""
    return {n: _unique_counts(ngram_keys(tokens, n, vocab)) for n in range(1, max_order + 1)}


def kneser_ney_levels(train: np.ndarray, val: np.ndarray, vocab: int, max_order: int = 5,
                      _raw: dict | None = None) -> list[dict]:
    """Held-out cross-entropy (nats per token) of interpolated Kneser-Ney models of orders 1..max_order.

    Parameters
    ----------
    train, val : array of int
        Token ids of the training and validation splits (values in ``[0, vocab)``).
    vocab : int
        Vocabulary size V (the uniform base distribution is 1/V).
    max_order : int
        Highest order K; every order is scored on the validation positions ``K-1 .. len(val)-1``.

    Returns
    -------
    list of dict
        One per order k: ``order``, ``name``, ``nats`` (mean of ``-log P_k(w | h)`` over the scored
        positions) and ``discount`` (D of the top level of that model).
    """
    train = np.asarray(train, dtype=np.int64)
    val = np.asarray(val, dtype=np.int64)
    _check_vocab(train, vocab, max_order, "the training split")
    _check_vocab(val, vocab, max_order, "the validation split")
    if len(val) < max_order or len(train) < max_order + 1:
        raise ValueError(f"splits too short for order {max_order}: {len(train)} train, {len(val)} val tokens")
    n_scored = len(val) - (max_order - 1)
    # raw counts per order, and continuation counts N1+(. g) of every (n)-gram g from the (n+1)-grams
    raw = _raw if _raw is not None else _raw_counts(train, vocab, max_order)
    cont = {}
    for n in range(1, max_order):
        up_keys = raw[n + 1][0]  # distinct (n+1)-grams; their suffixes are the n-grams, each once per left token
        cont[n] = _unique_counts(up_keys % (vocab ** n))
    # query keys: the n-gram ending at each scored position
    q = {n: ngram_keys(val[max_order - n:], n, vocab) for n in range(1, max_order + 1)}
    for n in q:
        assert len(q[n]) == n_scored
    uniform = np.full(n_scored, 1.0 / vocab)
    out = []
    lower_cont = uniform  # Q_0
    for k in range(1, max_order + 1):
        top = _Level(*raw[k], vocab) if k > 1 else _Level(raw[1][0], raw[1][1], vocab)
        p = top.prob(q[k], lower_cont, vocab)
        out.append({"order": k, "name": order_name(k), "nats": float(-np.mean(np.log(p))),
                    "discount": top.discount})
        if k < max_order:
            level = _Level(*cont[k], vocab)
            lower_cont = level.prob(q[k], lower_cont, vocab)
    return out


def plugin_entropies(tokens: np.ndarray, vocab: int, max_order: int = 5, _raw: dict | None = None) -> list[float]:
    """Plug-in conditional entropies ``H(k-gram) - H((k-1)-gram)`` (nats) of one split, k = 1..max_order.

    Biased low (see the module docstring): reported beside the held-out levels, never used as levels.
    """
    tokens = np.asarray(tokens, dtype=np.int64)
    _check_vocab(tokens, vocab, max_order, "the split")
    raw = _raw if _raw is not None else _raw_counts(tokens, vocab, max_order)
    joint = [0.0]
    for n in range(1, max_order + 1):
        c = raw[n][1]
        p = c / c.sum()
        joint.append(float(-np.sum(p * np.log(p))))
    return [joint[k] - joint[k - 1] for k in range(1, max_order + 1)]


def ngram_levels(train: np.ndarray, val: np.ndarray, vocab: int, max_order: int = 5, corpus: str = "") -> dict:
    """The ``data/{corpus}/ngram_levels.json`` document.

    Keys: ``corpus``, ``estimator`` (:data:`ESTIMATOR`), ``units`` ('nats per token'), ``vocab_size``,
    ``max_order``, ``n_train_tokens``, ``n_val_tokens``, ``n_scored_tokens`` and ``levels``: one dict per
    order k = 1..max_order with ``order``, ``name``, ``nats`` (held-out Kneser-Ney cross-entropy, the
    level), ``discount`` and ``plugin_train_nats`` (the biased plug-in conditional entropy of the training
    split, for reference).
    """
    train = np.asarray(train, dtype=np.int64)
    _check_vocab(train, vocab, max_order, "the training split")
    raw = _raw_counts(train, vocab, max_order)
    levels = kneser_ney_levels(train, val, vocab, max_order, _raw=raw)
    plugin = plugin_entropies(train, vocab, max_order, _raw=raw)
    for row, h in zip(levels, plugin):
        row["plugin_train_nats"] = h
    return {"corpus": corpus, "estimator": ESTIMATOR, "units": "nats per token", "vocab_size": int(vocab),
            "max_order": int(max_order), "n_train_tokens": int(len(train)), "n_val_tokens": int(len(val)),
            "n_scored_tokens": int(len(val) - (max_order - 1)), "levels": levels}


def load_levels(path) -> list[dict]:
    """The ``levels`` list of an ``ngram_levels.json`` file, checked to be orders 1..K with finite nats."""
    import json
    import math
    from pathlib import Path

    doc = json.loads(Path(path).read_text())
    levels = doc.get("levels") if isinstance(doc, dict) else None
    if not levels or [lv.get("order") for lv in levels] != list(range(1, len(levels) + 1)) \
            or not all(math.isfinite(float(lv.get("nats", float("nan")))) for lv in levels):
        raise ValueError(f"{path}: expected 'levels' with orders 1..K and finite 'nats'; rerun rule data_ngram_levels")
    return levels
