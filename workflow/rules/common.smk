# Shared set-up of all the .smk files: the validated config (once), the study plan and its paths, and
# the helpers they share (no rules here). Every path comes from PATHS (toposcale.plan.paths), every target list and resource formula from
# toposcale.plan, so the rule files hold no file-system inspection and no formulas.
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir).joinpath("workflow")))

from toposcale.config import ConfigError, validate_config  # noqa: E402
from toposcale.plan.paths import wildcard_constraints as plan_wildcard_constraints  # noqa: E402
from toposcale.plan.scheduler import cancel_reevaluation_timers  # noqa: E402
from toposcale.plan.series import SeriesError, check_series_paths, series_layers, series_runs  # noqa: E402
from toposcale.plan.study import bootstrap_steps, layer_names, run_checkpoint_steps, study_runs, vocab_size  # noqa: E402
from toposcale.plan.targets import analysis_tables, default_targets, resolve_external_logs, study_paths  # noqa: E402

try:
    _validated = validate_config(config)
except ConfigError as _exc:
    sys.stderr.write(f"{_exc}\n")
    sys.exit(1)
config.clear()
config.update(_validated)
config["external"]["logs"] = resolve_external_logs(config)  # "{results}" in a log path: this study's results

RESULTS = config["results"]
PATHS = study_paths(config)
PYTHON = shlex.quote(sys.executable)
CORPUS = config["corpus"]["name"]
RUNS = study_runs(config)
RUN_BY_NAME = {r.name: r for r in RUNS}
SOURCES = config["topology"]["sources"]
STEPS = {r.name: run_checkpoint_steps(r.total_steps, config["training"]) for r in RUNS}
# Checkpoint series (config `series`, toposcale.plan.series): runs named series-{name} whose clouds, log.csv
# and run.json come from the series job (series.smk), then the trained runs' persistence, summaries,
# dynamics and transitions; never part of the scaling fits (RUNS stays the trained size grid).
try:
    SERIES = series_runs(config)
    check_series_paths(
        SERIES,
        produced=lambda p: config["series_fixture"]["enabled"]
        and str(Path(p).parent) == str(Path(PATHS.series_fixture())),
    )
except SeriesError as _exc:
    sys.stderr.write(f"{_exc}\n")
    sys.exit(1)
SERIES_BY_NAME = {s.name: s for s in SERIES}
STEPS.update({s.name: s.steps for s in SERIES})
#: Trained runs and series: every run with clouds, diagrams and a metrics table.
TOPO_RUNS = RUNS + SERIES
BOOT_STEPS = {
    r.name: bootstrap_steps(STEPS[r.name], config["topology"]["bootstrap"]["n_checkpoints"])
    for r in RUNS
}


wildcard_constraints:
    **plan_wildcard_constraints(config["model"]["activations"], [s.series for s in SERIES]),


ENV_TRAIN = "../../envs/train.yaml"
ENV_TOPOLOGY = "../../envs/topology.yaml"
ENV_ANALYSIS = "../../envs/analysis.yaml"
ENV_PRETRAINED = "../../envs/pretrained.yaml"

#: Report category of each family of figures (the numeric prefix orders them in the HTML report).
CATEGORY = {
    "summary": "1. Summary",
    "training": "2. Training and topology",
    "topology": "2. Training and topology",
    "scaling": "3. Scaling laws",
    "dynamics": "4. Training dynamics",
    "grokking": "5. Grokking control",
    "pretrained": "6. Pretrained models",
    "external": "7. External training logs",
}


def rule_name(prefix, run):
    """Per-run rules (their outputs depend on the run's checkpoint schedule) get unique names."""
    return f"{prefix}_{run.replace('-', '_')}"


def run_layers(run, source):
    if run in SERIES_BY_NAME:
        return series_layers(SERIES_BY_NAME[run], source)
    return layer_names(source, RUN_BY_NAME[run].n_layers)


def run_diagrams(run, step=None):
    steps = STEPS[run] if step is None else [int(step)]
    return [
        PATHS.diagram(run, src, s, layer)
        for s in steps
        for src in SOURCES
        for layer in run_layers(run, src)
    ]


def run_nulls(run, step=None):
    """The null-draw files of a run (one per diagram file of run_diagrams), written by the same jobs."""
    steps = STEPS[run] if step is None else [int(step)]
    return [
        PATHS.null_diagram(run, src, s, layer)
        for s in steps
        for src in SOURCES
        for layer in run_layers(run, src)
    ]


def run_bootstraps(run):
    return [PATHS.bootstrap(run, s) for s in BOOT_STEPS[run]]


def fig(name, category, caption=None):
    """A figure target wrapped for `snakemake --report`, captioned by workflow/report/{caption or name}.rst."""
    return report(PATHS.figure(name), caption=f"../report/{caption or name}.rst", category=category)


def summary_tables(wildcards=None):
    """Analysis tables (key -> path) that the config enables and a rule of this workflow produces.

    Evaluated when the DAG is built (all .smk files parsed), so a table appears here exactly when its
    analysis rule has been wired in; the consumer then depends on it like on any other input.
    """
    return {
        key: path
        for key, path in analysis_tables(config, PATHS).items()
        if any(r.is_producer(path) for r in workflow.rules)
    }
