"""Parameter counts of the toposcale GPT and a builder that hits a target size.

Pure Python (no torch) so the Snakefile can lay out the whole DAG before any model exists.
The counts below are checked against the built ``torch`` model by ``tests/test_sizing.py``.

Definitions (Kaplan et al. 2020 convention):

* **non-embedding parameters** N: every parameter except the token embedding (vocab x d) and the
  learned position embedding (seq_len x d). With bias-free linear maps and LayerNorms with weight
  and bias, each block has ``2*(2d)`` LayerNorm parameters, ``4 d^2`` attention parameters
  (q, k, v, out) and an MLP of ``8 d^2`` (GELU: d -> 4d -> d) or ``3 d h`` with ``h = round(8d/3)``
  (SwiGLU: gate, up, down), plus the final LayerNorm ``2d``.
* **total parameters**: N + vocab*d + seq_len*d (the LM head is tied to the token embedding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def swiglu_hidden(d_model: int) -> int:
    """SwiGLU hidden width, 8/3 * d_model rounded, so its 3 matrices match GELU's 2 of width 4d."""
    return int(round(8 * d_model / 3))


def mlp_hidden(d_model: int, activation: str) -> int:
    """MLP hidden width: ``4 * d_model`` for GELU, :func:`swiglu_hidden` otherwise."""
    return 4 * d_model if activation == "gelu" else swiglu_hidden(d_model)


def non_embedding_params(d_model: int, n_layers: int, activation: str) -> int:
    """Exact non-embedding parameter count of :class:`toposcale.train.model.GPT`."""
    d = d_model
    if activation == "gelu":
        mlp = 2 * d * 4 * d
    elif activation == "swiglu":
        mlp = 3 * d * swiglu_hidden(d)
    else:
        raise ValueError(f"unknown activation {activation!r}; use 'gelu' or 'swiglu'")
    block = 4 * d + 4 * d * d + mlp
    return n_layers * block + 2 * d


def total_params(d_model: int, n_layers: int, activation: str, vocab_size: int, seq_len: int) -> int:
    """All parameters: :func:`non_embedding_params` + ``(vocab_size + seq_len) * d_model`` (tied LM head)."""
    return non_embedding_params(d_model, n_layers, activation) + (vocab_size + seq_len) * d_model


@dataclass(frozen=True)
class Shape:
    """A model shape: width, depth, heads and its non-embedding parameter count; ``label`` is ``d{d}L{L}``."""

    d_model: int
    n_layers: int
    n_heads: int
    n_nonembed: int

    @property
    def label(self) -> str:
        return f"d{self.d_model}L{self.n_layers}"


def build_shape(target: int, activation: str, head_dim: int = 16, max_layers: int = 12,
                tolerance: float = 0.10) -> Shape:
    """Choose (d_model, n_layers, n_heads) whose non-embedding count is within ``tolerance`` of ``target``.

    Candidates are d_model in multiples of ``head_dim`` and 1..max_layers layers. Among those within
    tolerance, the choice minimises ``|log(N/target)| + 0.25*|log((d/L)/24)|``: it stays close to the
    target and prefers a width/depth ratio near 24 (2-4 layers at the default sizes), so models of
    neighbouring sizes have similar shapes.

    Examples
    --------
    >>> build_shape(25000, "gelu").label, build_shape(444000, "gelu").label
    ('d32L2', 'd96L4')
    """
    best = None
    for n_layers in range(1, max_layers + 1):
        for d in range(head_dim, 4097, head_dim):
            n = non_embedding_params(d, n_layers, activation)
            if n > target * (1 + tolerance):
                break
            err = abs(math.log(n / target))
            if err > math.log(1 + tolerance):
                continue
            score = err + 0.25 * abs(math.log((d / n_layers) / 24))
            if best is None or score < best[0]:
                best = (score, Shape(d, n_layers, d // head_dim, n))
    if best is None:
        raise ValueError(f"no model shape within {tolerance:.0%} of {target} non-embedding parameters "
                         f"(activation={activation}, head_dim={head_dim}, max_layers={max_layers}); "
                         f"change model.target_params or model.head_dim")
    return best[1]
