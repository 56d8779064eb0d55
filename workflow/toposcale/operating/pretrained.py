"""Operating characteristics of the pretrained encoder/decoder verdict
(:func:`toposcale.experiments.pretrained.kinds.encoder_decoder_verdict`).

Each simulated study is a ``pretrained.csv`` table at the design's numbers of distinct pretrained models
per kind (``pretrained.builtin`` plus ``pretrained.models``, counted by
:func:`toposcale.experiments.pretrained.model_specs`; the study's trained decoders do not count), one row
per model and corpus (``pretrained.corpora``), which goes through the real verdict function with the
configured ``pretrained.min_models_per_kind``.

Model of one model's null-adjusted expansion ratio on one corpus: ``log r = mu_kind + b_model + e_corpus``
with a between-model deviation ``b ~ N(0, MODEL_SD)`` and a corpus deviation ``e ~ N(0, CORPUS_SD)``.
Planted effect: encoders above decoders by ``DIFF = log(1.1) = 0.095`` in log null-adjusted expansion
ratio, a 10% difference: the smallest worth reporting, chosen as a round number above the corpus spread of
one model (up to 6%). Both spreads are the values observed in the README's pretrained run (commit 4c0cdfe:
MiniLM, all-mpnet-base-v2, SmolLM2-135M, Gemma-3-270M on KJV and pydocs; log null-adjusted ratios 0.022 to
0.131): ``CORPUS_SD = 0.028`` is the pooled sd of each model's two corpus values about its mean (4 models, 4
dof); ``MODEL_SD = 0.028`` is the pooled within-kind sd of the models' means (2 + 2 models, 2 dof, so
uncertain by a factor of about 2: at twice this sd the power at 6 models per kind is 0.66 instead of 0.985).

Negative controls: ``no encoder/decoder difference`` (``mu`` equal); ``confound only`` (no kind effect,
but the 4-bit quantised models are shifted by ``DIFF``; in the packaged set every decoder is 4-bit and
every encoder full precision, so the shift splits exactly along kind). The second control's FPR is the
rate at which the verdict reports a kind difference that is a quantisation difference: it equals the power
whenever the confound is aligned with kind, which is why the report says the comparison is confounded.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from toposcale.experiments.pretrained.kinds import VERDICTS, encoder_decoder_verdict
from toposcale.operating.characteristics import Characteristic, Design, proportion, register

#: Verdict key (``verdict`` column; :func:`toposcale.report.operating.power_note` key in the report).
VERDICT = "pretrained: encoders vs decoders, null-adjusted expansion ratio"
#: Planted difference in log null-adjusted expansion ratio (module doc: a 10% difference).
DIFF = math.log(1.1)
#: Observed corpus-level and between-model sds, in log null-adjusted ratio (module doc; README commit 4c0cdfe).
CORPUS_SD = 0.028
MODEL_SD = 0.028
CONTROLS = ("no encoder/decoder difference", "confound only: 4-bit decoders shifted, no kind effect")


def settings(design: Design) -> dict:
    """The ``pretrained`` config section: ``design.extra['pretrained']`` filled with the schema defaults."""
    from toposcale.config import SCHEMA_PATH, _fill_defaults, _load_yaml

    cfg = dict(design.extra.get("pretrained", {}))
    _fill_defaults(cfg, _load_yaml(SCHEMA_PATH)["properties"]["pretrained"])
    return cfg


def models_per_kind(cfg: dict) -> tuple[int, int, int]:
    """(encoders, decoders, corpora) of the configured comparison (distinct pretrained models)."""
    from toposcale.experiments.pretrained import corpus_sources, model_specs

    specs = model_specs(cfg, "/nonexistent")  # names and kinds only; no package is located
    return (sum(s.kind == "encoder" for s in specs), sum(s.kind == "decoder" for s in specs),
            max(1, len(corpus_sources(cfg))))


def simulate_verdicts(n_enc: int, n_dec: int, n_corpora: int, min_per_kind: int, n_sim: int, rng,
                      kind_effect: float, confound_effect: float = 0.0) -> list[str]:
    """Verdicts of ``n_sim`` simulated studies (module doc); decoders are the quantised models."""
    kinds = np.array(["encoder"] * n_enc + ["decoder"] * n_dec)
    shift = np.where(kinds == "encoder", kind_effect, 0.0) + np.where(kinds == "decoder", confound_effect, 0.0)
    out = []
    names = [f"m{i}" for i in range(len(kinds))]
    for _ in range(n_sim):
        b = rng.normal(0.0, MODEL_SD, len(kinds))
        logr = (shift + b)[:, None] + rng.normal(0.0, CORPUS_SD, (len(kinds), n_corpora))
        table = pd.DataFrame({"model": np.repeat(names, n_corpora), "kind": np.repeat(kinds, n_corpora),
                              "origin": "builtin", "expansion_ratio_null": np.exp(logr).ravel()})
        out.append(encoder_decoder_verdict(table, min_per_kind)["verdict"])
    return out


def power_by_models_per_kind(ns, n_sim: int, seed: int = 0, n_corpora: int = 2, min_per_kind: int = 1) -> dict:
    """``{n: power}`` of "encoders higher" at the planted effect with ``n`` models of each kind (the evidence
    for ``pretrained.min_models_per_kind``: the smallest ``n`` with power >= 0.8)."""
    rng = np.random.default_rng(seed)
    return {int(n): proportion(sum(v == VERDICTS[0] for v in simulate_verdicts(
        n, n, n_corpora, min_per_kind, n_sim, rng, DIFF)), n_sim)[0] for n in ns}


@register("pretrained")
def pretrained_checks(design: Design, n_sim: int, seed: int) -> list[Characteristic]:
    """Power of "encoders higher" at the planted effect; FPR with no difference and with a confound only."""
    cfg = settings(design)
    n_enc, n_dec, n_corp = models_per_kind(cfg)
    k = int(cfg["min_models_per_kind"])
    rng = np.random.default_rng(seed)
    p, pse = proportion(sum(v == VERDICTS[0] for v in simulate_verdicts(n_enc, n_dec, n_corp, k, n_sim, rng, DIFF)),
                        n_sim)
    planted = f"encoders above decoders by {DIFF:.3f} in log null-adjusted expansion ratio (a 10% difference)"
    note = (f"{n_enc} encoders, {n_dec} decoders, {n_corp} corpora, gate >= {k} per kind; between-model sd "
            f"{MODEL_SD} (observed, 2 + 2 models, 2 dof) and corpus sd {CORPUS_SD} (observed, 4 models x 2 corpora), "
            f"README commit 4c0cdfe; exact two-sided Mann-Whitney at alpha 0.05")
    rows = []
    for control, kind_eff, conf_eff in ((CONTROLS[0], 0.0, 0.0), (CONTROLS[1], 0.0, -DIFF)):
        verdicts = simulate_verdicts(n_enc, n_dec, n_corp, k, n_sim, rng, kind_eff, conf_eff)
        f, fse = proportion(sum(v in VERDICTS[:2] for v in verdicts), n_sim)
        rows.append(Characteristic(VERDICT, "pretrained", f"{design.describe()}; {n_enc} enc + {n_dec} dec models",
                                   planted, p, pse, control, f, fse, n_sim, note))
    return rows
