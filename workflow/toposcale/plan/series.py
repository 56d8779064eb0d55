"""Checkpoint series as runs: the plan of the config's ``series`` section (pure, light imports).

A series (a published or locally saved sequence of Hugging Face checkpoints of one model) becomes a run
named ``series-{name}``. It flows through the trained runs' stages from the clouds on
(``clouds/{run}/step{step}.npz``, persistence with the matched nulls, ``metrics/{run}.parquet``, dynamics,
transitions, figures); its ``runs/{run}/log.csv`` and ``run.json`` are written by the series job
(:mod:`toposcale.experiments.series`) instead of a training job. Series are never part of the scaling fits
(they are not points of the study's size grid).

Layer names are those of :func:`toposcale.plan.study.layer_names`: ``embed``, ``block00`` .. for weights,
plus ``final`` (after the final norm) for decoder activations; encoders have no ``final`` layer.

Each checkpoint is a dict ``{"step", "tokens", "path"}`` (a model directory) or ``{"step", "tokens",
"hub_id", "revision"}`` (loaded with ``from_pretrained(hub_id, revision=...)``).

Examples
--------
>>> from toposcale.config import validate_config
>>> cfg = validate_config({"results": "out", "series": [{"name": "tiny", "n_layers": 2, "checkpoints": [
...     {"step": 0, "tokens": 0, "path": "{results}/series_fixture/step0000000"},
...     {"step": 10, "tokens": 640, "path": "{results}/series_fixture/step0000010"}]}]})
>>> s = series_runs(cfg)[0]
>>> s.name, s.steps, s.checkpoints[1]["path"]
('series-tiny', [0, 10], 'out/series_fixture/step0000010')
>>> series_layers(s, "weights"), series_layers(s, "activations")[-1]
(['embed', 'block00', 'block01'], 'final')
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from toposcale.plan.study import layer_names

#: Prefix of every series run name.
PREFIX = "series-"


class SeriesError(ValueError):
    """A ``series`` entry of the config is inconsistent or its checkpoints cannot be found."""


@dataclass(frozen=True)
class SeriesSpec:
    """One checkpoint series as a run (``to_dict`` gives it as a plain dict for the series job)."""

    name: str
    series: str
    kind: str
    n_layers: int
    pooling: str
    max_tokens: int
    max_points: int
    loss_bytes: int
    loss_tokens: int
    checkpoints: list = field(default_factory=list)

    @property
    def steps(self) -> list[int]:
        return [int(c["step"]) for c in self.checkpoints]

    @property
    def d_model(self) -> int:
        """Unknown before loading; 0 (only used to order jobs)."""
        return 0

    def to_dict(self) -> dict:
        return asdict(self)


def _n_layers_from_dir(path: Path) -> int | None:
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        return None
    cfg = json.loads(cfg_file.read_text())
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        if isinstance(cfg.get(key), int):
            return cfg[key]
    return None


def _checkpoints(entry: dict, results: str) -> list[dict]:
    where = f"series {entry['name']!r}"
    if entry["checkpoints"] and entry["hub_id"]:
        raise SeriesError(f"config error: {where} has both checkpoints and hub_id; give one of them")
    if entry["checkpoints"]:
        ckpts = [{"step": int(c["step"]), "tokens": int(c["tokens"]),
                  "path": c["path"].replace("{results}", results)} for c in entry["checkpoints"]]
    elif entry["hub_id"]:
        lists = {k: entry[k] for k in ("revisions", "steps", "tokens")}
        if not lists["revisions"] or len({len(v) for v in lists.values()}) != 1:
            raise SeriesError(f"config error: {where}: revisions, steps and tokens must be non-empty lists of the "
                              f"same length (got {[len(v) for v in lists.values()]})")
        ckpts = [{"step": int(s), "tokens": int(t), "hub_id": entry["hub_id"], "revision": r}
                 for r, s, t in zip(lists["revisions"], lists["steps"], lists["tokens"])]
    else:
        raise SeriesError(f"config error: {where} lists no checkpoints; give `checkpoints` (model directories) "
                          f"or `hub_id` with `revisions`, `steps` and `tokens`")
    steps = [c["step"] for c in ckpts]
    if steps != sorted(set(steps)):
        raise SeriesError(f"config error: {where}: checkpoint steps {steps} must be strictly increasing")
    if len(ckpts) < 2:
        raise SeriesError(f"config error: {where} has {len(ckpts)} checkpoint; a series needs at least 2")
    return ckpts


def series_runs(config: dict) -> list[SeriesSpec]:
    """The config's series as runs (see module docstring), in config order.

    ``n_layers`` is the entry's, else read from the first local checkpoint's ``config.json``; a series whose
    layer count cannot be known when the plan is built raises :class:`SeriesError` naming the key to set.
    """
    out, seen = [], set()
    for entry in config.get("series", []):
        if entry["name"] in seen:
            raise SeriesError(f"config error: two series are named {entry['name']!r}; names must be unique")
        seen.add(entry["name"])
        ckpts = _checkpoints(entry, config["results"])
        n_layers = int(entry.get("n_layers") or 0)
        if not n_layers and "path" in ckpts[0]:
            n_layers = _n_layers_from_dir(Path(ckpts[0]["path"])) or 0
        if not n_layers:
            raise SeriesError(f"config error: series {entry['name']!r}: the number of transformer blocks is unknown "
                              f"(no config.json with num_hidden_layers at its first checkpoint); set "
                              f"series[].n_layers")
        out.append(SeriesSpec(
            name=PREFIX + entry["name"], series=entry["name"], kind=entry["kind"], n_layers=n_layers,
            pooling=entry["pooling"], max_tokens=int(entry["max_tokens"]),
            max_points=int(entry["max_points"]) or int(config.get("topology", {}).get("max_points", 1024)),
            loss_bytes=int(entry["loss_bytes"]), loss_tokens=int(entry["loss_tokens"]), checkpoints=ckpts))
    return out


def series_layers(spec: SeriesSpec, source: str) -> list[str]:
    """Layer names of a series run: :func:`layer_names`, without ``final`` for an encoder's activations."""
    names = layer_names(source, spec.n_layers)
    if source == "activations" and spec.kind == "encoder":
        names = names[:-1]
    return names


def missing_checkpoints(spec: SeriesSpec, produced=lambda path: False) -> list[str]:
    """Local checkpoint directories of ``spec`` that neither exist nor are produced by a rule (``produced``)."""
    return [c["path"] for c in spec.checkpoints
            if "path" in c and not Path(c["path"], "config.json").is_file() and not produced(c["path"])]


def check_series_paths(specs, produced=lambda path: False) -> None:
    """Raise :class:`SeriesError` for the first series with checkpoint directories that are missing.

    Called when the DAG is built, so a typo stops before any job runs. ``produced(path)`` says whether a rule
    of the workflow writes that directory (the series fixture).
    """
    for spec in specs:
        missing = missing_checkpoints(spec, produced)
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise SeriesError(
                f"config error: series {spec.series!r}: checkpoint directory {missing[0]}{more} has no config.json; "
                f"give Hugging Face model directories (model.save_pretrained(DIR) and tokenizer.save_pretrained(DIR)), "
                f"or use hub_id + revisions, or enable series_fixture for paths under {{results}}/series_fixture/")


def model_dims(spec: SeriesSpec) -> dict | None:
    """Shape of the series' model from its first checkpoint's ``config.json`` (a local directory, or the
    Hugging Face cache for a hub revision), or None when it cannot be read yet (e.g. the fixture before it
    is trained): ``vocab``, ``width``, ``n_layers``, ``intermediate``, ``gated``, ``tied``, ``n_params``
    (estimated: embeddings, untied output head, 4 width^2 attention and 2 (3 when gated) width x
    intermediate MLP weights per block; biases and norms left out).

    Examples
    --------
    >>> d = _dims_from_config({"model_type": "gpt_neox", "vocab_size": 50304, "hidden_size": 768,
    ...     "num_hidden_layers": 12, "intermediate_size": 3072, "tie_word_embeddings": False})
    >>> d["n_params"]
    162201600
    """
    first = spec.checkpoints[0]
    if "path" in first:
        f = Path(first["path"], "config.json")
    else:
        try:
            from huggingface_hub import try_to_load_from_cache
            found = try_to_load_from_cache(first["hub_id"], "config.json", revision=first["revision"])
        except ImportError:
            return None
        f = Path(found) if isinstance(found, str) else None
    if f is None or not f.is_file():
        return None
    return _dims_from_config(json.loads(f.read_text()))


def _dims_from_config(cfg: dict) -> dict:
    width = cfg.get("hidden_size") or cfg.get("n_embd")
    n_layers = cfg.get("num_hidden_layers") or cfg.get("n_layer")
    inter = cfg.get("intermediate_size") or cfg.get("n_inner") or 4 * width
    vocab = cfg["vocab_size"]
    gated = cfg.get("model_type") in ("llama", "mistral", "qwen2", "gemma", "gemma3_text", "olmo")
    tied = bool(cfg.get("tie_word_embeddings", cfg.get("model_type") in ("gpt2", "bert")))
    per_block = 4 * width * width + (3 if gated else 2) * width * inter
    n = vocab * width * (1 if tied else 2) + n_layers * per_block
    return {"vocab": vocab, "width": width, "n_layers": n_layers, "intermediate": inter, "gated": gated,
            "tied": tied, "n_params": int(n)}
