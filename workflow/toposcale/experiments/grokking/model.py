"""The grokking model: a one-layer, LayerNorm-free transformer that reads ``a b =`` and predicts ``(a + b) mod p``.

One transformer layer without LayerNorm: learned token (``p + 1`` rows) and position (3 rows)
embeddings of width ``d_model``, multi-head attention (``n_heads``), a ReLU MLP of width ``d_mlp``,
both added to the residual stream, then an untied unembedding to ``p`` logits. Only the last
position's output is read, and in a single layer nothing else depends on the other positions'
queries or MLP outputs, so the forward pass computes queries, the attention output and the MLP at
the last position only (keys and values at all three). The loss is identical to the full forward.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class GrokTransformer(nn.Module):
    """One-layer, LayerNorm-free transformer for ``a b =`` -> ``(a + b) mod p`` (see module doc)."""

    def __init__(self, p: int, d_model: int = 128, n_heads: int = 4, d_mlp: int = 512):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model = {d_model} is not divisible by n_heads = {n_heads}; "
                             f"pick n_heads dividing d_model")
        self.p, self.d_model, self.n_heads, self.d_mlp = p, d_model, n_heads, d_mlp
        self.embed = nn.Embedding(p + 1, d_model)
        self.pos = nn.Parameter(torch.empty(3, d_model))
        self.q = nn.Linear(d_model, d_model, bias=False)
        self.k = nn.Linear(d_model, d_model, bias=False)
        self.v = nn.Linear(d_model, d_model, bias=False)
        self.o = nn.Linear(d_model, d_model, bias=False)
        self.mlp_in = nn.Linear(d_model, d_mlp)
        self.mlp_out = nn.Linear(d_mlp, d_model)
        self.unembed = nn.Linear(d_model, p, bias=False)
        for w in (self.embed.weight, self.pos):
            nn.init.normal_(w, std=d_model ** -0.5)

    def residual(self, x):
        """Final-position residual stream after the block, shape (batch, d_model)."""
        h = self.embed(x) + self.pos                                   # (B, 3, d)
        bsz, hd = x.shape[0], self.d_model // self.n_heads
        last = h[:, -1]                                                # (B, d)
        q = self.q(last).view(bsz, self.n_heads, 1, hd)
        k = self.k(h).view(bsz, 3, self.n_heads, hd).transpose(1, 2)   # (B, H, 3, hd)
        v = self.v(h).view(bsz, 3, self.n_heads, hd).transpose(1, 2)
        att = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(hd), dim=-1)
        last = last + self.o((att @ v).reshape(bsz, self.d_model))
        return last + self.mlp_out(torch.relu(self.mlp_in(last)))

    def forward(self, x):
        """Logits over the ``p`` answers at the last position, shape (batch, p)."""
        return self.unembed(self.residual(x))


def build_model(p: int, d_model: int = 128, n_heads: int = 4, d_mlp: int = 512, seed: int = 0):
    """A freshly initialised :class:`GrokTransformer` (initialisation seeded by ``seed``)."""
    torch.manual_seed(int(seed))
    return GrokTransformer(int(p), int(d_model), int(n_heads), int(d_mlp))
