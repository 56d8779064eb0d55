"""A decoder's own loss per byte on the validation split: comparable across tokenizers.

Definition. The evaluation text is the start of the corpus's validation split
(:func:`toposcale.train.corpus.corpus_split`), cut after the last whole line within ``max_bytes`` UTF-8
bytes (:func:`validation_text`). It is cut into consecutive chunks (:func:`text_chunks`) whose
concatenation is the text exactly, each short enough that one context token plus its tokens fit a
window of ``window`` tokens. Each chunk is tokenised alone by the model's own tokenizer without special
tokens, ``ids = tok(chunk)``, and scored as ``[c] + ids`` where ``c`` is the tokenizer's BOS token (its
EOS token when it has no BOS: the document separator the model was trained with). Every token of the
chunk is predicted from its prefix in the chunk (the first from ``c`` alone)::

    nll_total  = sum over chunks, sum over i of -log p(ids[i] | c, ids[:i])        (nats)
    n_bytes    = sum over chunks of len(chunk.encode("utf-8"))  = len(text.encode("utf-8"))
    loss_per_byte  = nll_total / n_bytes                                            (nats per byte)
    loss_per_token = nll_total / n_tokens                                            (nats per token)

For a byte-level model (one token per byte) the two agree, and ``loss_per_byte`` is in the units of the
trained runs' ``val_loss`` (nats per byte token). A tokenizer that adds a prefix space (SentencePiece)
makes the model predict one byte more than the chunk holds; it is not counted in ``n_bytes``.
"""

from __future__ import annotations

import numpy as np
import torch

from toposcale.train.corpus import corpus_split


class SeriesLossError(ValueError):
    """The loss per byte cannot be computed (no context token, empty text, a chunk that cannot be split)."""


def validation_text(corpus_cfg: dict, max_bytes: int) -> str:
    """The first whole lines of the validation split within ``max_bytes`` UTF-8 bytes (at least one line)."""
    _, val, _, _ = corpus_split(corpus_cfg)
    cut = val[:max_bytes]
    nl = cut.rfind(b"\n")
    if nl >= 0 and len(val) > max_bytes:
        cut = cut[:nl + 1]
    text = cut.decode("utf-8", errors="ignore")
    if not text.strip():
        raise SeriesLossError(f"the validation split of corpus {corpus_cfg['source']!r} is empty in its first "
                              f"{max_bytes} bytes; raise series[].loss_bytes")
    return text


def _n_tokens(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _split_point(text: str) -> int:
    """Index near the middle of ``text`` just after a whitespace character (the middle if there is none)."""
    mid = len(text) // 2
    left = max(text.rfind(" ", 0, mid), text.rfind("\n", 0, mid))
    if left > 0:
        return left + 1
    right = min((i for i in (text.find(" ", mid), text.find("\n", mid)) if i >= 0), default=-1)
    return right + 1 if 0 <= right < len(text) - 1 else max(1, mid)


def text_chunks(text: str, tokenizer, max_tokens: int, target_bytes: int | None = None) -> list[str]:
    """Consecutive chunks of ``text`` (joined they give ``text``), each with at most ``max_tokens`` tokens.

    Whole lines are packed greedily up to ``target_bytes`` (default ``3 * max_tokens``); a chunk with too
    many tokens is halved at a whitespace near its middle, recursively.
    """
    if max_tokens < 1:
        raise SeriesLossError(f"text_chunks: max_tokens = {max_tokens} must be >= 1")
    target = target_bytes or 3 * max_tokens
    packed, cur = [], ""
    for line in text.splitlines(keepends=True):
        if cur and len((cur + line).encode()) > target:
            packed.append(cur)
            cur = ""
        cur += line
    if cur:
        packed.append(cur)
    out = []
    stack = list(reversed(packed))
    while stack:
        chunk = stack.pop()
        if _n_tokens(tokenizer, chunk) <= max_tokens:
            out.append(chunk)
            continue
        if len(chunk) < 2:
            raise SeriesLossError(f"a single character {chunk!r} has more than {max_tokens} tokens; "
                                  f"raise series[].loss_tokens")
        k = _split_point(chunk)
        stack += [chunk[k:], chunk[:k]]
    return out


def context_token(tokenizer) -> int:
    """The BOS token id, else the EOS token id (see module docstring)."""
    for tid in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if tid is not None:
            return int(tid)
    raise SeriesLossError(f"tokenizer {type(tokenizer).__name__} has neither a BOS nor an EOS token to start "
                          f"the evaluation windows with; the loss per byte needs one")


def model_window(model, window: int) -> int:
    """``window`` clipped to the model's ``max_position_embeddings`` (or ``n_positions``) when it has one."""
    cfg = model.config
    limit = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
    return int(min(window, limit)) if limit else int(window)


def nll_per_byte(model, tokenizer, text: str, window: int, batch_size: int = 8) -> dict:
    """The model's NLL per byte and per token on ``text`` (definitions in the module docstring).

    Returns
    -------
    dict
        ``nll_nats`` (total), ``n_tokens`` (predicted tokens), ``n_bytes``, ``n_chunks``, ``window``,
        ``loss_per_byte``, ``loss_per_token`` (nats), ``bits_per_byte``.
    """
    window = model_window(model, window)
    if window < 2:
        raise SeriesLossError(f"evaluation window of {window} tokens; need at least 2")
    ctx = context_token(tokenizer)
    chunks = text_chunks(text, tokenizer, window - 1)
    device = next(model.parameters()).device
    ids = [[ctx] + tokenizer(c, add_special_tokens=False)["input_ids"] for c in chunks]
    total, n_tok = 0.0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(ids), batch_size):
            batch = ids[i:i + batch_size]
            width = max(len(b) for b in batch)
            x = torch.full((len(batch), width), ctx, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for j, b in enumerate(batch):
                x[j, :len(b)] = torch.as_tensor(b)
                mask[j, :len(b)] = 1
            x, mask = x.to(device), mask.to(device)
            logits = model(input_ids=x, attention_mask=mask).logits.float()
            nll = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                                                    reduction="none").reshape(x.shape[0], -1)
            valid = mask[:, 1:].to(nll.dtype)
            total += float((nll * valid).sum().double())
            n_tok += int(valid.sum())
    n_bytes = sum(len(c.encode("utf-8")) for c in chunks)
    return {"nll_nats": total, "n_tokens": n_tok, "n_bytes": n_bytes, "n_chunks": len(chunks), "window": window,
            "loss_per_byte": total / n_bytes, "loss_per_token": total / max(n_tok, 1),
            "bits_per_byte": total / n_bytes / float(np.log(2.0))}
