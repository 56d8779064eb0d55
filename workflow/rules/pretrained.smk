rule pretrained:
    input:
        pretrained_targets(),


rule pretrained_convert:
    output:
        directory(f"{PT_ROOT}/models/{{pmodel}}"),
    wildcard_constraints:
        pmodel=PT_MODEL_RE,
    log:
        f"{RESULTS}/logs/pretrained/convert-{{pmodel}}.log",
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/pretrained_convert.py"


rule pretrained_probes:
    output:
        f"{PT_ROOT}/probes/{{corpus}}.json",
    wildcard_constraints:
        corpus=PT_CORPUS_RE,
    params:
        source=lambda wc: PT_CORPORA[wc.corpus],
        n_probe=PT["n_probe"],
        seed=config["seed"],
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        f"{RESULTS}/logs/pretrained/probes-{{corpus}}.log",
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/pretrained_probes.py"


rule pretrained_activations:
    input:
        probes=f"{PT_ROOT}/probes/{{corpus}}.json",
        model=_pt_model_input,
    output:
        acts=f"{PT_ROOT}/{{pmodel}}/{{corpus}}/activations.npz",
    wildcard_constraints:
        pmodel=PT_MODEL_RE,
        corpus=PT_CORPUS_RE,
    params:
        spec=lambda wc: PT_SPECS[wc.pmodel].to_dict(),
        pooling=PT["pooling"],
        max_tokens=PT["max_tokens"],
        seed=config["seed"],
        device=config["training"]["device"],
    log:
        f"{RESULTS}/logs/pretrained/activations-{{pmodel}}-{{corpus}}.json",
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
        acts=f"{PT_ROOT}/{{pmodel}}/{{corpus}}/activations.npz",
    output:
        layers=f"{PT_ROOT}/{{pmodel}}/{{corpus}}/layers.parquet",
        resamples=f"{PT_ROOT}/{{pmodel}}/{{corpus}}/resamples.parquet",
        betti=f"{PT_ROOT}/{{pmodel}}/{{corpus}}/betti.parquet",
    wildcard_constraints:
        pmodel=PT_MODEL_RE,
        corpus=PT_CORPUS_RE,
    params:
        topology=config["topology"],
        n_resamples=PT_RESAMPLES,
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/pretrained/persistence-{{pmodel}}-{{corpus}}.log",
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
        acts=_pt_paths("activations.npz"),
        layers=_pt_paths("layers.parquet"),
        resamples=_pt_paths("resamples.parquet"),
        trained=PT_TRAINED,
    output:
        models=f"{RESULTS}/analysis/pretrained.csv",
        corpora=f"{RESULTS}/analysis/pretrained_corpora.csv",
        layers=f"{RESULTS}/analysis/pretrained_layers.csv",
    params:
        pairs=PT_PAIRS,
        study_corpus=_pt_corpus_name(config["corpus"]["source"]),
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        f"{RESULTS}/logs/pretrained/pretrained_tables.log",
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/pretrained_tables.py"


rule pretrained_report:
    localrule: True
    input:
        models=f"{RESULTS}/analysis/pretrained.csv",
        corpora=f"{RESULTS}/analysis/pretrained_corpora.csv",
        layers=f"{RESULTS}/analysis/pretrained_layers.csv",
    output:
        f"{RESULTS}/report/pretrained.md",
    params:
        pca_components=config["topology"]["pca_components"],
    log:
        f"{RESULTS}/logs/pretrained/pretrained_report.log",
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/pretrained_report.py"


rule fig_pretrained_model:
    localrule: True
    input:
        layers=f"{PT_ROOT}/{{pmodel}}/{{corpus}}/layers.parquet",
        betti=f"{PT_ROOT}/{{pmodel}}/{{corpus}}/betti.parquet",
    output:
        fig("pretrained/{pmodel}/{corpus}/{ptfig}", CATEGORY["pretrained"], caption="pretrained_model"),
    wildcard_constraints:
        pmodel=PT_MODEL_RE,
        corpus=PT_CORPUS_RE,
        ptfig="|".join(PT_FIGURES),
    params:
        figure=lambda wc: wc.ptfig,
        dpi=config["figures"]["dpi"],
        layers_to_show=config["figures"]["layers_to_show"],
    log:
        f"{RESULTS}/logs/pretrained/fig-{{pmodel}}-{{corpus}}-{{ptfig}}.log",
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/fig_pretrained.py"


rule fig_pretrained_expansion:
    localrule: True
    input:
        layers=f"{RESULTS}/analysis/pretrained_layers.csv",
        models=f"{RESULTS}/analysis/pretrained.csv",
    output:
        fig("pretrained_expansion", CATEGORY["pretrained"]),
    params:
        figure="expansion",
        dpi=config["figures"]["dpi"],
    log:
        f"{RESULTS}/logs/pretrained/fig_pretrained_expansion.log",
    conda:
        ENV_PRETRAINED
    script:
        "../scripts/fig_pretrained.py"
