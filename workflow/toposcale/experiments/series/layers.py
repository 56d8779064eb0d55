"""Weight clouds of Hugging Face models: one point per MLP intermediate neuron, per block.

For block ``i`` the cloud has one point per intermediate (hidden) neuron of the MLP: the neuron's row of
the MLP's first linear map, a ``hidden_size``-dimensional vector (its input weights), so the cloud has
``intermediate_size`` points, as the trained runs' ``mlp_in`` clouds of GELU models. Where the first map
is gated (Llama's ``gate_proj`` and ``up_proj``), a neuron's point is its gate row followed by its up row
(``2 * hidden_size`` dimensions, still one point per neuron). ``embed`` is the input token-embedding
matrix (one point per vocabulary entry). Biases are not part of the points.

Architectures (``config.model_type``) and the module holding the first MLP map, relative to a block:

* ``gpt_neox`` (Pythia): ``mlp.dense_h_to_4h`` (``nn.Linear``, weight (intermediate, hidden));
* ``llama``: ``mlp.gate_proj`` and ``mlp.up_proj`` (``nn.Linear``);
* ``gpt2``: ``mlp.c_fc`` (``Conv1D``, which stores its weight transposed, (hidden, intermediate): the
  points are the columns);
* ``bert``: ``intermediate.dense`` (``nn.Linear``).

Another architecture gets :class:`UnknownArchitecture` naming the entry of :data:`MLP_INPUT` to add.
"""

from __future__ import annotations

import numpy as np

from toposcale.experiments.pretrained.activations import _block_list

#: model_type -> (module paths of the first MLP map relative to a block, stored transposed?)
MLP_INPUT = {
    "gpt_neox": (("mlp.dense_h_to_4h",), False),
    "llama": (("mlp.gate_proj", "mlp.up_proj"), False),
    "gpt2": (("mlp.c_fc",), True),
    "bert": (("intermediate.dense",), False),
}


class UnknownArchitecture(ValueError):
    """The model's architecture has no entry in :data:`MLP_INPUT`."""


def _module(root, dotted: str):
    mod = root
    for part in dotted.split("."):
        mod = getattr(mod, part)
    return mod


def mlp_input_points(block, model_type: str) -> np.ndarray:
    """The points of one block: (intermediate_size, width) float64 array (see module docstring)."""
    if model_type not in MLP_INPUT:
        raise UnknownArchitecture(
            f"model_type {model_type!r} has no weight-cloud layer mapping; add an entry "
            f"'{model_type}': ((<path of the MLP's first linear map relative to a block>, ...), <stored transposed?>) "
            f"to MLP_INPUT in toposcale/experiments/series/layers.py (known: {sorted(MLP_INPUT)})")
    paths, transposed = MLP_INPUT[model_type]
    parts = []
    for p in paths:
        w = _module(block, p).weight.detach().float().cpu().numpy().astype(np.float64)
        parts.append(w.T if transposed else w)
    return np.concatenate(parts, axis=1)


def hf_weight_clouds(model) -> dict[str, np.ndarray]:
    """``embed`` (input embeddings) and ``block{i:02d}`` (MLP input neurons) clouds of a Hugging Face model."""
    model_type = model.config.model_type
    if model_type not in MLP_INPUT:
        mlp_input_points(None, model_type)  # raises the error naming what to add
    out = {"embed": model.get_input_embeddings().weight.detach().float().cpu().numpy().astype(np.float64)}
    for i, block in enumerate(_block_list(model)):
        out[f"block{i:02d}"] = mlp_input_points(block, model_type)
    return out
