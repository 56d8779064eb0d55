"""The study plan: which runs exist, their shapes, token budgets and checkpoint steps.

Everything here is a pure function of the validated config (no torch, no files), so the Snakefile
knows the whole DAG, including every checkpoint file, before training starts.

Run names are ``{activation}-{size}-s{seed}`` where ``size`` is ``d{d_model}L{n_layers}`` and, when
``training.tokens_per_param`` lists several values, gets a ``t{tokens_per_param}`` suffix
(``gelu-d64L4t40-s0``) so N and D can vary independently.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from toposcale.plan.sizing import build_shape, total_params

BYTE_VOCAB = 256


@dataclass(frozen=True)
class RunSpec:
    """One training run of the study (``to_dict`` gives it as a plain dict).

    ``n_nonembed`` and ``n_total`` are the parameter counts of :mod:`toposcale.plan.sizing`;
    ``planned_tokens = ceil(tokens_per_param * n_nonembed)``; ``tokens_per_step = batch_size *
    grad_accum * seq_len``; ``total_steps = max(1, ceil(planned_tokens / tokens_per_step))``;
    ``holdout`` is true when ``target_params`` is listed in ``model.holdout_params``.
    """

    name: str
    activation: str
    size: str
    seed: int
    target_params: int
    d_model: int
    n_layers: int
    n_heads: int
    n_nonembed: int
    n_total: int
    vocab_size: int
    tokens_per_param: float
    planned_tokens: int
    tokens_per_step: int
    total_steps: int
    holdout: bool

    def to_dict(self) -> dict:
        return asdict(self)


def vocab_size(config: dict) -> int:
    """Vocabulary size of the configured tokenizer: 256 for ``'byte'``, else ``corpus.bpe_vocab_size``."""
    c = config["corpus"]
    return BYTE_VOCAB if c["tokenizer"] == "byte" else int(c["bpe_vocab_size"])


def _tpp_label(tpp: float) -> str:
    return f"{tpp:g}".replace(".", "p")


def study_runs(config: dict) -> list[RunSpec]:
    """All training runs of the study, in a stable order (activation, size, tokens/param, seed)."""
    m, t, c = config["model"], config["training"], config["corpus"]
    vocab = vocab_size(config)
    tokens_per_step = t["batch_size"] * t["grad_accum"] * c["seq_len"]
    multi_tpp = len(t["tokens_per_param"]) > 1
    runs = []
    for act in m["activations"]:
        for target in m["target_params"]:
            shape = build_shape(target, act, head_dim=m["head_dim"], max_layers=m["max_layers"])
            for tpp in t["tokens_per_param"]:
                size = shape.label + (f"t{_tpp_label(tpp)}" if multi_tpp else "")
                planned = int(math.ceil(tpp * shape.n_nonembed))
                steps = max(1, int(math.ceil(planned / tokens_per_step)))
                for seed in m["seeds"]:
                    runs.append(RunSpec(
                        name=f"{act}-{size}-s{seed}", activation=act, size=size, seed=int(seed),
                        target_params=int(target), d_model=shape.d_model, n_layers=shape.n_layers,
                        n_heads=shape.n_heads, n_nonembed=shape.n_nonembed,
                        n_total=total_params(shape.d_model, shape.n_layers, act, vocab, c["seq_len"]),
                        vocab_size=vocab, tokens_per_param=float(tpp), planned_tokens=planned,
                        tokens_per_step=tokens_per_step, total_steps=steps,
                        holdout=target in m["holdout_params"]))
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"two target_params map to the same model shape ({dup}); "
                         f"spread model.target_params further apart")
    return runs


def run_map(config: dict) -> dict[str, RunSpec]:
    """:func:`study_runs` keyed by run name."""
    return {r.name: r for r in study_runs(config)}


def checkpoint_steps(total_steps: int, n_checkpoints: int, n_linear: int = 0) -> list[int]:
    """Step 0, at least ``n_checkpoints`` log-spaced steps in [1, total_steps], ``n_linear`` linearly
    spaced steps, and ``total_steps`` (sorted, without repeats).

    Log spacing puts most checkpoints early, where weights and losses move fastest; the linearly spaced
    steps ``round(i * total_steps / n_linear)``, i = 1..n_linear, cover mid and late training, where the
    loss drops between the n-gram stages of a language model sit. When the run has fewer steps than
    requested checkpoints, every step is a checkpoint. Callers pass the config's
    ``training.n_checkpoints`` and ``training.n_linear_checkpoints`` (:func:`run_checkpoint_steps`).

    Examples
    --------
    >>> checkpoint_steps(100, 5)
    [0, 1, 3, 10, 32, 100]
    >>> checkpoint_steps(100, 5, 4)
    [0, 1, 3, 10, 25, 32, 50, 75, 100]
    >>> checkpoint_steps(3, 25)
    [0, 1, 2, 3]
    """
    if total_steps <= max(n_checkpoints, n_linear):
        return list(range(0, total_steps + 1))
    k = n_checkpoints
    while True:
        steps = sorted({int(round(x)) for x in _geomspace(1, total_steps, k)})
        if len(steps) >= n_checkpoints or k > 10 * n_checkpoints + total_steps:
            break
        k += 1
    linear = {int(round(i * total_steps / n_linear)) for i in range(1, n_linear + 1)} if n_linear else set()
    return [0] + sorted(set(steps) | linear)


def run_checkpoint_steps(total_steps: int, training: dict) -> list[int]:
    """The checkpoint steps of a study run: :func:`checkpoint_steps` with the config's ``training``
    section (``n_checkpoints`` log-spaced, ``n_linear_checkpoints`` linearly spaced).

    Examples
    --------
    >>> run_checkpoint_steps(100, {"n_checkpoints": 5, "n_linear_checkpoints": 2})
    [0, 1, 3, 10, 32, 50, 100]
    """
    return checkpoint_steps(total_steps, int(training["n_checkpoints"]), int(training["n_linear_checkpoints"]))


def _geomspace(a: float, b: float, n: int) -> list[float]:
    if n == 1:
        return [b]
    la, lb = math.log(a), math.log(b)
    return [math.exp(la + (lb - la) * i / (n - 1)) for i in range(n)]


def bootstrap_steps(steps: list[int], n: int) -> list[int]:
    """The final checkpoint and the checkpoints nearest to final/10, final/100, ... (at most ``n``; none for 0).

    Examples
    --------
    >>> bootstrap_steps(checkpoint_steps(4336, 25), 3)
    [40, 416, 4336]
    >>> bootstrap_steps(checkpoint_steps(4336, 25), 0)
    []
    """
    nonzero = [s for s in steps if s > 0]
    final = nonzero[-1]
    chosen: list[int] = []
    for i in range(len(nonzero)):
        if len(chosen) == n:
            break
        target = math.log(final) - i * math.log(10)
        best = min(nonzero, key=lambda s: abs(math.log(s) - target))
        if best not in chosen:
            chosen.append(best)
    return sorted(chosen)


def layer_names(source: str, n_layers: int) -> list[str]:
    """Layers with a point cloud: ``embed``, ``block00`` .. and, for activations, ``final`` (after ln_f)."""
    blocks = [f"block{i:02d}" for i in range(n_layers)]
    if source == "weights":
        return ["embed"] + blocks
    if source == "activations":
        return ["embed"] + blocks + ["final"]
    raise ValueError(f"unknown source {source!r}; use 'weights' or 'activations'")
