# Pretrained-model comparison (toposcale.experiments.pretrained): builtin and configured HF models x corpora.
# Needs RESULTS and the validated `config` (common.smk). Outputs:
#   pretrained/models/{pmodel}/                    converted GGUF builtins (safetensors HF directory)
#   pretrained/probes/{corpus}.json                the fixed probe texts of a corpus
#   pretrained/{pmodel}/{corpus}/activations.npz   pooled per-layer activations, per-text NLL, meta
#   pretrained/{pmodel}/{corpus}/{layers,resamples,betti}.parquet
#   analysis/pretrained.csv, pretrained_corpora.csv, pretrained_layers.csv; report/pretrained.md
#   figures/pretrained/{pmodel}/{corpus}/{summary,h0h1,betti}.png, figures/pretrained_expansion.png
import re

from toposcale.experiments.pretrained import corpus_sources as _pt_corpus_sources
from toposcale.experiments.pretrained import model_specs as _pt_model_specs
from toposcale.experiments.pretrained import corpus_name as _pt_corpus_name
from toposcale.plan.study import study_runs as _pt_study_runs

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
