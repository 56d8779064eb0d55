"""Token-level perplexity of a decoder on the probe texts, with bootstrap intervals over texts."""

from __future__ import annotations

import math

import numpy as np

from toposcale.stats import percentile_ci

def perplexity(nll_sum, n_predicted, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Token-level perplexity ``exp(sum NLL / sum predicted tokens)`` with a bootstrap interval over texts.

    Every non-padding token after the first of each text is predicted from the tokens before it (no
    beginning-of-sequence token is added, so a text's first token is never scored).

    Returns
    -------
    dict
        ``perplexity``, ``perplexity_lo``, ``perplexity_hi``, ``nll_per_token`` (nats),
        ``n_predicted_tokens``. NaN values when nothing was predicted (encoders).
    """
    nll_sum = np.asarray(nll_sum, dtype=np.float64)
    n_predicted = np.asarray(n_predicted, dtype=np.float64)
    total = n_predicted.sum()
    if total <= 0 or not np.isfinite(nll_sum).all():
        nan = float("nan")
        return {"perplexity": nan, "perplexity_lo": nan, "perplexity_hi": nan, "nll_per_token": nan,
                "n_predicted_tokens": int(total)}
    mean = nll_sum.sum() / total
    lo, hi = percentile_ci(nll_per_token_replicates(nll_sum, n_predicted, n_boot, seed), level)
    return {"perplexity": float(math.exp(mean)), "perplexity_lo": float(math.exp(lo)),
            "perplexity_hi": float(math.exp(hi)), "nll_per_token": float(mean), "n_predicted_tokens": int(total)}


def nll_per_token_replicates(nll_sum, n_predicted, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Bootstrap replicates over texts of the NLL per predicted token.

    Replicate ``b`` draws ``len(nll_sum)`` text indices ``i`` with replacement
    (``numpy.random.default_rng(seed).integers``) and is ``sum_i nll_sum[i] / max(sum_i n_predicted[i], 1)``.

    Returns
    -------
    numpy.ndarray, shape (n_boot,)
    """
    nll_sum = np.asarray(nll_sum, dtype=np.float64)
    n_predicted = np.asarray(n_predicted, dtype=np.float64)
    idx = np.random.default_rng(seed).integers(0, len(nll_sum), size=(n_boot, len(nll_sum)))
    return nll_sum[idx].sum(axis=1) / np.maximum(n_predicted[idx].sum(axis=1), 1)


def perplexity_replicates(nll_sum, n_predicted, n_boot: int = 1000, seed: int = 0):
    """Perplexity ``exp(sum NLL / sum predicted tokens)`` and its bootstrap replicates over texts.

    Returns
    -------
    (float, numpy.ndarray or None)
        The perplexity and ``exp`` of :func:`nll_per_token_replicates`; ``(nan, None)`` when nothing
        was predicted.
    """
    nll = np.asarray(nll_sum, dtype=np.float64)
    cnt = np.asarray(n_predicted, dtype=np.float64)
    if cnt.sum() <= 0:
        return float("nan"), None
    boot = np.exp(nll_per_token_replicates(nll, cnt, n_boot, seed))
    return float(math.exp(nll.sum() / cnt.sum())), boot
