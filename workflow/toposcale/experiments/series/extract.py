"""The series job: per checkpoint a clouds file in the trained runs' format, and the run's log.csv and run.json.

Per checkpoint of a series (:class:`toposcale.plan.series.SeriesSpec`, as a dict):

* the model is loaded (a local directory with :func:`toposcale.experiments.pretrained.loading.load_model`;
  a hub revision with ``from_pretrained(hub_id, revision=...)``, offline from the Hugging Face cache when
  ``HF_HUB_OFFLINE=1``), float32, eager attention;
* *weights*: :func:`toposcale.experiments.series.layers.hf_weight_clouds` (``embed``: token embeddings;
  ``blockNN``: one point per MLP intermediate neuron);
* *activations*: the study's probe set (``probe.npy``: windows of the validation split) decoded back to
  text and tokenised by the model's own tokenizer, truncated to ``max_tokens`` tokens, pooled per text
  (``pooling``: mean over real tokens, or the last) by
  :func:`toposcale.experiments.pretrained.activations.extract_activations` (``embed``, ``blockNN``, and
  ``final`` after the final norm for decoders);
* both go through :func:`toposcale.topology.clouds.write_clouds` exactly as a trained run's: baselines,
  PCA of activations to ``topology.pca_components``, seeded subsampling to ``max_points`` (the series' own,
  else ``topology.max_points``), finiteness checks;
* the loss: :func:`toposcale.experiments.series.loss.nll_per_byte` on the validation split (decoders; NaN
  for encoders).

``log.csv`` has the trained runs' columns (``step, tokens, train_loss, val_loss, lr, tokens_per_s,
elapsed_s``; ``val_loss`` = nats per UTF-8 byte, ``train_loss``, ``lr`` and ``tokens_per_s`` NaN: not
published) plus ``val_loss_per_token, val_tokens, val_bytes``. ``run.json`` has the run descriptors the
summaries read (``activation`` = ``"series"``, ``size`` = the series name, ``seed`` 0, ``holdout`` false,
``target_params`` = ``n_nonembed``) and the series facts, including ``stages_applicable`` and
``stages_reason`` for the n-gram stage table, and ``cloud_points``: per ``{source}/{layer}`` the points of
the cloud before and after subsampling to ``max_points`` (the same rows at every checkpoint).
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from toposcale.experiments.pretrained.activations import extract_activations, model_facts
from toposcale.experiments.pretrained.errors import PretrainedError
from toposcale.experiments.pretrained.loading import load_model
from toposcale.experiments.series.layers import hf_weight_clouds
from toposcale.experiments.series.loss import nll_per_byte, validation_text
from toposcale.io import atomic_path, versions
from toposcale.plan.series import SeriesSpec, series_layers
from toposcale.topology.clouds import write_clouds
from toposcale.train.trainer import LOG_COLUMNS, pick_device

#: Extra columns of a series' log.csv after the trained runs' LOG_COLUMNS.
EXTRA_LOG_COLUMNS = ["val_loss_per_token", "val_tokens", "val_bytes"]


def load_checkpoint(ckpt: dict, kind: str, device: str = "cpu"):
    """(model, tokenizer) of one checkpoint dict (``path``, or ``hub_id`` + ``revision``)."""
    if "path" in ckpt:
        return load_model(ckpt["path"], kind, device=device)
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    cls = AutoModelForCausalLM if kind == "decoder" else AutoModel
    where = f"{ckpt['hub_id']}@{ckpt['revision']}"
    try:
        model = cls.from_pretrained(ckpt["hub_id"], revision=ckpt["revision"], trust_remote_code=False,
                                    dtype=torch.float32, attn_implementation="eager")
        tokenizer = AutoTokenizer.from_pretrained(ckpt["hub_id"], revision=ckpt["revision"], trust_remote_code=False)
    except OSError as exc:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
        hint = ("it is not in the Hugging Face cache (HF_HUB_OFFLINE is set): download it first "
                "(huggingface-cli download HUB_ID --revision REV) or point HF_HOME at a filled cache"
                if offline else "check the hub id, the revision and your network")
        raise PretrainedError(f"series checkpoint {where} could not be loaded: {hint} ({exc})") from None
    model.to(device).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return model, tokenizer


def probe_texts(probe_path, corpus_tokenizer_path) -> list[str]:
    """The study's probe windows (``probe.npy``) decoded to text with the corpus tokenizer (byte or BPE)."""
    probe = np.load(probe_path)
    spec = json.loads(Path(corpus_tokenizer_path).read_text())
    if spec.get("type") == "byte":
        texts = [bytes(int(t) for t in row).decode("utf-8", errors="replace") for row in probe]
    else:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_str(Path(corpus_tokenizer_path).read_text())
        texts = [tok.decode([int(t) for t in row]) for row in probe]
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise PretrainedError(f"probe set {probe_path} decodes to no non-empty texts")
    return texts


def stage_note(tokenizer, sample: str) -> tuple[str, bool, str]:
    """``(stage_units, stages_applicable, stages_reason)`` for the n-gram stage table of a series.

    The corpus n-gram stage levels are conditional entropies of bytes: they apply when the tokenizer is
    byte-level, i.e. tokenises ``sample`` into exactly one token per UTF-8 byte; otherwise not (a subword
    tokenizer), with the measured bytes per token in the reason.
    """
    n_tok = len(tokenizer(sample, add_special_tokens=False)["input_ids"])
    n_bytes = len(sample.encode("utf-8"))
    if n_tok == n_bytes:
        return "bytes", True, ""
    return ("subword tokens", False,
            f"the model's tokenizer is subword ({len(tokenizer)} entries, {n_bytes / max(n_tok, 1):.2f} bytes per "
            f"token on the probe texts): the corpus n-gram stage levels are conditional entropies of bytes, and "
            f"the model's loss per token is in its own units, so the byte stages do not mark its plateaus")


def checkpoint_clouds(model, tokenizer, spec: dict, texts: list[str], sources) -> dict:
    """Raw clouds ``{source: {layer: array}}`` of one loaded checkpoint (before PCA and subsampling)."""
    clouds = {}
    if "weights" in sources:
        clouds["weights"] = hf_weight_clouds(model)
    if "activations" in sources:
        acts = extract_activations(model, tokenizer, texts, spec["kind"], spec["pooling"],
                                   max_tokens=spec["max_tokens"])
        clouds["activations"] = {k: v.astype(np.float64) for k, v in acts.layers.items()}
    for source, layers in clouds.items():
        want = _planned_layers(spec, source)
        if list(layers) != want:
            raise PretrainedError(f"series {spec['series']!r}: the model gives {source} layers {list(layers)}, the "
                                  f"plan expects {want}; set series[].n_layers to the model's number of blocks")
    return clouds


def _planned_layers(spec: dict, source: str) -> list[str]:
    return series_layers(SeriesSpec(**spec), source)


def extract_series(spec: dict, config: dict, probe_path, corpus_tokenizer_path, clouds_out: list, log_csv, run_json,
                   threads: int = 1, device: str | None = None, log=print) -> dict:
    """Write the clouds of every checkpoint of ``spec`` (aligned with ``clouds_out``), log.csv and run.json.

    ``device`` None: :func:`toposcale.train.trainer.pick_device` of ``config["training"]["device"]`` (CUDA
    when visible and ``auto``; the computation stays float32 on every device).
    """
    torch.set_num_threads(max(1, threads))
    if device is None:
        device = pick_device(config.get("training", {}).get("device", "cpu"))
    topo = {**config["topology"], "max_points": spec["max_points"]}
    texts = probe_texts(probe_path, corpus_tokenizer_path)
    val_text = validation_text(config["corpus"], spec["loss_bytes"]) if spec["kind"] == "decoder" else None
    rows, facts, stages, sources, subsampled = [], {}, None, [], {}
    for ckpt, out in zip(spec["checkpoints"], clouds_out):
        t0 = time.perf_counter()
        model, tokenizer = load_checkpoint(ckpt, spec["kind"], device=device)
        load_s = time.perf_counter() - t0
        facts = model_facts(model)
        stages = stage_note(tokenizer, "".join(texts[:8]))
        clouds = checkpoint_clouds(model, tokenizer, spec, texts, config["topology"]["sources"])
        write_clouds(out, clouds, topo, config["seed"], where=f"series {spec['series']}, step {ckpt['step']}")
        subsampled = {f"{src}/{layer}": [len(X), min(len(X), topo["max_points"])]
                      for src, layers in clouds.items() for layer, X in layers.items()}
        sources.append(ckpt["path"] if "path" in ckpt else f"{ckpt['hub_id']}@{ckpt['revision']}")
        loss = (nll_per_byte(model, tokenizer, val_text, spec["loss_tokens"]) if val_text is not None
                else {"loss_per_byte": math.nan, "loss_per_token": math.nan, "n_tokens": 0, "n_bytes": 0})
        rows.append({"step": ckpt["step"], "tokens": ckpt["tokens"], "train_loss": math.nan,
                     "val_loss": loss["loss_per_byte"], "lr": math.nan, "tokens_per_s": math.nan,
                     "elapsed_s": time.perf_counter() - t0, "val_loss_per_token": loss["loss_per_token"],
                     "val_tokens": loss["n_tokens"], "val_bytes": loss["n_bytes"]})
        log(f"[{spec['name']}] step {ckpt['step']}: loaded in {load_s:.1f} s, val loss {loss['loss_per_byte']:.4f} "
            f"nats/byte, clouds {Path(out).name} ({time.perf_counter() - t0:.1f} s)")
        del model
    with atomic_path(log_csv) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=LOG_COLUMNS + EXTRA_LOG_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    last = spec["checkpoints"][-1]
    n_nonembed = facts["n_nonembed"]
    info = {
        "name": spec["name"], "series": spec["series"], "is_series": True, "activation": "series",
        "size": spec["series"], "seed": 0, "target_params": n_nonembed, "n_nonembed": n_nonembed,
        "n_total": facts["n_params"], "holdout": False, "d_model": facts["width"], "n_layers": facts["n_layers"],
        "architecture": facts["architecture"], "model_type": facts["model_type"], "kind": spec["kind"],
        "tokens_per_param": last["tokens"] / n_nonembed if n_nonembed else math.nan,
        "planned_tokens": last["tokens"], "tokens_seen": last["tokens"], "total_steps": last["step"],
        "checkpoint_steps": [c["step"] for c in spec["checkpoints"]], "final_val_loss": rows[-1]["val_loss"],
        "loss_unit": "nats per UTF-8 byte of the validation split (toposcale.experiments.series.loss)",
        "stage_units": stages[0], "stages_applicable": stages[1], "stages_reason": stages[2],
        "pooling": spec["pooling"], "max_tokens": spec["max_tokens"], "max_points": spec["max_points"],
        "cloud_points": subsampled,
        "n_probe": len(texts), "checkpoint_sources": sources, "spec": spec, "device": device,
        "versions": versions("torch", "transformers")}
    with atomic_path(run_json) as tmp:
        tmp.write_text(json.dumps(info, indent=2))
    return info
