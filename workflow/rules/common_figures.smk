# Figures of the trained study: one rule per figure, each drawn from tables only (never recomputing
# homology or training); `snakemake results/figures/NAME.png` redraws one. Plotting options reach the
# scripts through params, so changing them reruns only the figure (params rerun trigger).
# Needs common.smk (RESULTS, RUNS, STEPS, SOURCES, run_layers, diagram_path, fig, ALL_TARGETS).
# Include it before report.smk.
#
# CATEGORY -- the report categories of every figure of the project (fig(name, CATEGORY[key]) in any
# rule file; the numeric prefix orders them in the HTML report).
# analysis_tables() -- key -> path of the analysis tables some rule of this workflow produces (and the
# config enables); the summary figure and summary.md read exactly these.
from toposcale.report.plots.topology import choose_steps as _fig_choose_steps
from toposcale.report.plots.topology import default_runs as _fig_default_runs
from toposcale.report.plots.topology import middle_layer as _fig_middle_layer
from toposcale.report.plots.topology import pick_run as _fig_pick_run

FIG = config["figures"]
FIGDIR = f"{RESULTS}/figures"

#: Report category of each family of figures.
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

#: Analysis tables the summary figure and summary.md can read (toposcale.report.summary.TABLE_KEYS -> path).
ANALYSIS_TABLES = {
    "scaling": f"{RESULTS}/analysis/scaling.json",
    "dynamics": f"{RESULTS}/analysis/dynamics.csv",
    "forecast": f"{RESULTS}/analysis/forecast.csv",
    "forecast_summary": f"{RESULTS}/analysis/forecast_summary.csv",
    "forecast_comparisons": f"{RESULTS}/analysis/forecast_comparisons.csv",
    "transitions": f"{RESULTS}/analysis/transitions.csv",
    "transition_sizes": f"{RESULTS}/analysis/transition_sizes.csv",
    "grokking": f"{RESULTS}/analysis/grokking.csv",
    "grokking_control": f"{RESULTS}/analysis/grokking_positive_control.csv",
    "pretrained": f"{RESULTS}/analysis/pretrained.csv",
}


def _table_enabled(key):
    if key.startswith("grokking"):
        return bool(config["grokking"]["enabled"])
    if key == "pretrained":
        # `snakemake pretrained` is optional (it needs the model packages): the summary reads its table
        # once it exists, and never makes the default study build it.
        return Path(ANALYSIS_TABLES["pretrained"]).exists()
    return True


def analysis_tables(wildcards=None):
    """Analysis tables (key -> path) that a rule of this workflow produces and the config enables.

    Evaluated when the DAG is built (all rule files parsed), so a table appears here exactly when its
    analysis rule has been wired in; the consumer then depends on it like on any other input.
    """
    return {
        key: path
        for key, path in ANALYSIS_TABLES.items()
        if _table_enabled(key) and any(r.is_producer(path) for r in workflow.rules)
    }


def _run_files(kind):
    names = [r.name for r in RUNS]
    if kind == "runs":
        return [f"{RESULTS}/runs/{n}/run.json" for n in names]
    if kind == "logs":
        return [f"{RESULTS}/runs/{n}/log.csv" for n in names]
    return [f"{RESULTS}/metrics/{n}.parquet" for n in names]


_RUN_DICTS = [r.to_dict() for r in RUNS]
#: Runs overlaid in metric_evolution.png (figures.runs_to_show when the schema has it).
FIG_EVOLUTION_RUNS = _fig_default_runs(_RUN_DICTS, names=FIG.get("runs_to_show", []))
#: The run of diagrams.png and betti_curves.png: figures.run when set, else the largest non-holdout run.
FIG_RUN = _fig_pick_run(_RUN_DICTS, FIG.get("run") or None)
#: Checkpoints drawn: init, middle of the schedule, final (figures.n_checkpoints when the schema has it).
FIG_STEPS = _fig_choose_steps(STEPS[FIG_RUN], FIG.get("n_checkpoints", 3))
#: Layer of each source in diagrams.png: the middle entry of the layers to show.
FIG_DIAGRAM_LAYERS = {
    src: _fig_middle_layer(run_layers(FIG_RUN, src), FIG["layers_to_show"], f"{FIG_RUN} {src}")
    for src in SOURCES
}


def figure_targets():
    """The figures of this file (for rule all)."""
    names = ["training_curves", "metric_evolution", "diagrams", "betti_curves", "summary"]
    return [f"{FIGDIR}/{n}.png" for n in names]


ALL_TARGETS.append(figure_targets)
