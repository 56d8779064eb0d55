"""What the workflow builds: the default targets of ``rule all`` and the target lists of each stage.

Pure functions of the validated config (and, where stated, of files that already exist), so the rule
files only call them. Paths come from :class:`toposcale.plan.paths.StudyPaths`.
"""

from __future__ import annotations

import os
from pathlib import Path

from toposcale.plan.paths import StudyPaths
from toposcale.plan.series import series_runs
from toposcale.plan.study import bootstrap_steps, run_checkpoint_steps, study_runs

#: Figures of the trained study drawn by figures.smk.
STUDY_FIGURES = ("training_curves", "metric_evolution", "diagrams", "betti_curves", "summary")
#: Figures of the training-dynamics and scaling analyses drawn by analysis.smk.
ANALYSIS_FIGURES = ("dynamics_heatmap", "forecast", "transitions", "scaling_loss", "scaling_topology", "alignment")
#: Figures per (model, corpus) of the pretrained comparison.
PRETRAINED_FIGURES = ("summary", "h0h1", "betti")
#: Output tables of one external log (see :meth:`StudyPaths.external_table`).
EXTERNAL_TABLES = ("fits", "claims", "series", "issues")
#: Analysis tables the summary figure and summary.md can read (toposcale.report.summary.TABLE_KEYS -> file).
ANALYSIS_TABLES = {
    "scaling": "scaling.json",
    "dynamics": "dynamics.csv",
    "forecast": "forecast.csv",
    "forecast_summary": "forecast_summary.csv",
    "forecast_comparisons": "forecast_comparisons.csv",
    "transitions": "transitions.csv",
    "transition_sizes": "transition_sizes.csv",
    "grokking": "grokking.csv",
    "grokking_control": "grokking_positive_control.csv",
    "pretrained": "pretrained.csv",
    "pretrained_kinds": "pretrained_kinds.csv",
    "operating": "operating_characteristics.csv",
    "alignment": "alignment.csv",
    "stages": "stage_crossings.csv",
    "stage_recall": "stage_recall.csv",
}


def study_paths(config: dict) -> StudyPaths:
    """The path templates of the study that ``config`` describes."""
    return StudyPaths(config["results"], config["corpus"]["name"])


def resolve_external_logs(config: dict) -> list[dict]:
    """The entries of ``external.logs`` with ``{results}`` in a path replaced by the results folder.

    Examples
    --------
    >>> resolve_external_logs({"results": "out", "external": {"logs": [{"name": "a", "path": "{results}/runs"}]}})
    [{'name': 'a', 'path': 'out/runs'}]
    """
    return [{**entry, "path": entry["path"].replace("{results}", config["results"])}
            for entry in config["external"]["logs"]]


def external_log_inputs(entry: dict, results: str, run_names) -> list[str]:
    """Files one external log (an entry of ``external.logs``, path resolved) is read from.

    A ``toposcale_log`` pointing at this study's results (``results`` or ``results/runs``) depends on the
    study's run logs (so training runs first); one pointing at another existing folder on the
    ``*/log.csv`` (else ``runs/*/log.csv``) files found in it now, sorted; anything else on its path.

    Examples
    --------
    >>> external_log_inputs({"name": "own", "path": "out/runs", "schema": "toposcale_log"}, "out", ["a-s0"])
    ['out/runs/a-s0/log.csv']
    >>> external_log_inputs({"name": "demo", "path": "demo.csv", "schema": "beta_trajectory"}, "out", ["a-s0"])
    ['demo.csv']
    """
    path = Path(entry["path"])
    if entry["schema"] == "toposcale_log":
        ours = {Path(results).resolve(), Path(results, "runs").resolve()}
        if path.resolve() in ours:
            paths = StudyPaths(results, "")
            return [paths.run_log(name) for name in run_names]
        if path.is_dir():
            found = sorted(path.glob("*/log.csv")) or sorted(path.glob("runs/*/log.csv"))
            return [str(p) for p in found]
    return [str(path)]


def external_targets(paths: StudyPaths, names) -> list[str]:
    """Every output table and the figure of each external log ``names`` (the entries' names)."""
    out = []
    for name in names:
        out += [paths.external_table(name, kind) for kind in EXTERNAL_TABLES]
        out.append(paths.figure(f"external_{name}"))
    return out


def grokking_runs(grok: dict, arms) -> list[str]:
    """Names ``{arm}-s{seed}`` of the grokking runs, seed-major (the config's ``grokking`` section)."""
    return [f"{arm}-s{int(seed)}" for seed in grok["seeds"] for arm in arms]


def grokking_targets(config: dict, paths: StudyPaths) -> list[str]:
    """Final outputs of the grokking control (empty when ``grokking.enabled`` is false)."""
    if not config["grokking"]["enabled"]:
        return []
    return [
        paths.analysis("grokking.csv"),
        paths.analysis("grokking_checkpoints.csv"),
        paths.analysis("grokking_positive_control.csv"),
        paths.figure("grokking"),
    ]


def pretrained_targets(paths: StudyPaths, pairs) -> list[str]:
    """Final outputs of the pretrained comparison of the (model, corpus) ``pairs`` (empty when none)."""
    if not pairs:
        return []
    figs = [paths.figure(f"pretrained/{m}/{c}/{f}") for m, c in pairs for f in PRETRAINED_FIGURES]
    return [
        paths.analysis("pretrained.csv"),
        paths.analysis("pretrained_corpora.csv"),
        paths.analysis("pretrained_kinds.csv"),
        paths.report("pretrained.md"),
        paths.figure("pretrained_expansion"),
    ] + figs


def analysis_tables(config: dict, paths: StudyPaths, exists=os.path.exists) -> dict[str, str]:
    """Analysis tables (key -> path) the config enables for the summary figure and summary.md.

    The grokking tables need ``grokking.enabled``. The pretrained table is read once it exists
    (``exists(path)``): the pretrained comparison is optional (it needs the model packages), so the
    default study never builds it.

    Examples
    --------
    >>> cfg = {"results": "r", "corpus": {"name": "kjv"}, "grokking": {"enabled": False}}
    >>> sorted(analysis_tables(cfg, study_paths(cfg), exists=lambda p: True))[:3]
    ['alignment', 'dynamics', 'forecast']
    >>> "pretrained" in analysis_tables(cfg, study_paths(cfg), exists=lambda p: False)
    False
    """
    out = {}
    for key, name in ANALYSIS_TABLES.items():
        path = paths.analysis(name)
        if key.startswith("grokking") and not config["grokking"]["enabled"]:
            continue
        if key.startswith("pretrained") and not exists(path):
            continue
        out[key] = path
    return out


def default_targets(config: dict) -> list[str]:
    """Everything ``snakemake`` builds by default (``rule all``): per run its run.json, metrics table, probes
    table and bootstrap tables (none unless ``topology.bootstrap.n_checkpoints`` > 0); per checkpoint series
    (config ``series``) its run.json and metrics table; the study, probes,
    dynamics and scaling figures and tables; the corpus's n-gram levels and the stage tables
    (analysis/stages.csv, stage_crossings.csv); the grokking control when
    enabled; every external log's tables and figure; and report/summary.md. The pretrained comparison is
    optional and never a default target.
    """
    paths = study_paths(config)
    runs = study_runs(config)
    n_boot = config["topology"]["bootstrap"]["n_checkpoints"]
    targets = [paths.run_json(r.name) for r in runs]
    targets += [paths.metrics(r.name) for r in runs]
    targets += [paths.probes(r.name) for r in runs]
    targets += [paths.bootstrap(r.name, s) for r in runs
                for s in bootstrap_steps(run_checkpoint_steps(r.total_steps, config["training"]), n_boot)]
    series = series_runs(config)
    targets += [paths.run_json(s.name) for s in series] + [paths.metrics(s.name) for s in series]
    targets += [paths.figure(n) for n in STUDY_FIGURES]
    targets.append(paths.figure("probes"))      # from the probes tables (probes.smk), not the metrics
    targets += [paths.analysis(n) for n in ("dynamics.csv", "forecast.csv", "transitions.csv", "scaling.json")]
    targets += [paths.ngram_levels()] + [paths.analysis(n) for n in ("stages.csv", "stage_crossings.csv")]
    targets += [paths.figure(n) for n in ANALYSIS_FIGURES]
    targets += grokking_targets(config, paths)
    targets += external_targets(paths, [entry["name"] for entry in config["external"]["logs"]])
    targets.append(paths.report("summary.md"))
    return targets
