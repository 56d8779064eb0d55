"""Every results path of the study: one template per kind of output, under the config's results folder.

A path method takes concrete values (``paths.cloud("gelu-d16L1-s0", 42)``) or Snakemake wildcards
(``paths.cloud("{run}", "{step}")``); a checkpoint step is written ``step{step:07d}`` in every file name
(:func:`step_name`), and :func:`wildcard_constraints` gives the matching regular expressions.

Examples
--------
>>> p = StudyPaths("results", "kjv")
>>> p.cloud("gelu-d16L1-s0", 42)
'results/clouds/gelu-d16L1-s0/step0000042.npz'
>>> p.cloud("{run}", "{step}")
'results/clouds/{run}/step{step}.npz'
>>> p.diagram("{run}", "weights", 0, "embed")
'results/diagrams/{run}/weights/step0000000/embed.npz'
>>> p.null_diagram("r", "activations", 7, "final")
'results/nulls/r/activations/step0000007/final.npz'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Digits of a checkpoint step in file names (``step0000042``).
STEP_DIGITS = 7


def step_name(step) -> str:
    """``step`` followed by the step zero-padded to :data:`STEP_DIGITS` digits, or by a wildcard.

    Parameters
    ----------
    step : int or str
        A checkpoint step, or a wildcard such as ``"{step}"`` (kept as written).

    Examples
    --------
    >>> step_name(42), step_name("{step}")
    ('step0000042', 'step{step}')
    """
    if isinstance(step, str):
        return f"step{step}"
    return f"step{int(step):0{STEP_DIGITS}d}"


def wildcard_constraints(activations, series=()) -> dict[str, str]:
    """Regular expressions of the global wildcards, derived from the plan.

    ``run`` matches the names :func:`toposcale.plan.study.study_runs` builds,
    ``{activation}-d{d_model}L{n_layers}[t{tokens_per_param}]-s{seed}``, for the given activations only
    (the config's ``model.activations``), and ``series-{name}`` for the names in ``series`` (the config's
    ``series``, :mod:`toposcale.plan.series`); ``step`` matches :func:`step_name`'s digits.

    Examples
    --------
    >>> c = wildcard_constraints(["gelu", "swiglu"])
    >>> bool(re.fullmatch(c["run"], "swiglu-d32L2t40-s1")), bool(re.fullmatch(c["run"], "relu-d32L2-s1"))
    (True, False)
    >>> c["step"]
    '\\\\d{7}'
    >>> bool(re.fullmatch(wildcard_constraints(["gelu"], ["tiny"])["run"], "series-tiny"))
    True
    """
    acts = "|".join(re.escape(a) for a in activations)
    run = rf"({acts})-d\d+L\d+(t[0-9p]+)?-s\d+"
    if series:
        run = rf"{run}|series-({'|'.join(re.escape(s) for s in series)})"
    return {
        "run": run,
        "step": rf"\d{{{STEP_DIGITS}}}",
        "source": r"weights|activations",
        "layer": r"embed|block\d{2}|final",
        "corpus": r"[A-Za-z0-9_]+",
    }


@dataclass(frozen=True)
class StudyPaths:
    """Path templates of one study: ``results`` is the config's ``results``, ``corpus`` its ``corpus.name``."""

    results: str
    corpus: str

    # data and training
    def data(self, name: str) -> str:
        """The prepared corpus: ``{results}/data/{corpus}/{name}`` (train.bin, val.bin, probe.npy, ...)."""
        return f"{self.results}/data/{self.corpus}/{name}"

    def run_dir(self, run: str) -> str:
        return f"{self.results}/runs/{run}"

    def run_log(self, run: str) -> str:
        """The training log table ``runs/{run}/log.csv``."""
        return f"{self.run_dir(run)}/log.csv"

    def dense_log(self, run: str) -> str:
        """The dense loss log ``runs/{run}/dense_log.csv`` (toposcale.train.trainer.DENSE_COLUMNS)."""
        return f"{self.run_dir(run)}/dense_log.csv"

    def ngram_levels(self) -> str:
        """The corpus's n-gram loss levels ``data/{corpus}/ngram_levels.json`` (toposcale.train.ngram)."""
        return self.data("ngram_levels.json")

    def run_json(self, run: str) -> str:
        return f"{self.run_dir(run)}/run.json"

    def checkpoint(self, run: str, step) -> str:
        return f"{self.run_dir(run)}/checkpoints/{step_name(step)}.safetensors"

    # topology
    def cloud(self, run: str, step) -> str:
        return f"{self.results}/clouds/{run}/{step_name(step)}.npz"

    def diagrams_root(self, run: str) -> str:
        """Folder of one run's persistence diagrams (``--out-root`` of toposcale.topology.persist)."""
        return f"{self.results}/diagrams/{run}"

    def diagram(self, run: str, source: str, step, layer: str) -> str:
        return f"{self.diagrams_root(run)}/{source}/{step_name(step)}/{layer}.npz"

    def nulls_root(self, run: str) -> str:
        """Folder of one run's null-draw diagrams (``--null-root`` of toposcale.topology.persist)."""
        return f"{self.results}/nulls/{run}"

    def null_diagram(self, run: str, source: str, step, layer: str) -> str:
        """Diagrams of the null draws of one cloud (toposcale.topology.diagram_io.save_null_diagrams),
        written by the same persistence job as :meth:`diagram`."""
        return f"{self.nulls_root(run)}/{source}/{step_name(step)}/{layer}.npz"

    def bootstrap(self, run: str, step) -> str:
        return f"{self.results}/bootstrap/{run}/{step_name(step)}.csv"

    def metrics(self, run: str) -> str:
        return f"{self.results}/metrics/{run}.parquet"

    def betti(self, run: str) -> str:
        return f"{self.results}/metrics/{run}.betti.parquet"

    # analysis, figures, report, logs
    def analysis(self, name: str) -> str:
        """An analysis table ``analysis/{name}`` (name with its extension)."""
        return f"{self.results}/analysis/{name}"

    def probes(self, run: str) -> str:
        """Per-checkpoint probes of one run (toposcale.analysis.probes): ``analysis/probes/{run}.csv``."""
        return self.analysis(f"probes/{run}.csv")

    def figure(self, name: str) -> str:
        """``figures/{name}.png``."""
        return f"{self.results}/figures/{name}.png"

    def report(self, name: str) -> str:
        return f"{self.results}/report/{name}"

    def log(self, stage: str, name: str) -> str:
        """A job's log ``logs/{stage}/{name}`` (name with its extension)."""
        return f"{self.results}/logs/{stage}/{name}"

    # grokking control
    def grokking(self, run: str, name: str) -> str:
        """A file of one grokking run ``grokking/{arm}-s{seed}/{name}`` (log.csv, measures.csv, diagrams.npz)."""
        return f"{self.results}/grokking/{run}/{name}"

    def grokking_checkpoint(self, run: str, step) -> str:
        return self.grokking(run, f"checkpoints/{step_name(step)}.safetensors")

    # checkpoint series
    def series_fixture(self, step=None) -> str:
        """The offline fixture series: ``series_fixture/`` or one checkpoint ``series_fixture/step{step}``."""
        root = f"{self.results}/series_fixture"
        return root if step is None else f"{root}/{step_name(step)}"

    # pretrained models
    def pretrained_models(self) -> str:
        """Folder of the builtin GGUF models converted to safetensors Hugging Face directories."""
        return f"{self.results}/pretrained/models"

    def pretrained_model_dir(self, model: str) -> str:
        """One converted builtin model: ``pretrained/models/{model}``."""
        return f"{self.pretrained_models()}/{model}"

    def pretrained_probes(self, corpus: str) -> str:
        return f"{self.results}/pretrained/probes/{corpus}.json"

    def pretrained(self, model: str, corpus: str, name: str) -> str:
        """``pretrained/{model}/{corpus}/{name}`` (activations.npz, layers.parquet, ...)."""
        return f"{self.results}/pretrained/{model}/{corpus}/{name}"

    # external training logs
    def external_table(self, name: str, kind: str) -> str:
        """Output table of one external log: kind ``fits`` is ``external_{name}.csv``, any other kind
        ``external_{name}_{kind}.csv``."""
        suffix = "" if kind == "fits" else f"_{kind}"
        return self.analysis(f"external_{name}{suffix}.csv")

    def external_demo_log(self) -> str:
        """The synthetic beta-trajectory log of the worked example."""
        return f"{self.results}/external/demo_beta_trajectory.csv"
