"""Pooled per-layer activations of a Hugging Face model on the probe texts, and its per-text NLL.

See :mod:`toposcale.experiments.pretrained` for the layer names (``embed``, ``block{i:02d}``, ``final``)
and the pooling definitions.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from toposcale.experiments.pretrained.activation_files import Activations, save_activations
from toposcale.experiments.pretrained.errors import PretrainedError
from toposcale.experiments.pretrained.loading import load_model, resolve_pooling
from toposcale.experiments.pretrained.likelihood import perplexity
from toposcale.io import versions


def pool_hidden(hidden, mask, how: str):
    """Pool token states to one vector per sequence, ignoring padding.

    See :mod:`toposcale.experiments.pretrained`, Pooling, for the definitions.

    Parameters
    ----------
    hidden : torch.Tensor, shape (batch, tokens, width)
    mask : torch.Tensor, shape (batch, tokens)
        1 for real tokens, 0 for padding; every row needs at least one real token.
    how : {'last', 'cls', 'mean'}

    Returns
    -------
    torch.Tensor, shape (batch, width)
    """
    mask = mask.to(hidden.dtype)
    if (mask.sum(dim=1) == 0).any():
        raise PretrainedError("pool_hidden: a sequence has no real tokens (all padding); drop empty texts")
    if how == "mean":
        return (hidden * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True)
    positions = torch.arange(hidden.shape[1], device=hidden.device, dtype=hidden.dtype)
    if how == "last":
        idx = (mask * (positions + 1)).argmax(dim=1)
    elif how == "cls":
        idx = (mask * (hidden.shape[1] - positions)).argmax(dim=1)
    else:
        raise PretrainedError(f"pooling {how!r}; use 'last', 'cls' or 'mean'")
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), idx]


def _block_list(model):
    """The model's list of transformer blocks: the largest ``ModuleList`` of ``num_hidden_layers`` modules."""
    n = getattr(model.config, "num_hidden_layers", None)
    best = None
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.ModuleList) and len(mod) == n:
            if best is None or name.count(".") < best[0].count("."):
                best = (name, mod)
    if best is None:
        raise PretrainedError(f"cannot find the {n} transformer blocks of {type(model).__name__}; "
                              f"this architecture is not supported for layer-wise extraction")
    return best[1]


#: Architectures whose embeddings derive position ids from the padding themselves (RoBERTa-style offset
#: ``padding_idx + 1``); ``cumsum(mask) - 1`` would shift every position, so none are passed to them.
OWN_POSITION_IDS = ("mpnet", "roberta", "xlm-roberta", "camembert")


def distinct_rows(X) -> int:
    """Number of distinct rows of a 2-D array (exact equality)."""
    return int(len(np.unique(np.asarray(X), axis=0)))


def extract_activations(model, tokenizer, texts: list[str], kind: str, pooling: str, max_tokens: int = 64,
                        batch_size: int = 16, padding_side: str = "right") -> Activations:
    """Pooled hidden states of every layer for ``texts``, and per-text NLL for decoders.

    Parameters
    ----------
    model, tokenizer
        From :func:`load_model`.
    texts : list of str
        Non-empty texts; each is truncated to ``max_tokens`` tokens.
    kind : {'encoder', 'decoder'}
    pooling : {'last', 'cls', 'mean'}
        Already resolved (:func:`resolve_pooling`).
    padding_side : {'right', 'left'}
        Only for testing: the result does not depend on it.

    The returned ``distinct`` maps every pooling (``last``, ``cls``, ``mean``) to ``{layer: number of
    distinct pooled vectors}`` over the texts, all from the same forward pass: the evidence for the
    pooling choice (a pooling whose clouds have few distinct points is degenerate for this model).
    """
    if pooling not in ("last", "cls", "mean"):
        raise PretrainedError(f"extract_activations: pooling {pooling!r} must be resolved to last, cls or mean")
    if not texts or any(not t.strip() for t in texts):
        raise PretrainedError("extract_activations: texts must be a non-empty list of non-empty strings")
    t0 = time.perf_counter()
    tokenizer.padding_side = padding_side
    device = next(model.parameters()).device
    blocks = _block_list(model)
    captured = {}
    hook = blocks[-1].register_forward_hook(
        lambda mod, args, out: captured.__setitem__("last", out[0] if isinstance(out, tuple) else out))
    pooled: dict[int, list] = {}
    names = None
    n_tokens, nll, n_pred = [], [], []
    try:
        with torch.no_grad():
            for i in range(0, len(texts), batch_size):
                enc = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=max_tokens,
                                return_tensors="pt")
                ids = enc["input_ids"].to(device)
                mask = enc["attention_mask"].to(device)
                kwargs = {"input_ids": ids, "attention_mask": mask, "output_hidden_states": True}
                if getattr(model.config, "model_type", None) not in OWN_POSITION_IDS:
                    kwargs["position_ids"] = (mask.cumsum(dim=1) - 1).clamp(min=0)
                if "token_type_ids" in enc:
                    kwargs["token_type_ids"] = enc["token_type_ids"].to(device)
                out = model(**kwargs)
                hidden = list(out.hidden_states)
                last_block = captured["last"]
                has_final = not torch.equal(last_block, hidden[-1])
                if has_final:
                    hidden = hidden[:-1] + [last_block, hidden[-1]]
                if names is None:
                    n_blocks = len(blocks)
                    names = ["embed"] + [f"block{j:02d}" for j in range(n_blocks)] + (["final"] if has_final else [])
                    if len(names) != len(hidden):
                        raise PretrainedError(f"{type(model).__name__} returned {len(hidden)} hidden states for "
                                              f"{n_blocks} blocks; cannot name its layers")
                for j, h in enumerate(hidden):
                    for how in ("last", "cls", "mean"):
                        pooled.setdefault((how, j), []).append(pool_hidden(h.float(), mask, how).cpu().numpy())
                n_tokens.append(mask.sum(dim=1).cpu().numpy())
                if kind == "decoder":
                    s, c = _sequence_nll(out.logits, ids, mask)
                    nll.append(s)
                    n_pred.append(c)
    finally:
        hook.remove()
    layers = {name: np.concatenate(pooled[(pooling, j)]).astype(np.float32) for j, name in enumerate(names)}
    distinct = {how: {name: distinct_rows(np.concatenate(pooled[(how, j)]).astype(np.float32))
                      for j, name in enumerate(names)} for how in ("last", "cls", "mean")}
    for name, X in layers.items():
        if not np.isfinite(X).all():
            raise PretrainedError(f"layer {name}: non-finite activations ({int((~np.isfinite(X)).sum())} values); "
                                  f"the model weights may be corrupt")
    n = len(texts)
    return Activations(layers=layers, n_tokens=np.concatenate(n_tokens).astype(np.int64),
                       nll_sum=np.concatenate(nll) if nll else np.full(n, np.nan),
                       n_predicted=np.concatenate(n_pred).astype(np.int64) if n_pred else np.zeros(n, np.int64),
                       pooling=pooling, seconds=time.perf_counter() - t0, distinct=distinct)


def _sequence_nll(logits, ids, mask):
    """Per-sequence summed next-token NLL (nats) and count over positions where both tokens are real."""
    pred = logits[:, :-1].float()
    target = ids[:, 1:]
    valid = (mask[:, :-1] * mask[:, 1:]).to(pred.dtype)
    nll = torch.nn.functional.cross_entropy(pred.reshape(-1, pred.shape[-1]), target.reshape(-1),
                                            reduction="none").reshape(target.shape)
    return (nll * valid).sum(dim=1).double().cpu().numpy(), valid.sum(dim=1).long().cpu().numpy()


def model_facts(model) -> dict:
    """Architecture facts for the tables: type, layers, width, parameter counts (embeddings separate)."""
    n_total = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    emb = model.get_input_embeddings()
    n_embed = emb.weight.numel() if isinstance(emb, torch.nn.Embedding) else 0
    cfg = model.config
    return {"architecture": type(model).__name__, "model_type": cfg.model_type,
            "n_layers": int(getattr(cfg, "num_hidden_layers", 0)), "width": int(getattr(cfg, "hidden_size", 0)),
            "n_params": int(n_total), "n_nonembed": int(n_total - n_embed)}


def tokenizer_facts(tokenizer) -> str:
    """``"BPE, vocabulary 49,152"``: the tokenizer's algorithm (the class of its ``tokenizers`` model: BPE,
    WordPiece, Unigram, WordLevel; the Python class name for a tokenizer without a fast backend) and its
    vocabulary size including added tokens (a confound of the comparison)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    algo = type(backend.model).__name__ if backend is not None else type(tokenizer).__name__
    return f"{algo}, vocabulary {len(tokenizer):,}"


def run_activations(model_dir, kind: str, texts: list[str], pooling: str, max_tokens: int, out_path,
                    extra_meta: dict | None = None, batch_size: int = 16, threads: int = 1, seed: int = 0,
                    device: str = "cpu") -> dict:
    """Load a model, extract pooled activations and perplexity on ``texts``, save them; return the meta.

    The meta (also stored in the file) holds ``extra_meta``, :func:`model_facts`, the resolved pooling,
    ``tokenizer`` (:func:`tokenizer_facts`), probe counts, timings, :func:`perplexity`, package versions and
    ``distinct_by_pooling`` (see :func:`extract_activations`).
    """
    torch.set_num_threads(max(1, threads))
    t0 = time.perf_counter()
    model, tokenizer = load_model(model_dir, kind, device=device)
    load_s = time.perf_counter() - t0
    pool = resolve_pooling(pooling, kind, model_dir)
    acts = extract_activations(model, tokenizer, texts, kind, pool, max_tokens=max_tokens, batch_size=batch_size)
    meta = {**(extra_meta or {}), "kind": kind, "model_dir": str(model_dir), **model_facts(model),
            "tokenizer": tokenizer_facts(tokenizer),
            "n_probe": len(texts), "max_tokens": max_tokens, "mean_tokens": float(acts.n_tokens.mean()),
            "load_seconds": load_s, **perplexity(acts.nll_sum, acts.n_predicted, seed=seed),
            "perplexity_unit": "token" if kind == "decoder" else None,
            "versions": versions("torch", "transformers")}
    save_activations(out_path, acts, meta)
    return meta
