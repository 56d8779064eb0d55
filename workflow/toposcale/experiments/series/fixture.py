"""A tiny offline checkpoint series: a GPT-NeoX trained here, saved as Hugging Face checkpoints.

What it is: the first ``train_bytes`` bytes of the corpus's training split
(:func:`toposcale.train.corpus.corpus_split`) train a byte-level BPE tokenizer of ``vocab_size`` entries
(:func:`toposcale.train.corpus._bpe_tokenizer`, the corpus module's BPE) plus the special token
``<|endoftext|>`` (BOS, EOS and padding). A ``transformers.GPTNeoXForCausalLM`` (``d_model`` wide,
``n_layers`` blocks, ``n_heads`` heads, MLP 4 x ``d_model``, context ``seq_len``) is trained with AdamW
(constant ``lr``, no weight decay) on ``batch_size`` random windows of ``seq_len`` tokens per step
(the model's own ``labels=`` loss), seeded. After the steps listed in ``steps`` (0 = initialisation) the
model and tokenizer are saved with ``save_pretrained`` to ``{out}/step{step:07d}/`` (written to a temporary
folder and renamed). ``{out}/series.json`` records each checkpoint's step and tokens seen
(``step * batch_size * seq_len``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from toposcale.io import atomic_path
from toposcale.plan.paths import step_name
from toposcale.train.corpus import _bpe_tokenizer, corpus_split

EOT = "<|endoftext|>"

#: Keys of the config's ``series_fixture`` section that shape the series (the rest: ``enabled``).
FIXTURE_KEYS = ("steps", "d_model", "n_layers", "n_heads", "vocab_size", "seq_len", "batch_size", "lr",
                "train_bytes")


def fixture_tokenizer(text: str, vocab_size: int):
    """A ``PreTrainedTokenizerFast``: byte-level BPE of ``vocab_size`` entries on ``text``, plus ``<|endoftext|>``."""
    from transformers import PreTrainedTokenizerFast

    tok = _bpe_tokenizer(text, vocab_size)
    tok.add_special_tokens([EOT])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=EOT, eos_token=EOT, pad_token=EOT)


def train_fixture_series(corpus_cfg: dict, fx: dict, out_dir, seed: int = 0, threads: int = 1,
                         log=print) -> list[dict]:
    """Train the series of the module docstring; return ``[{"step", "tokens", "path"}]`` (also in series.json).

    ``fx`` holds :data:`FIXTURE_KEYS` (the config's ``series_fixture`` section).
    """
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    torch.set_num_threads(max(1, threads))
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    steps = sorted({int(s) for s in fx["steps"]})
    train_b, _, _, _ = corpus_split(corpus_cfg)
    text = train_b[:fx["train_bytes"]].decode("utf-8", errors="ignore")
    tokenizer = fixture_tokenizer(text, fx["vocab_size"])
    data = torch.as_tensor(np.asarray(tokenizer(text, add_special_tokens=False)["input_ids"], dtype=np.int64))
    seq = int(fx["seq_len"])
    if len(data) < 2 * seq:
        raise ValueError(f"series_fixture.train_bytes = {fx['train_bytes']} gives {len(data)} tokens, fewer than "
                         f"2 * seq_len = {2 * seq}; raise train_bytes or lower seq_len")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    cfg = GPTNeoXConfig(vocab_size=len(tokenizer), hidden_size=fx["d_model"], num_hidden_layers=fx["n_layers"],
                        num_attention_heads=fx["n_heads"], intermediate_size=4 * fx["d_model"],
                        max_position_embeddings=seq, rotary_pct=0.25, bos_token_id=tokenizer.bos_token_id,
                        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                        tie_word_embeddings=False)
    model = GPTNeoXForCausalLM(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=fx["lr"], weight_decay=0.0)
    tokens_per_step = fx["batch_size"] * seq
    saved = []

    def save(step: int, loss: float) -> None:
        final = out / step_name(step)
        tmp = out / f".{step_name(step)}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        saved.append({"step": step, "tokens": step * tokens_per_step, "path": str(final), "train_loss": loss})
        log(f"[series_fixture] step {step}: train loss {loss:.4f} nats/token, saved {final}")

    model.train()
    loss_value = float("nan")
    for step in range(0, steps[-1] + 1):
        if step in steps:
            model.eval()
            save(step, loss_value)
            model.train()
        if step == steps[-1]:
            break
        starts = torch.randint(0, len(data) - seq, (fx["batch_size"],), generator=gen)
        x = torch.stack([data[s:s + seq] for s in starts.tolist()])
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_value = float(loss.detach())
    meta = {"checkpoints": saved, "tokens_per_step": tokens_per_step, "train_tokens": int(len(data)),
            "seconds": time.perf_counter() - t0, "config": {k: fx[k] for k in FIXTURE_KEYS}, "seed": seed}
    with atomic_path(out / "series.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2))
    return saved
