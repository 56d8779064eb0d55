"""A small decoder-only GPT (nanoGPT-style, one readable file).

Pre-LayerNorm blocks, causal self-attention through ``scaled_dot_product_attention``, learned
positions, bias-free linear maps, LayerNorms with weight and bias, and an LM head tied to the token
embedding. The MLP is GELU (d -> 4d -> d) or SwiGLU (gate and up d -> h, down h -> d, h = round(8d/3)),
so both activations have (almost exactly) the same parameter count; see :mod:`toposcale.plan.sizing`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from toposcale.plan.sizing import mlp_hidden


@dataclass
class GPTConfig:
    """Shape of a :class:`GPT`: vocabulary, context length, width, depth, heads and MLP activation."""

    vocab_size: int = 256
    seq_len: int = 128
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    activation: str = "gelu"

    @classmethod
    def from_run(cls, run: dict, seq_len: int) -> "GPTConfig":
        """The config of a planned run (a :class:`toposcale.plan.study.RunSpec` dict) at ``seq_len``."""
        return cls(vocab_size=run["vocab_size"], seq_len=seq_len, d_model=run["d_model"],
                   n_layers=run["n_layers"], n_heads=run["n_heads"], activation=run["activation"])


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x, return_attention: bool = False):
        """Output of the layer; with ``return_attention`` also the attention weights (batch, heads, t, t).

        The weights are computed explicitly (softmax of the causally masked ``q k^T / sqrt(head_dim)``,
        the same function ``scaled_dot_product_attention`` evaluates in fused form); only probes ask for
        them, so training keeps the fused kernel.
        """
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2) for z in (q, k, v))
        att = None
        if return_attention:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
            causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
            att = torch.softmax(scores.float().masked_fill(~causal, float("-inf")), dim=-1)
            y = (att.to(v.dtype) @ v)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = self.out(y.transpose(1, 2).contiguous().view(b, t, d))
        return (y, att) if return_attention else y


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        h = mlp_hidden(cfg.d_model, cfg.activation)
        self.activation = cfg.activation
        self.fc = nn.Linear(cfg.d_model, h, bias=False)          # GELU input map / SwiGLU gate
        if cfg.activation == "swiglu":
            self.up = nn.Linear(cfg.d_model, h, bias=False)
        self.proj = nn.Linear(h, cfg.d_model, bias=False)

    def forward(self, x):
        if self.activation == "swiglu":
            return self.proj(F.silu(self.fc(x)) * self.up(x))
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = MLP(cfg)

    def forward(self, x, return_attention: bool = False):
        if return_attention:
            a, att = self.attn(self.ln1(x), return_attention=True)
            x = x + a
            return x + self.mlp(self.ln2(x)), att
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """The decoder of the module docstring.

    Initialisation: linear and embedding weights ``N(0, 0.02^2)``, except the residual projections
    (``attn.out``, ``mlp.proj``) with standard deviation ``0.02 / sqrt(2 * n_layers)``; LayerNorms 1 and 0.
    """

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        if cfg.activation not in ("gelu", "swiglu"):
            raise ValueError(f"activation {cfg.activation!r} unknown; use 'gelu' or 'swiglu'")
        if cfg.d_model % cfg.n_heads:
            raise ValueError(f"d_model {cfg.d_model} is not divisible by n_heads {cfg.n_heads}")
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.seq_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.apply(self._init)
        # GPT-2 scaling of residual projections keeps the residual stream's variance flat in depth.
        for name, p in self.named_parameters():
            if name.endswith("attn.out.weight") or name.endswith("mlp.proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def n_params(self, non_embedding: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.wte.weight.numel() + self.wpe.weight.numel()
        return n

    def forward(self, idx, targets=None, return_hidden: bool = False, return_attention: bool = False):
        """Logits (and mean cross-entropy if ``targets``); with ``return_hidden`` also the hidden states
        ``[embedding output, block 0 output, ..., block L-1 output, ln_f output]``; with
        ``return_attention`` also the attention weights of every block, a tensor (n_layers, batch, heads,
        t, t) whose entry ``[l, b, h, i, j]`` is the weight query position ``i`` gives key position ``j``
        (rows sum to 1, zero above the diagonal). Returned in the order logits, loss, [hidden], [attention].
        """
        t = idx.shape[1]
        if t > self.cfg.seq_len:
            raise ValueError(f"sequence of {t} tokens exceeds seq_len {self.cfg.seq_len}")
        x = self.wte(idx) + self.wpe(torch.arange(t, device=idx.device))
        hidden = [x] if return_hidden else None
        attention = [] if return_attention else None
        for block in self.blocks:
            if return_attention:
                x, att = block(x, return_attention=True)
                attention.append(att)
            else:
                x = block(x)
            if return_hidden:
                hidden.append(x)
        x = self.ln_f(x)
        if return_hidden:
            hidden.append(x)
        logits = x @ self.wte.weight.T
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1))
        out = (logits, loss)
        if return_hidden:
            out += (hidden,)
        if return_attention:
            out += (torch.stack(attention),)
        return out

    def param_groups(self, weight_decay: float):
        """AdamW groups: decay on 2-D linear weights only (not on norms, biases or embeddings)."""
        decay, no_decay = [], []
        for name, p in self.named_parameters():
            is_embedding = name.startswith("wte.") or name.startswith("wpe.")
            (decay if p.dim() >= 2 and not is_embedding else no_decay).append(p)
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
