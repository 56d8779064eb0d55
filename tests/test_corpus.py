import json

import numpy as np
import pytest

from toposcale.train.corpus import CorpusError, prepare_corpus, read_source, split_blocks


def _cfg(source, **kw):
    cfg = {"source": str(source), "tokenizer": "byte", "block_tokens": 256, "val_fraction": 0.25,
           "seq_len": 16, "probe_size": 4, "bpe_vocab_size": 300}
    cfg.update(kw)
    return cfg


def test_split_is_deterministic_blocks():
    data = bytes(range(256)) * 4
    tr, va = split_blocks(data, 64, 0.25)
    assert len(tr) + len(va) == len(data)
    assert va == data[192:256] + data[448:512] + data[704:768] + data[960:1024]


def test_kjv_builtin():
    text = read_source("builtin:kjv")
    assert len(text) > 4_000_000 and text.startswith("In the beginning God created")


def test_prepare_folder_byte_level(tmp_path):
    src = tmp_path / "texts"
    src.mkdir()
    (src / "a.txt").write_text("alpha beta gamma " * 200)
    (src / "b.md").write_text("delta epsilon " * 200)
    (src / "skip.bin").write_bytes(b"\x00\x01")
    out = tmp_path / "out"
    meta = prepare_corpus(_cfg(src), out)
    train = np.fromfile(out / "train.bin", dtype="<u2")
    val = np.fromfile(out / "val.bin", dtype="<u2")
    assert meta["train_tokens"] == len(train) and meta["val_tokens"] == len(val)
    assert bytes(train[:5].astype(np.uint8)) == b"alpha"
    probe = np.load(out / "probe.npy")
    assert probe.shape == (4, 16) and probe.dtype == np.int64
    assert json.loads((out / "tokenizer.json").read_text())["type"] == "byte"
    # probe windows come from the validation split
    vs = bytes(val.astype(np.uint8))
    assert all(bytes(row.astype(np.uint8)) in vs for row in probe)


def test_prepare_bpe(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("the quick brown fox jumps over the lazy dog. " * 400)
    meta = prepare_corpus(_cfg(f, tokenizer="bpe", bpe_vocab_size=300), tmp_path / "o")
    assert meta["train_tokens"] < 0.8 * meta["n_bytes"] * 0.75  # BPE compresses
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tmp_path / "o" / "tokenizer.json"))
    assert tok.decode(tok.encode("the lazy dog").ids) == "the lazy dog"


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p / "missing.txt", "no such file"),
    (lambda p: (p / "empty.txt").write_text("   ") and p / "empty.txt", "is empty"),
    (lambda p: (p / "tiny.txt").write_text("abc") and p / "tiny.txt", "too few"),
])
def test_bad_corpus_errors(tmp_path, make, fragment):
    with pytest.raises(CorpusError, match=fragment):
        prepare_corpus(_cfg(make(tmp_path)), tmp_path / "o")
