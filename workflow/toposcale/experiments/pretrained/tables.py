"""Tables of the pretrained comparison: one row per (model, corpus), corpus contrasts, the long layer table.

Also the trained runs' final-checkpoint rows in the same shape (:func:`trained_layer_table`) and the reader
of the per-(model, corpus) outputs (:func:`load_run_results`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from toposcale.experiments.pretrained.activation_files import load_activations
from toposcale.experiments.pretrained.errors import PretrainedError
from toposcale.experiments.pretrained.layers import (RATIO_COLUMNS, add_relative_columns, embed_degenerate,
                                                     expansion_ratio, layer_depths, null_adjusted, ratio_replicates)
from toposcale.experiments.pretrained.likelihood import perplexity_replicates
from toposcale.io import read_table
from toposcale.stats import percentile_ci, spearman
from toposcale.topology.metrics import METRIC_COLUMNS
from toposcale.topology.subsampling import subsample_interval
from toposcale.topology.nulls import null_label

#: Per-model confounds of the encoder/decoder comparison, from the activation meta: how the weights were
#: stored (``quantisation``), whether the checkpoint is instruction-tuned, and the tokenizer class with its
#: vocabulary size.
CONFOUND_COLUMNS = ("quantisation", "instruction_tuned", "tokenizer")
#: Poolings whose distinct-point counts the layer table records (``n_distinct_{pooling}``).
POOLING_EVIDENCE = ("last", "cls", "mean")


def summarise_model(layer_df, resample_df=None, meta: dict | None = None, level: float = 0.95) -> dict:
    """One row of the multi-model table for one (model, corpus).

    Returns
    -------
    dict
        Identification (from ``meta``: model, kind, origin, corpus, architecture, n_layers, width,
        n_params, pooling, n_probe, perplexity, ...), the confounds of the encoder/decoder comparison
        (:data:`CONFOUND_COLUMNS`: ``quantisation``, ``instruction_tuned``, ``tokenizer``; ``n_params`` is
        among the identification columns), and: ``n_clouds`` (layers analysed);
        ``peak_layer``, ``peak_depth`` = layer of maximal H0 total persistence and its relative depth;
        ``peak_stability`` = fraction of subsamples whose peak is the same layer (NaN without
        resamples); ``expansion_ratio`` with ``_lo``/``_hi`` (see :mod:`toposcale.experiments.pretrained`);
        ``peak_layer_norm``, ``peak_depth_norm``, ``expansion_ratio_norm`` with ``_lo``/``_hi`` for
        the scale-normalised H0 total persistence; ``embed_h0_total_persistence``,
        ``peak_h0_total_persistence``, ``embed_n_distinct`` (distinct pooled embedding vectors);
        ``h1_peak_layer``, ``h1_peak_depth`` = layer of maximal scale-normalised H1 total persistence;
        ``h0_h1_spearman`` = Spearman rank correlation across layers of the normalised H0 and H1
        total persistence; ``n_resamples`` and ``m``.

        Null-adjusted, for each ``{suffix}`` of ``expansion_ratio{suffix}`` (where the layer table has
        ``{column}_null_mean``): ``expansion_ratio{suffix}_null`` = ``max_l A(l) / A(embed)`` with
        ``A(l) = TP0(l) / TP0_null_mean(l)``, the layer's value over the mean of ``K`` covariance-matched
        Gaussian null draws of its cloud (same points, mean and covariance; see
        :func:`toposcale.experiments.pretrained.layers.add_relative_columns`), the maximum taken over
        layers with a positive null mean, embedding included (so >= 1): 1 when no layer exceeds its null
        by more than the embedding does. Its ``_lo``/``_hi`` come from the same paired subsamples with
        the null means held fixed (they ignore the null's own K-draw uncertainty); ``peak_layer{suffix}_null``.

        Cloud hygiene: ``embed_degenerate`` (the embedding cloud's ``degenerate`` flag), ``n_degenerate``
        (flagged layers). A degenerate embedding cloud is never a denominator: every expansion ratio,
        raw or null-adjusted, is then NaN (with NaN intervals) and ``expansion_ratio_note`` says why
        (``"embedding cloud degenerate: 15 distinct of 500"``); the note is empty otherwise.
        ``expansion_finding``: :func:`expansion_finding` of the row.
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
                                    "perplexity_unit", *CONFOUND_COLUMNS)}
    row["n_clouds"] = len(names)
    degenerate = embed_degenerate(df)
    for suffix, column in RATIO_COLUMNS.items():
        _ratio_columns(row, df[column].to_numpy(dtype=np.float64), names, depth, resample_df if n_res else None,
                       column, suffix, n, m, level, degenerate)
        null_col = f"{column}_null_mean"
        if null_col in df:
            null_means = df[null_col].to_numpy(dtype=np.float64)
            _ratio_columns(row, null_adjusted(df[column], null_means), names, depth,
                           resample_df if n_res else None, column, f"{suffix}_null", n, m, level, degenerate,
                           divisors=null_means)
    row["embed_degenerate"] = degenerate
    row["n_degenerate"] = int(df["degenerate"].fillna(False).astype(bool).sum()) if "degenerate" in df else 0
    row["expansion_ratio_note"] = (f"embedding cloud degenerate: {int(df['n_distinct'].iloc[0])} distinct of {n}"
                                   if degenerate else "")
    row["expansion_finding"] = expansion_finding(row)
    row["embed_h0_total_persistence"] = float(df["h0_total_persistence"].iloc[0])
    row["peak_h0_total_persistence"] = float(df["h0_total_persistence"].max())
    distinct = float(df["n_distinct"].iloc[0]) if "n_distinct" in df else float("nan")
    row["embed_n_distinct"] = int(distinct) if np.isfinite(distinct) else None
    h1 = df["h1_total_persistence_norm"].to_numpy()
    row["h1_peak_layer"] = names[int(np.argmax(h1))]
    row["h1_peak_depth"] = float(depth[int(np.argmax(h1))])
    row["h0_h1_spearman"] = layer_spearman(df["h0_total_persistence_norm"], h1)
    row["n_points"] = n
    row["n_resamples"] = n_res
    row["m"] = m
    return row


def expansion_finding(row: dict) -> str:
    """The contract wording for a (model, corpus) expansion ratio, from its null-adjusted value and interval.

    ``beyond the gaussian null only`` where the null-adjusted ratio's interval lies above 1 (the log ratio's
    interval excludes 0: it beats the covariance-matched Gaussian null; 'topology beyond geometry' would
    need the Gaussian-copula null too, :func:`toposcale.topology.nulls.null_label`, which is not drawn for
    pretrained models); ``explained by its null (covariance-matched Gaussian)`` where it includes 1;
    ``no interval`` where the null-adjusted ratio has none; ``no null computed`` without the column; and
    ``undefined: {expansion_ratio_note}`` (or ``undefined``) where the ratio is NaN.

    Examples
    --------
    >>> expansion_finding({"expansion_ratio_null": 1.4, "expansion_ratio_null_lo": 1.0, "expansion_ratio_null_hi": 1.9})
    'explained by its null (covariance-matched Gaussian)'
    """
    if "expansion_ratio_null" not in row:
        return "no null computed"
    value, lo = row.get("expansion_ratio_null"), row.get("expansion_ratio_null_lo")
    if value is None or not np.isfinite(value):
        note = row.get("expansion_ratio_note") or ""
        return f"undefined: {note}" if note else "undefined"
    if lo is None or not np.isfinite(lo):
        return "no interval"
    if lo > 1:  # beats the Gaussian null; no copula null is drawn here, so never 'topology beyond geometry'
        return null_label("activations", {"gaussian": True, "copula": None}, True)[0]
    return "explained by its null (covariance-matched Gaussian)"


def _ratio_columns(row: dict, values, names, depth, resample_df, column: str, suffix: str, n: int, m: int,
                   level: float, degenerate: bool, divisors=None) -> None:
    """Fill ``peak_layer{suffix}``, ``peak_depth{suffix}``, ``expansion_ratio{suffix}`` with ``_lo``/``_hi`` and
    ``peak_stability{suffix}`` of ``row`` from per-layer ``values`` (see :func:`summarise_model`)."""
    ratio, peak = expansion_ratio(values)
    if degenerate:
        ratio = float("nan")
    row[f"peak_layer{suffix}"] = names[peak] if peak >= 0 else None
    row[f"peak_depth{suffix}"] = float(depth[peak]) if peak >= 0 else float("nan")
    row[f"expansion_ratio{suffix}"] = ratio
    lo = hi = stability = float("nan")
    if resample_df is not None and np.isfinite(ratio) and m < n:
        reps, peaks = ratio_replicates(resample_df, names, column, divisors)
        if reps.size:
            lo, hi = subsample_interval(ratio, reps, n, m, level, support=(1.0, np.inf), method="percentile")
            stability = float(np.mean(peaks == peak))
    row[f"expansion_ratio{suffix}_lo"] = lo
    row[f"expansion_ratio{suffix}_hi"] = hi
    row[f"peak_stability{suffix}"] = stability


def layer_spearman(a, b) -> float:
    """Spearman rank correlation across layers of two per-layer columns (:func:`toposcale.stats.spearman`'s
    ``rho``: average ranks for ties; NaN when n < 3 or a column is constant); NaN when a value is not finite.

    Examples
    --------
    >>> round(layer_spearman([1, 2, 3, 4], [10, 20, 30, 25]), 6)
    0.8
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("nan")
    return spearman(a, b)[0]


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
    df = read_table(metrics_path)
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
            "perplexity_unit": "token of the study tokenizer", "step": int(first["step"]),
            "quantisation": "none (float32)", "instruction_tuned": False, "tokenizer": "the study tokenizer"}
    return df, meta


def layers_long(layer_df, meta: dict):
    """``layer_df`` with model, kind, origin, corpus and pooling columns in front (for the combined layer table).

    Besides the layer table's ``n_distinct`` (distinct pooled vectors of the analysed cloud, under
    ``pooling``), ``n_distinct_{last,cls,mean}`` give the same count under each pooling, from the same
    forward pass (meta ``distinct_by_pooling``; NaN where not recorded, e.g. trained runs): the evidence
    that the configured pooling yields distinct points for this model.
    """
    df = layer_df.copy()
    for i, key in enumerate(("model", "kind", "origin", "corpus", "pooling")):
        df.insert(i, key, meta.get(key))
    evidence = meta.get("distinct_by_pooling") or {}
    for how in POOLING_EVIDENCE:
        counts = evidence.get(how) or {}
        df[f"n_distinct_{how}"] = [float(counts[name]) if name in counts else float("nan") for name in df["layer"]]
    return df


def corpus_comparison(results: dict, level: float = 0.95) -> pd.DataFrame:
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
        ``expansion_ratio_norm``, ``mean_h0_total_persistence_norm`` and ``mean_h1_total_persistence_norm``
        (mean over layers), each with the percentile interval (:func:`toposcale.stats.percentile_ci` at
        ``level``) of the finite ``rep_b[i] - rep_a[i]`` (at least 2, else NaN) over the first ``k`` subsample replicates of the two corpora
        paired by index (independent subsamples, different texts; ``k`` = the smaller count): the spread
        of the difference between m-text subsamples, not rescaled to n (see
        :func:`toposcale.topology.subsampling.subsample_interval`, method ``"percentile"``); ``peak_depth``
        (no interval) and, for decoders, ``perplexity`` (percentile interval of the difference of the two
        corpora's bootstrap replicates over texts).
    """
    by_model: dict[str, list] = {}
    for (model, corpus) in results:
        by_model.setdefault(model, []).append(corpus)
    rows = []
    for model, corpora in by_model.items():
        a = corpora[0]
        for b in corpora[1:]:
            ra, rb = results[(model, a)], results[(model, b)]
            kind = ra["meta"].get("kind")
            for metric, (va, reps_a), (vb, reps_b) in _corpus_metrics(ra, rb):
                diff = vb - va
                lo = hi = float("nan")
                if reps_a is not None and reps_b is not None and np.isfinite(diff):
                    k = min(len(reps_a), len(reps_b))
                    d = reps_b[:k] - reps_a[:k]
                    d = d[np.isfinite(d)]
                    if d.size >= 2:
                        lo, hi = percentile_ci(d, level)
                rows.append({"model": model, "kind": kind, "corpus_a": a, "corpus_b": b, "metric": metric,
                             "value_a": va, "value_b": vb, "diff": diff, "diff_lo": lo, "diff_hi": hi,
                             "ci_excludes_zero": bool(np.isfinite(lo) and (lo > 0 or hi < 0))})
    cols = ["model", "kind", "corpus_a", "corpus_b", "metric", "value_a", "value_b", "diff", "diff_lo", "diff_hi",
            "ci_excludes_zero"]
    return pd.DataFrame(rows, columns=cols)


def _corpus_metrics(ra: dict, rb: dict):
    """Yield (metric, (value, replicates) for a, same for b)."""

    def pieces(r, what):
        layers = r["layers"].sort_values("layer_index")
        names = list(layers["layer"])
        res = r.get("resamples")
        has = res is not None and not res.empty
        if what.startswith("expansion_ratio"):
            col = "h0_total_persistence" + ("_norm" if what.endswith("_norm") else "")
            if embed_degenerate(layers):          # a degenerate embedding cloud is never a denominator
                return float("nan"), None
            value = expansion_ratio(layers[col])[0]
            reps = ratio_replicates(res, names, col)[0] if has else None
        else:
            col = what.replace("mean_", "")
            value = float(layers[col].mean())
            reps = res.groupby("resample")[col].mean().to_numpy() if has else None
        return value, reps

    for what in ("expansion_ratio", "expansion_ratio_norm", "mean_h0_total_persistence_norm",
                 "mean_h1_total_persistence_norm"):
        yield what, pieces(ra, what), pieces(rb, what)
    pa = summarise_depth(ra["layers"])
    pb = summarise_depth(rb["layers"])
    yield "peak_depth", (pa, None), (pb, None)
    if ra["meta"].get("kind") == "decoder" and ra.get("nll_sum") is not None and rb.get("nll_sum") is not None:
        va, ba = perplexity_replicates(ra["nll_sum"], ra["n_predicted"])
        vb, bb = perplexity_replicates(rb["nll_sum"], rb["n_predicted"])
        # bootstrap replicates of exp(mean NLL) over texts
        yield "perplexity", (va, ba), (vb, bb)


def summarise_depth(layer_df) -> float:
    """Relative depth of the layer with maximal H0 total persistence."""
    df = layer_df.sort_values("layer_index")
    return float(df["depth"].to_numpy()[int(np.argmax(df["h0_total_persistence"].to_numpy()))])


def comparison_table(rows: list[dict]):
    """The multi-model table: one row per (model, corpus) from :func:`summarise_model`, sorted by
    corpus, origin (pretrained before trained), kind and model."""
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["_o"] = (df["origin"] == "trained").astype(int)
    return df.sort_values(["corpus", "_o", "kind", "model"]).drop(columns="_o").reset_index(drop=True)


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
    out = {}
    for (model, corpus), a, lp, rp in zip(pairs, acts_paths, layer_paths, resample_paths):
        _, per_text, meta = load_activations(a)
        nll, cnt = per_text["nll_sum"], per_text["n_predicted"]
        meta.update(model=model, corpus=corpus)
        out[(model, corpus)] = {"layers": read_table(lp), "resamples": read_table(rp), "meta": meta,
                                "nll_sum": nll if meta.get("kind") == "decoder" else None,
                                "n_predicted": cnt if meta.get("kind") == "decoder" else None}
    return out
