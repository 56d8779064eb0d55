"""Corpus preparation: text sources, a deterministic block split, tokenizers and the probe set.

Outputs (``results/data/{corpus}/``):

* ``train.bin``, ``val.bin``: token ids as little-endian ``uint16`` memmaps;
* ``tokenizer.json``: ``{"type": "byte", "vocab_size": 256}`` or a Hugging Face ``tokenizers`` BPE file;
* ``probe.npy``: ``int64`` array (probe_size, seq_len), fixed sequences from the validation split used for
  activation point clouds at every checkpoint;
* ``meta.json``: source, sizes and the split rule.

Split rule: the text is cut into contiguous blocks of ``block_tokens`` bytes (byte tokenizer) or
``4 * block_tokens`` bytes (BPE, ~4 bytes per token); every ``round(1 / val_fraction)``-th block (starting
with the last of each group) is validation. Held-out *blocks* keep validation text unseen as running
prose, unlike a shuffle of characters or lines which leaks near-duplicate context.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from toposcale.io import atomic_path
from toposcale.train.pydocs import stdlib_docstrings

DATA_DIR = Path(__file__).resolve().parent / "data"
TEXT_SUFFIXES = (".txt", ".md", ".rst", ".text")


class CorpusError(ValueError):
    """The corpus source is missing, empty or too small for the configured split."""


def read_source(source: str) -> str:
    """Return the text of a corpus source.

    ``builtin:kjv`` is the King James Bible shipped gzipped with the package (public domain,
    4.1 M characters, one verse per line); ``builtin:pydocs`` is the docstrings of the installed Python
    standard library; otherwise ``source`` is a UTF-8 text file or a folder whose text files
    (``*.txt, *.md, *.rst``, sorted by path) are concatenated.
    """
    if source == "builtin:kjv":
        with gzip.open(DATA_DIR / "kjv.txt.gz", "rt", encoding="utf-8") as fh:
            text = fh.read()
    elif source == "builtin:pydocs":
        text = stdlib_docstrings()
    elif source.startswith("builtin:"):
        raise CorpusError(f"corpus.source = {source!r}: unknown builtin; use builtin:kjv or builtin:pydocs")
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise CorpusError(f"corpus.source = {source!r}: no such file or folder; give an existing UTF-8 "
                              f"text file or folder, or builtin:kjv")
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
            if not files:
                raise CorpusError(f"corpus.source = {source!r}: folder holds no {', '.join(TEXT_SUFFIXES)} files")
            text = "\n\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)
        else:
            text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise CorpusError(f"corpus.source = {source!r} is empty")
    return text


def split_blocks(data: bytes, block: int, val_fraction: float) -> tuple[bytes, bytes]:
    """Split ``data`` into contiguous blocks; every k-th (k = round(1/val_fraction)) goes to validation.

    Examples
    --------
    >>> tr, va = split_blocks(bytes(range(20)), 2, 0.25)
    >>> list(va)
    [6, 7, 14, 15]
    """
    k = max(2, int(round(1.0 / val_fraction)))
    blocks = [data[i:i + block] for i in range(0, len(data), block)]
    train = b"".join(b for i, b in enumerate(blocks) if i % k != k - 1)
    val = b"".join(b for i, b in enumerate(blocks) if i % k == k - 1)
    return train, val


def _atomic_write_bytes(path: Path, payload: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)


def _bpe_tokenizer(train_text: str, vocab_size: int):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([train_text[i:i + 100_000] for i in range(0, len(train_text), 100_000)], trainer)
    return tok


def make_probe(val: np.ndarray, probe_size: int, seq_len: int) -> np.ndarray:
    """``probe_size`` windows of ``seq_len`` tokens at evenly spaced offsets of the validation split."""
    if len(val) < seq_len + 1:
        raise CorpusError(f"validation split has {len(val)} tokens, fewer than seq_len + 1 = {seq_len + 1}; "
                          f"use a larger corpus, a larger corpus.val_fraction or a smaller corpus.seq_len")
    starts = np.linspace(0, len(val) - seq_len, probe_size).astype(np.int64)
    return np.stack([val[s:s + seq_len] for s in starts]).astype(np.int64)


def corpus_split(cfg: dict) -> tuple[bytes, bytes, str, int]:
    """``(train, val, text, block_bytes)``: the UTF-8 bytes of the training and validation splits of ``cfg``
    (the corpus section; the split rule of the module docstring), the whole text and the block length."""
    text = read_source(cfg["source"])
    block_bytes = cfg["block_tokens"] * (1 if cfg["tokenizer"] == "byte" else 4)
    train_b, val_b = split_blocks(text.encode("utf-8"), block_bytes, cfg["val_fraction"])
    return train_b, val_b, text, block_bytes


def prepare_corpus(cfg: dict, out_dir) -> dict:
    """Write train.bin, val.bin, tokenizer.json, probe.npy and meta.json for ``cfg`` (the corpus section)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_b, val_b, text, block_bytes = corpus_split(cfg)
    raw = text.encode("utf-8")
    if cfg["tokenizer"] == "byte":
        train = np.frombuffer(train_b, dtype=np.uint8).astype(np.uint16)
        val = np.frombuffer(val_b, dtype=np.uint8).astype(np.uint16)
        tok_json = json.dumps({"type": "byte", "vocab_size": 256})
    else:
        tok = _bpe_tokenizer(train_b.decode("utf-8", errors="replace"), cfg["bpe_vocab_size"])
        train = np.asarray(tok.encode(train_b.decode("utf-8", errors="replace")).ids, dtype=np.uint16)
        val = np.asarray(tok.encode(val_b.decode("utf-8", errors="replace")).ids, dtype=np.uint16)
        tok_json = tok.to_str()
    need = 2 * (cfg["seq_len"] + 1)
    if len(train) < need or len(val) < cfg["seq_len"] + 1:
        raise CorpusError(f"corpus.source = {cfg['source']!r} gives {len(train)} train and {len(val)} val "
                          f"tokens, too few for seq_len {cfg['seq_len']}; use a larger corpus")
    probe = make_probe(val, cfg["probe_size"], cfg["seq_len"])
    _atomic_write_bytes(out / "train.bin", train.astype("<u2").tobytes())
    _atomic_write_bytes(out / "val.bin", val.astype("<u2").tobytes())
    _atomic_write_bytes(out / "tokenizer.json", tok_json.encode())
    with atomic_path(out / "probe.npy") as tmp, open(tmp, "wb") as fh:
        np.save(fh, probe)
    meta = {"source": cfg["source"], "tokenizer": cfg["tokenizer"], "n_chars": len(text),
            "n_bytes": len(raw), "train_tokens": int(len(train)), "val_tokens": int(len(val)),
            "block_bytes": block_bytes, "val_every": max(2, int(round(1.0 / cfg["val_fraction"]))),
            "probe_shape": list(probe.shape)}
    _atomic_write_bytes(out / "meta.json", json.dumps(meta, indent=2).encode())
    return meta


def load_tokens(path) -> np.ndarray:
    """Memory-map a ``.bin`` token file written by :func:`prepare_corpus`."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"token file {path} is missing; run the corpus rule (snakemake {path})")
    return np.memmap(path, dtype="<u2", mode="r")
