"""Model directories: checks, offline loading (never remote code, never unpickling) and pooling choice."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from toposcale.experiments.pretrained.errors import PretrainedError
from toposcale.experiments.pretrained.models import KINDS, WEIGHT_FILES

#: Values of ``pretrained.pooling`` (see :func:`resolve_pooling`).
POOLINGS = ("auto", "last", "cls", "mean")
#: Weight formats toposcale refuses to load (named in the error so the user can convert them).
UNSAFE_WEIGHT_FILES = ("tf_model.h5", "flax_model.msgpack", "model.ckpt.index", "pytorch_model.pt")


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
    # transformers: optional heavy dependency (seconds to import), needed only once a model is checked
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
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer  # optional heavy dependency

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
    """Turn a configured pooling into ``last``, ``cls`` or ``mean``.

    ``auto`` is ``mean`` for decoders (evidence: last-token pooling of SmolLM2-135M on 500 KJV probe texts
    gave 15 distinct embedding-layer points of 500, a degenerate cloud, while a mean over a text's tokens
    is shared only by texts made of the same tokens; the distinct-point count of every pooling is recorded
    by :func:`toposcale.experiments.pretrained.activations.extract_activations` for each run), and for
    encoders the pooling the directory declares (sentence-transformers ``1_Pooling/config.json``), else
    ``cls``.
    """
    if pooling not in POOLINGS:
        raise PretrainedError(f"pretrained.pooling = {pooling!r}; use one of {POOLINGS}")
    if pooling != "auto":
        return pooling
    if kind == "decoder":
        return "mean"
    return (declared_pooling(path) if path is not None else None) or "cls"
