"""One-time conversion of a GGUF checkpoint into a Hugging Face directory with safetensors weights.

Loading a quantised GGUF file through ``transformers`` dequantises every tensor in Python and takes
35-90 s for SmolLM2-135M on one CPU core; the converted directory loads in about a second. The
conversion writes ``config.json``, ``generation_config.json``, the tokenizer files and
``model.safetensors`` (float32, i.e. the dequantised values, not the original 4-bit codes) into a
temporary sibling folder and renames it into place, so an interrupted conversion never leaves a
half-written model directory behind.

Needs the optional packages ``gguf`` and ``accelerate`` (``pip install gguf accelerate``).

Command line::

    python -m toposcale.experiments.pretrained.gguf_convert MODEL.gguf OUT_DIR
"""

from __future__ import annotations

import copy
import os
import sys
import time
from pathlib import Path

import torch

from toposcale.io import atomic_dir


def _check_optional_deps() -> None:
    missing = []
    for mod in ("gguf", "accelerate"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        raise ImportError(f"converting a GGUF file needs the packages {missing}; install them with "
                          f"`pip install {' '.join(missing)}`")


def convert_gguf(gguf_path, out_dir, dtype: str = "float32", overwrite: bool = False) -> Path:
    """Dequantise ``gguf_path`` into a safetensors Hugging Face model directory ``out_dir``.

    Parameters
    ----------
    gguf_path : path-like
        A ``.gguf`` file of a causal language model whose architecture ``transformers`` can read
        (Llama, Mistral, Qwen2, Gemma, GPT-2, ...).
    out_dir : path-like
        Destination folder; created through ``{out_dir}.tmp-{pid}`` and renamed into place.
    dtype : {"float32", "bfloat16", "float16"}
        Storage type of the dequantised weights.
    overwrite : bool
        Replace an existing ``out_dir``; otherwise an existing directory is an error.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    FileNotFoundError
        ``gguf_path`` does not exist.
    FileExistsError
        ``out_dir`` exists and ``overwrite`` is false.
    ImportError
        ``gguf`` or ``accelerate`` is not installed.
    """
    gguf_path = Path(gguf_path).resolve()
    out_dir = Path(out_dir)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"GGUF file {gguf_path} does not exist")
    if gguf_path.suffix != ".gguf":
        raise ValueError(f"{gguf_path} does not end in .gguf; give a GGUF model file")
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already exists; delete it or pass overwrite=True")
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in dtypes:
        raise ValueError(f"dtype = {dtype!r}; use one of {sorted(dtypes)}")
    _check_optional_deps()
    from transformers import AutoModelForCausalLM, AutoTokenizer  # optional heavy dependency (seconds to import)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=dtypes[dtype])
    plain = _dequantised_copy(model, dtypes[dtype])
    _check_same_outputs(model, plain, tokenizer)
    del model
    with atomic_dir(out_dir) as tmp:
        plain.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "SOURCE").write_text(f"converted from {gguf_path} ({gguf_path.stat().st_size} bytes) "
                                    f"by toposcale.experiments.pretrained.gguf_convert, dtype {dtype}\n")
        if not (tmp / "model.safetensors").exists() and not (tmp / "model.safetensors.index.json").exists():
            raise RuntimeError(f"save_pretrained wrote no safetensors file into {tmp}")
    return out_dir


def _dequantised_copy(model, dtype):
    """A plain (non-quantised) model of the same architecture holding ``model``'s dequantised weights.

    ``transformers`` marks a model loaded from GGUF as quantised and refuses to ``save_pretrained``
    it, even when every tensor was dequantised at load time; rebuilding from the config (without its
    ``quantization_config``) and copying the state dict strictly gives an ordinary, serialisable model.
    """
    from transformers import AutoModelForCausalLM  # optional heavy dependency (seconds to import)

    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=dtype)
    state = {k: v.to(dtype) for k, v in model.state_dict().items()}
    missing, unexpected = plain.load_state_dict(state, strict=False)
    # tied output embeddings may be absent from the source state dict; anything else is an error
    tied = set(getattr(plain, "_tied_weights_keys", None) or [])
    missing = [k for k in missing if k not in tied]
    if missing or unexpected:
        raise RuntimeError(f"GGUF state dict does not match the architecture {type(plain).__name__}: "
                           f"missing {missing[:5]}, unexpected {unexpected[:5]}")
    if getattr(config, "tie_word_embeddings", False):
        plain.tie_weights()
    plain.eval()
    return plain


def _check_same_outputs(a, b, tokenizer, atol: float = 1e-3) -> None:
    """Raise if the two models' logits on a short fixed text differ by more than ``atol``."""
    ids = tokenizer("In the beginning was the Word.", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        la = a(input_ids=ids).logits.float()
        lb = b(input_ids=ids).logits.float()
    err = float((la - lb).abs().max())
    if not err <= atol:
        raise RuntimeError(f"converted model's logits differ from the GGUF model's by {err:.3g} (> {atol}); "
                           f"the conversion is not faithful")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m toposcale.experiments.pretrained.gguf_convert MODEL.gguf OUT_DIR", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    out = convert_gguf(argv[0], argv[1])
    print(f"wrote {out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
