# Pretrained-model comparison (toposcale.pretrained): builtin and configured HF models x corpora.
# Needs RESULTS and the validated `config` (common.smk). Outputs:
#   pretrained/models/{pmodel}/                    converted GGUF builtins (safetensors HF directory)
#   pretrained/probes/{corpus}.json                the fixed probe texts of a corpus
#   pretrained/{pmodel}/{corpus}/activations.npz   pooled per-layer activations, per-text NLL, meta
#   pretrained/{pmodel}/{corpus}/{layers,resamples,betti}.parquet
#   analysis/pretrained.csv, pretrained_corpora.csv, pretrained_layers.csv; report/pretrained.md
#   figures/pretrained/{pmodel}/{corpus}/{summary,h0h1,betti}.png, figures/pretrained_expansion.png
import re

from toposcale.pretrained import corpus_sources as _pt_corpus_sources
from toposcale.pretrained import model_specs as _pt_model_specs
from toposcale.pretrained import corpus_name as _pt_corpus_name
from toposcale.study import study_runs as _pt_study_runs

PT = config["pretrained"]
PT_ROOT = f"{RESULTS}/pretrained"
PT_SPECS = {s.name: s for s in _pt_model_specs(PT, f"{PT_ROOT}/models")}
PT_CORPORA = _pt_corpus_sources(PT)
PT_PAIRS = [(m, c) for m in PT_SPECS for c in PT_CORPORA]
PT_RESAMPLES = PT.get("n_resamples", config["topology"]["bootstrap"]["n_resamples"])
PT_FIGURES = ("summary", "h0h1", "betti")
PT_TRAINED = (
    [f"{RESULTS}/metrics/{r.name}.parquet" for r in _pt_study_runs(config)]
    if PT.get("include_trained", True)
    else []
)
PT_MODEL_RE = "|".join(re.escape(m) for m in PT_SPECS) or "(?!)"
PT_CORPUS_RE = "|".join(re.escape(c) for c in PT_CORPORA) or "(?!)"


def _pt_model_input(wildcards):
    spec = PT_SPECS[wildcards.pmodel]
    return [spec.path] if spec.gguf else []


def _pt_paths(name):
    return [f"{PT_ROOT}/{m}/{c}/{name}" for m, c in PT_PAIRS]


def pretrained_targets():
    figs = [f"{RESULTS}/figures/pretrained/{m}/{c}/{f}.png" for m, c in PT_PAIRS for f in PT_FIGURES]
    if not PT_PAIRS:
        return []
    return [
        f"{RESULTS}/analysis/pretrained.csv",
        f"{RESULTS}/analysis/pretrained_corpora.csv",
        f"{RESULTS}/report/pretrained.md",
        f"{RESULTS}/figures/pretrained_expansion.png",
    ] + figs


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
    script:
        "../scripts/pretrained_tables.py"


rule pretrained_report:
    input:
        models=f"{RESULTS}/analysis/pretrained.csv",
        corpora=f"{RESULTS}/analysis/pretrained_corpora.csv",
        layers=f"{RESULTS}/analysis/pretrained_layers.csv",
    output:
        f"{RESULTS}/report/pretrained.md",
    params:
        pca_components=config["topology"]["pca_components"],
    script:
        "../scripts/pretrained_report.py"


rule fig_pretrained_model:
    input:
        layers=f"{PT_ROOT}/{{pmodel}}/{{corpus}}/layers.parquet",
        betti=f"{PT_ROOT}/{{pmodel}}/{{corpus}}/betti.parquet",
    output:
        f"{RESULTS}/figures/pretrained/{{pmodel}}/{{corpus}}/{{ptfig}}.png",
    wildcard_constraints:
        pmodel=PT_MODEL_RE,
        corpus=PT_CORPUS_RE,
        ptfig="|".join(PT_FIGURES),
    params:
        figure=lambda wc: wc.ptfig,
        dpi=config["figures"]["dpi"],
        layers_to_show=config["figures"]["layers_to_show"],
    script:
        "../scripts/fig_pretrained.py"


rule fig_pretrained_expansion:
    input:
        layers=f"{RESULTS}/analysis/pretrained_layers.csv",
        models=f"{RESULTS}/analysis/pretrained.csv",
    output:
        f"{RESULTS}/figures/pretrained_expansion.png",
    params:
        figure="expansion",
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/fig_pretrained.py"
