"""The Markdown report of the pretrained comparison: every statement is computed from the tables."""

from __future__ import annotations

import numpy as np

from toposcale.experiments.pretrained.tables import layer_spearman

def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if 1000 <= abs(x) < 1e7:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _ci(row, key, digits: int = 3) -> str:
    est, lo, hi = row.get(key), row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if lo is None or not np.isfinite(lo):
        return _fmt(est, digits)
    return f"{_fmt(est, digits)} [{_fmt(lo, digits)}, {_fmt(hi, digits)}]"


def _excludes(row, key, value: float = 1.0) -> str | None:
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if lo is None or not np.isfinite(lo):
        return None
    if lo > value:
        return "above"
    if hi < value:
        return "below"
    return "includes"


def interpretation_report(table, corpus_table, layer_table, level: float = 0.95, pca_components: int = 50,
                          kinds=None, operating=None) -> str:
    """Markdown report of the pretrained comparison, written from the numbers.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`comparison_table` (one row per model and corpus).
    corpus_table : pandas.DataFrame
        :func:`corpus_comparison`.
    layer_table : pandas.DataFrame
        Every layer row of every (model, corpus) (:func:`layers_long`).
    kinds : pandas.DataFrame, optional
        :func:`toposcale.experiments.pretrained.kinds.kind_table`: the gated encoder/decoder verdict and the
        confounds per model (section "Encoders and decoders: verdict and confounds").
    operating : pandas.DataFrame, optional
        The operating-characteristics table; its row for the encoder/decoder verdict is printed beside it
        (:func:`toposcale.report.operating.power_note`).

    Every sentence states a computed quantity or a comparison whose direction is computed; claims
    about intervals say whether they exclude a value rather than asserting a difference.
    """
    pct = int(round(level * 100))
    out = ["# Topology of pretrained models, layer by layer", ""]
    if table.empty:
        return "\n".join(out + ["No model was analysed (pretrained.builtin and pretrained.models are empty).", ""])
    pre = table[table["origin"] != "trained"]
    out.append(_setup_paragraph(pre, pct, pca_components))
    out.append("")
    for corpus, sub in table.groupby("corpus", sort=False):
        out += [f"## Corpus `{corpus}`", "", _model_markdown_table(sub), ""]
        for _, r in sub.iterrows():
            out.append("- " + _model_sentence(r.to_dict(), layer_table, pct))
        enc_dec = _encoder_decoder_sentences(sub, pct)
        if enc_dec:
            out += ["", "### Encoders and decoders", ""] + [f"- {s}" for s in enc_dec]
        out.append("")
    if kinds is not None:
        out += kind_section(kinds, operating)
    if corpus_table is not None and not corpus_table.empty:
        out += ["## Corpus contrasts", "",
                f"Differences are `corpus_b - corpus_a` with {pct}% intervals; a contrast is called a difference "
                f"only when its interval excludes 0.", ""]
        out += [f"- {s}" for s in _corpus_sentences(corpus_table, pct)]
        out.append("")
    out += ["## Definitions", "",
            "- H0 total persistence: sum of the finite H0 lifetimes (minimum-spanning-tree edge lengths) of the "
            f"PCA-projected ({pca_components} components) cloud of pooled activations, in activation units; "
            "`_norm`: divided by the cloud's largest H0 death.",
            "- Expansion ratio: maximum over layers (embedding included) of H0 total persistence divided by its "
            "embedding-layer value; the normalised ratio uses the scale-normalised H0 total persistence.",
            "- Ratio vs Gaussian null: the same maximum of A(l) / A(embed), A(l) = H0 total persistence over the mean "
            "of its covariance-matched Gaussian null draws (same points, mean and covariance, no other structure); "
            "raw H0 total persistence grows with spread and point count, this ratio does not. 'Topology beyond "
            "geometry' only where its interval lies above 1, else 'explained by its null (covariance-matched "
            "Gaussian)'. A layer with fewer distinct pooled vectors than the configured fraction of its points is "
            "degenerate; a degenerate embedding cloud is never a denominator.",
            f"- Intervals: central {pct}% of the statistic over subsamples of m of n probe texts (without "
            "replacement, the same subsamples for every layer; not rescaled to n, because the scale, longest bars "
            "and expansion ratios are maxima; clipped to the statistic's range, e.g. >= 1 for expansion ratios): "
            "how far a value moves when n - m texts are left out, not a confidence interval with known coverage; "
            "perplexity: bootstrap over texts.",
            "- Scale: the longest minimum-spanning-tree edge, often set by one outlying text, so scale-normalised "
            "values and their intervals move when a subsample drops that text.",
            "- Peak stability: fraction of subsamples whose H0 peak is the same layer as on all texts.", ""]
    return "\n".join(out)


def kind_section(kinds, operating=None) -> list[str]:
    """``## Encoders and decoders: verdict and confounds``: the gated verdict with its power and FPR, the
    per-model confounds, and the statement that the comparison is confounded by them."""
    from toposcale.operating.pretrained import VERDICT
    from toposcale.report.operating import power_note

    out = ["## Encoders and decoders: verdict and confounds", ""]
    if kinds.empty:
        return out + ["No pretrained model is in the comparison.", ""]
    r0 = kinds.iloc[0]
    note = power_note(operating, VERDICT) if operating is not None else "power not measured"
    p = r0["p_value"]
    ptxt = f", exact Mann-Whitney p = {_fmt(p)}" if isinstance(p, float) and np.isfinite(p) else ""
    out.append(f"Verdict (distinct pretrained models; the study's trained decoders do not count; per model the mean "
               f"over corpora of the log null-adjusted expansion ratio): **{r0['verdict']}**{ptxt}. "
               f"Operating characteristics: {note or 'power not measured'}.")
    out += ["", "| model | kind | log ratio vs null (mean over corpora) | corpora | parameters | quantisation | "
                "instruction-tuned | tokenizer |", "|" + "---|" * 8]
    for _, r in kinds.iterrows():
        tuned = r["instruction_tuned"]
        tuned = "n/a" if tuned is None or (isinstance(tuned, float) and not np.isfinite(tuned)) else \
            ("yes" if str(tuned) in ("True", "true", "1", "1.0") else "no")
        params = r["n_params"]
        out.append(f"| {r['model']} | {r['kind']} | {_fmt(r['value'])} | {_fmt(r['n_corpora'])} | "
                   f"{_fmt(params / 1e6 if params is not None and np.isfinite(params) else None)} M | "
                   f"{r['quantisation'] if isinstance(r['quantisation'], str) else 'n/a'} | {tuned} | "
                   f"{r['tokenizer'] if isinstance(r['tokenizer'], str) else 'n/a'} |")
    aligned = r0["confounded_by"] if isinstance(r0["confounded_by"], str) and r0["confounded_by"] else ""
    out += ["", "The comparison is confounded: besides their kind, the models differ in quantisation, instruction "
                "tuning, parameter count and tokenizer (table above), so no verdict here isolates the effect of "
                "being an encoder or a decoder."
            + (f" These confounds split exactly along kind: {aligned} (every encoder differs from every decoder), so "
               f"a kind difference cannot be told apart from them." if aligned else ""), ""]
    return out


def _setup_paragraph(pre, pct, k) -> str:
    if pre.empty:
        return "Only trained models are in the table."
    parts = []
    for _, r in pre.drop_duplicates("model").iterrows():
        parts.append(f"`{r['model']}` ({r['kind']}, {r['architecture']}, {_fmt(r['n_layers'])} layers, width "
                     f"{_fmt(r['width'])}, {_fmt(r['n_params'] / 1e6 if r['n_params'] else None)} M parameters, "
                     f"{r['pooling']} pooling)")
    r0 = pre.iloc[0]
    return (f"Models: {'; '.join(parts)}. Each saw {_fmt(r0['n_probe'])} probe texts per corpus, truncated to "
            f"{_fmt(r0['max_tokens'])} tokens; each layer's cloud was projected onto its top {k} principal "
            f"components (kept whole when narrower); intervals are "
            f"{pct}% intervals from {_fmt(r0['n_resamples'])} subsamples of {_fmt(r0['m'])} texts.")


def _model_markdown_table(sub) -> str:
    head = ("| model | kind | layers | perplexity | H0 peak (depth) | peak stability | expansion ratio | "
            "normalised ratio | H1 peak | ratio vs Gaussian null | finding |")
    lines = [head, "|" + "---|" * 11]
    for _, r in sub.iterrows():
        r = r.to_dict()
        ppl = _ci(r, "perplexity") if r.get("kind") == "decoder" else "n/a (encoder)"
        lines.append(f"| {r['model']} | {r['kind']}{' (trained)' if r['origin'] == 'trained' else ''} | "
                     f"{_fmt(r['n_layers'])} | {ppl} | {r['peak_layer']} ({_fmt(r['peak_depth'], 2)}) | "
                     f"{_fmt(r['peak_stability'], 2)} | {_ci(r, 'expansion_ratio')} | "
                     f"{_ci(r, 'expansion_ratio_norm')} | {r['h1_peak_layer']} | {_ci(r, 'expansion_ratio_null')} | "
                     f"{r.get('expansion_finding') if isinstance(r.get('expansion_finding'), str) else 'n/a'} |")
    return "\n".join(lines)


_SHARED_TOKEN = {"last": "texts ending in the same token share one point",
                 "cls": "texts starting with the same token share one point, as every BERT text starts with [CLS]",
                 "mean": "texts made of the same tokens share one point"}


def _plural(k, word: str) -> str:
    return f"{_fmt(k)} {word}{'' if k == 1 else 's'}"


def _model_sentence(r: dict, layer_table, pct) -> str:
    name = f"`{r['model']}` on `{r['corpus']}`"
    if not (r.get("peak_h0_total_persistence") or 0) > 0:
        return (f"{name}: H0 total persistence is 0 in every layer (each cloud is one repeated point), so no peak "
                f"or expansion ratio is defined.")
    s = [f"{name}: H0 total persistence peaks at `{r['peak_layer']}` (relative depth {_fmt(r['peak_depth'], 2)}"]
    if np.isfinite(r.get("peak_stability") or np.nan):
        s[-1] += f"; the same layer in {100 * r['peak_stability']:.0f}% of subsamples"
    s[-1] += ")."
    n_probe = r.get("n_points")
    distinct = r.get("embed_n_distinct")
    has_distinct = distinct is not None and np.isfinite(distinct) and n_probe
    why = _SHARED_TOKEN.get(r.get("pooling"), "texts share pooled vectors")
    if r.get("embed_degenerate") is True or r.get("embed_degenerate") == "True":
        s.append(f"The expansion ratios are undefined: {r.get('expansion_ratio_note') or 'embedding cloud degenerate'} "
                 f"({why}); a degenerate cloud is never the denominator of a ratio.")
    elif not np.isfinite(r.get("expansion_ratio") or np.nan):
        s.append("The expansion ratio is undefined: the embedding-layer cloud has zero H0 total persistence"
                 + (f" ({_plural(distinct, 'distinct pooled vector')} of {_fmt(n_probe)}; {why})." if has_distinct
                    else "."))
    else:
        where = _excludes(r, "expansion_ratio")
        tail = {"above": f"its {pct}% interval lies above 1",
                "includes": f"its {pct}% interval includes 1",
                None: "no interval (no subsamples)"}.get(where, f"its {pct}% interval lies below 1")
        s.append(f"Expansion ratio {_ci(r, 'expansion_ratio')} ({tail}); scale-normalised "
                 f"{_ci(r, 'expansion_ratio_norm')} with its peak at `{r['peak_layer_norm']}`.")
        null = r.get("expansion_ratio_null")
        if null is not None and np.isfinite(null):
            s.append(f"Against each layer's covariance-matched Gaussian null (H0 total persistence over its null "
                     f"mean, relative to the embedding's): {_ci(r, 'expansion_ratio_null')}, "
                     f"{r.get('expansion_finding') or 'n/a'}.")
        if has_distinct and distinct < n_probe:
            s.append(f"Only {_fmt(distinct)} of {_fmt(n_probe)} pooled embedding vectors are distinct ({why}), "
                     f"which lowers the embedding-layer value and so raises the ratio.")
    s.extend(_baseline_sentence(r, layer_table))
    rho = r.get("h0_h1_spearman")
    if rho is not None and np.isfinite(rho):
        s.append(f"Scale-normalised H1 total persistence peaks at `{r['h1_peak_layer']}`; its Spearman correlation "
                 f"with normalised H0 across layers is {rho:+.2f}.")
    if r.get("kind") == "decoder" and np.isfinite(r.get("perplexity") or np.nan):
        s.append(f"Perplexity {_ci(r, 'perplexity')} per {r.get('perplexity_unit') or 'token'} "
                 f"({_fmt(r.get('nll_per_token'))} nats per token).")
    return " ".join(s)


def _baseline_sentence(r: dict, layer_table) -> list[str]:
    """How much of the raw H0 profile the activation spread explains (Spearman over layers)."""
    if layer_table is None or "total_variance" not in layer_table:
        return []
    sub = layer_table[(layer_table["model"] == r["model"]) & (layer_table["corpus"] == r["corpus"])]
    rho = layer_spearman(sub["h0_total_persistence"], sub["total_variance"]) if len(sub) >= 3 else float("nan")
    if not np.isfinite(rho):
        return []
    return [f"Across layers, raw H0 total persistence has Spearman correlation {rho:+.2f} with the total variance "
            f"of the pooled activations (a non-topological baseline)."]


def _encoder_decoder_sentences(sub, pct) -> list[str]:
    pre = sub[sub["origin"] != "trained"]
    enc, dec = pre[pre["kind"] == "encoder"], pre[pre["kind"] == "decoder"]
    if enc.empty or dec.empty:
        return []
    out = [f"Peak H0 depth: encoders {', '.join(f'`{m}` {d:.2f}' for m, d in zip(enc['model'], enc['peak_depth']))}; "
           f"decoders {', '.join(f'`{m}` {d:.2f}' for m, d in zip(dec['model'], dec['peak_depth']))}."]
    for key, label in (("expansion_ratio", "expansion ratio"), ("expansion_ratio_norm", "normalised expansion ratio")):
        for _, e in enc.iterrows():
            for _, d in dec.iterrows():
                ve, vd = e[key], d[key]
                if not (np.isfinite(ve) and np.isfinite(vd)):
                    out.append(f"The {label} of `{e['model']}` vs `{d['model']}` cannot be compared (one is undefined).")
                    continue
                if abs(vd - ve) <= 1e-9 * max(abs(vd), abs(ve)):
                    out.append(f"The {label} of encoder `{e['model']}` and decoder `{d['model']}` are equal "
                               f"({_fmt(ve)}).")
                    continue
                higher, lower = (d, e) if vd > ve else (e, d)
                sep = _intervals_disjoint(e, d, key)
                verdict = (f"the {pct}% intervals do not overlap" if sep is True else
                           f"the {pct}% intervals overlap, so this ordering is not resolved" if sep is False else
                           "no intervals are available")
                out.append(f"The {label} of {higher['kind']} `{higher['model']}` ({_ci(higher.to_dict(), key)}) is "
                           f"{_times(higher[key] / lower[key])} that of {lower['kind']} `{lower['model']}` "
                           f"({_ci(lower.to_dict(), key)}); {verdict}.")
    return out


def _times(x: float) -> str:
    """``2.40x`` below 100, ``1,494x`` above."""
    return f"{x:,.0f}x" if x >= 100 else f"{x:.2f}x"


def _intervals_disjoint(a, b, key):
    la, ha, lb, hb = a[f"{key}_lo"], a[f"{key}_hi"], b[f"{key}_lo"], b[f"{key}_hi"]
    if not all(np.isfinite([la, ha, lb, hb])):
        return None
    return bool(ha < lb or hb < la)


def _corpus_sentences(ct, pct) -> list[str]:
    out = []
    labels = {"expansion_ratio": "expansion ratio", "expansion_ratio_norm": "normalised expansion ratio",
              "mean_h0_total_persistence_norm": "mean normalised H0 total persistence over layers",
              "mean_h1_total_persistence_norm": "mean normalised H1 total persistence over layers",
              "peak_depth": "relative depth of the H0 peak", "perplexity": "perplexity"}
    for _, r in ct.iterrows():
        lab = labels.get(r["metric"], r["metric"])
        base = (f"`{r['model']}`, {lab}: {_fmt(r['value_a'])} on `{r['corpus_a']}`, {_fmt(r['value_b'])} on "
                f"`{r['corpus_b']}`")
        if not np.isfinite(r["diff_lo"]):
            out.append(base + " (no interval).")
        elif r["ci_excludes_zero"]:
            direction = "higher" if r["diff"] > 0 else "lower"
            out.append(base + f"; `{r['corpus_b']}` is {direction} (difference {_fmt(r['diff'])}, {pct}% interval "
                       f"[{_fmt(r['diff_lo'])}, {_fmt(r['diff_hi'])}]).")
        else:
            out.append(base + f"; no difference detected ({pct}% interval of the difference "
                       f"[{_fmt(r['diff_lo'])}, {_fmt(r['diff_hi'])}] includes 0).")
    return out
