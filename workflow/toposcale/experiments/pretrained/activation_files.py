"""The activations file of one (model, corpus): pooled per-layer vectors, per-text token counts and NLL.

numpy only, so the persistence job that reads the file does not import torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toposcale.io import savez_atomic

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
    distinct : dict
        ``{pooling: {layer: number of distinct pooled vectors}}`` for every pooling (the evidence for the
        pooling choice); stored in the meta as ``distinct_by_pooling``.
    """

    layers: dict
    n_tokens: np.ndarray
    nll_sum: np.ndarray
    n_predicted: np.ndarray
    pooling: str
    seconds: float
    distinct: dict | None = None


def save_activations(path, acts: Activations, meta: dict) -> None:
    """Write activations (``layer/{name}``), per-text token counts and NLL, and ``meta`` (JSON) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {f"layer/{k}": v for k, v in acts.layers.items()}
    payload["n_tokens"] = acts.n_tokens
    payload["nll_sum"] = acts.nll_sum
    payload["n_predicted"] = acts.n_predicted
    payload["meta"] = np.asarray(json.dumps({**meta, "layers": list(acts.layers), "pooling": acts.pooling,
                                             "extract_seconds": acts.seconds,
                                             "distinct_by_pooling": acts.distinct or {}}))
    savez_atomic(path, **payload)


def load_activations(path) -> tuple[dict, dict, dict]:
    """Read :func:`save_activations` output: ``(layers, per_text, meta)`` with layers in depth order."""
    with np.load(Path(path), allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        layers = {name: npz[f"layer/{name}"] for name in meta["layers"]}
        per_text = {k: npz[k] for k in ("n_tokens", "nll_sum", "n_predicted")}
    return layers, per_text, meta
