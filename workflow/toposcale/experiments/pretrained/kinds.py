"""The encoder/decoder question of the pretrained comparison: one value per model, a gate, one verdict.

The unit is the **distinct pretrained model**: the study's own trained decoders (origin ``trained``) do not
count, and the corpora of one model are not independent models. Per model, the value is the mean over its
corpora of ``log(expansion_ratio_null)`` (the null-adjusted expansion ratio, see
:mod:`toposcale.experiments.pretrained`); a model whose ratio is undefined on every corpus (degenerate
embedding cloud) has no value and does not count.

Gate: with fewer than ``min_per_kind`` models with a value of either kind the verdict is
``"cannot decide: need >= k models per kind (have e encoders, d decoders)"``. Otherwise the two kinds'
values are compared by the exact two-sided Mann-Whitney U test (:func:`scipy.stats.mannwhitneyu`,
``method="exact"``); the verdict is ``"encoders higher"`` or ``"decoders higher"`` (by the medians) where
``p < alpha``, else ``"no difference detected"``. The exact two-sided test cannot reach p < 0.05 with
fewer than 4 models per kind (its smallest p at 3 + 3 is 2 / C(6, 3) = 0.1), so ``min_per_kind`` below 4
can never give a difference at alpha 0.05; the configured value and its power are in
:mod:`toposcale.operating.pretrained`.

Whatever the verdict, kind is confounded with the per-model confounds the table records
(:data:`toposcale.experiments.pretrained.tables.CONFOUND_COLUMNS` and ``n_params``): in the packaged set
both decoders are 4-bit GGUF files and both encoders full precision, so a kind difference is also a
quantisation difference. :func:`confounds_aligned` names the confounds whose values split exactly along
kind.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

#: The metric compared between kinds (a column of ``pretrained.csv``).
KIND_METRIC = "expansion_ratio_null"
VERDICTS = ("encoders higher", "decoders higher", "no difference detected")


def model_values(table: pd.DataFrame, metric: str = KIND_METRIC) -> pd.DataFrame:
    """One row per distinct pretrained model: model, kind, ``value`` (mean over corpora of ``log(metric)``
    over the corpora where it is finite and positive; NaN when none), ``n_corpora`` (those corpora), sorted by
    model; ``kind`` is the model's first row's (model names are unique, :func:`model_specs`).

    numpy rather than a pandas groupby: the operating-characteristics check calls this once per simulated study.
    """
    names, kinds, value, count = _values(table, metric)
    return pd.DataFrame({"model": names, "kind": kinds, "value": value, "n_corpora": count},
                        columns=["model", "kind", "value", "n_corpora"])


def _values(table: pd.DataFrame, metric: str):
    """(model names, kinds, values, corpus counts) as arrays (see :func:`model_values`)."""
    keep = (table["origin"] != "trained").to_numpy() if "origin" in table else np.ones(len(table), bool)
    models = table["model"].to_numpy()[keep].astype(str)
    kinds = table["kind"].to_numpy()[keep]
    v = (pd.to_numeric(table[metric], errors="coerce").to_numpy(dtype=np.float64)[keep] if metric in table
         else np.full(len(models), np.nan))
    names, first, inv = np.unique(models, return_index=True, return_inverse=True)
    ok = np.isfinite(v) & (v > 0)
    logs = np.bincount(inv, weights=np.log(np.where(ok, v, 1.0)), minlength=len(names))
    count = np.bincount(inv, weights=ok.astype(np.float64), minlength=len(names))
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(count > 0, logs / np.maximum(count, 1), np.nan)
    return names, kinds[first], value, count.astype(int)


def encoder_decoder_verdict(table: pd.DataFrame, min_per_kind: int, alpha: float = 0.05,
                            metric: str = KIND_METRIC) -> dict:
    """The gated encoder/decoder verdict (module doc) from the multi-model table ``pretrained.csv``.

    Returns
    -------
    dict
        ``verdict``; ``n_encoders``, ``n_decoders`` (models with a value), ``n_undefined`` (pretrained
        models without one), ``min_per_kind``; ``p_value``, ``u_statistic`` (U of the encoders), and
        ``median_encoders`` / ``median_decoders`` (of the per-model log ratios), NaN when gated.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["a", "b"], "kind": ["encoder", "decoder"], "origin": "builtin",
    ...                   "expansion_ratio_null": [2.0, 1.5]})
    >>> encoder_decoder_verdict(t, 4)["verdict"]
    'cannot decide: need >= 4 models per kind (have 1 encoders, 1 decoders)'
    """
    if int(min_per_kind) < 1:
        raise ValueError(f"min_per_kind = {min_per_kind}; set pretrained.min_models_per_kind >= 1")
    _, kinds, value, _ = _values(table, metric)
    ok = np.isfinite(value)
    enc, dec = value[ok & (kinds == "encoder")], value[ok & (kinds == "decoder")]
    out = {"n_encoders": int(enc.size), "n_decoders": int(dec.size), "n_undefined": int((~ok).sum()),
           "min_per_kind": int(min_per_kind), "p_value": float("nan"), "u_statistic": float("nan"),
           "median_encoders": float(np.median(enc)) if enc.size else float("nan"),
           "median_decoders": float(np.median(dec)) if dec.size else float("nan")}
    if min(enc.size, dec.size) < int(min_per_kind):
        out["verdict"] = (f"cannot decide: need >= {int(min_per_kind)} models per kind "
                          f"(have {enc.size} encoders, {dec.size} decoders)")
        return out
    res = mannwhitneyu(enc, dec, alternative="two-sided", method="exact")
    out["p_value"], out["u_statistic"] = float(res.pvalue), float(res.statistic)
    if res.pvalue < alpha:
        out["verdict"] = VERDICTS[0] if out["median_encoders"] > out["median_decoders"] else VERDICTS[1]
    else:
        out["verdict"] = VERDICTS[2]
    return out


def confounds_aligned(table: pd.DataFrame, columns=("quantisation", "instruction_tuned", "tokenizer")) -> list[str]:
    """The confound columns whose values split exactly along kind among the pretrained models: every
    encoder's value differs from every decoder's (so the confound cannot be told apart from kind)."""
    pre = table[table["origin"] != "trained"].drop_duplicates("model") if "origin" in table else table
    out = []
    for col in columns:
        if col not in pre:
            continue
        enc = set(pre.loc[pre["kind"] == "encoder", col].astype(str))
        dec = set(pre.loc[pre["kind"] == "decoder", col].astype(str))
        if enc and dec and not enc & dec:
            out.append(col)
    return out


#: Columns of ``analysis/pretrained_kinds.csv`` (:func:`kind_table`).
KIND_COLUMNS = ("model", "kind", "value", "n_corpora", "n_params", "quantisation", "instruction_tuned", "tokenizer",
                "verdict", "p_value", "n_encoders", "n_decoders", "min_per_kind", "confounded_by")


def kind_table(table: pd.DataFrame, min_per_kind: int, alpha: float = 0.05) -> pd.DataFrame:
    """``analysis/pretrained_kinds.csv``: one row per distinct pretrained model of ``pretrained.csv``.

    Columns (:data:`KIND_COLUMNS`): ``model``, ``kind``; ``value`` = mean over corpora of
    ``log(expansion_ratio_null)`` and ``n_corpora`` (:func:`model_values`); the confounds ``n_params``,
    ``quantisation``, ``instruction_tuned``, ``tokenizer`` (first row of the model); and, repeated on
    every row, the study's verdict (:func:`encoder_decoder_verdict`: ``verdict``, ``p_value``,
    ``n_encoders``, ``n_decoders``, ``min_per_kind``) and ``confounded_by`` (:func:`confounds_aligned`,
    comma-separated; empty when no confound splits along kind).
    """
    vals = model_values(table)
    verdict = encoder_decoder_verdict(table, min_per_kind, alpha)
    aligned = ", ".join(confounds_aligned(table))
    pre = table[table["origin"] != "trained"] if "origin" in table else table
    first = pre.drop_duplicates("model").set_index("model")
    rows = []
    for r in vals.itertuples():
        f = first.loc[r.model] if r.model in first.index else {}
        rows.append({"model": r.model, "kind": r.kind, "value": r.value, "n_corpora": r.n_corpora,
                     **{c: f.get(c) if hasattr(f, "get") else None
                        for c in ("n_params", "quantisation", "instruction_tuned", "tokenizer")},
                     "verdict": verdict["verdict"], "p_value": verdict["p_value"],
                     "n_encoders": verdict["n_encoders"], "n_decoders": verdict["n_decoders"],
                     "min_per_kind": verdict["min_per_kind"], "confounded_by": aligned})
    return pd.DataFrame(rows, columns=list(KIND_COLUMNS))
