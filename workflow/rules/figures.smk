# Figures of the trained study: one rule per figure, each drawn from tables only (never recomputing
# homology or training); `snakemake results/figures/NAME.png` redraws one. Plotting options reach the
# scripts through params, so changing them reruns only the figure (params rerun trigger).
# Needs common.smk (RESULTS, RUNS, STEPS, SOURCES, run_layers, diagram_path). Include it before
# report.smk, and before any rule file that calls fig().
#
# fig(name, category, ...) -- for every rule file of the project: results/figures/{name}.png wrapped in
# report(..., caption=<workflow/report/{caption}.rst>, category=...). The caption path is made absolute
# here (a relative one would be resolved against the file of each calling rule), so fig() works from
# any rule file.
#
# analysis_tables() -- key -> path of the analysis tables some rule of this workflow produces (and the
# config enables); the summary figure and summary.md read exactly these.
from toposcale.plots.topology import choose_steps as _fig_choose_steps
from toposcale.plots.topology import default_runs as _fig_default_runs
from toposcale.plots.topology import middle_layer as _fig_middle_layer
from toposcale.plots.topology import pick_run as _fig_pick_run

import os as _fig_os

FIG = config["figures"]
#: workflow/report/, found from this file's location while it is being included.
REPORT_DIR = _fig_os.path.normpath(
    _fig_os.path.join(str(workflow.current_basedir.get_path_or_uri(secret_free=True)), "..", "report")
)
FIGDIR = f"{RESULTS}/figures"

#: Report categories (the numeric prefix orders them in the HTML report).
CATEGORY = {
    "summary": "1. Summary",
    "training": "2. Training",
    "topology": "3. Topology during training",
    "scaling": "4. Scaling",
    "dynamics": "5. Dynamics, forecasts and transitions",
    "grokking": "6. Grokking control",
    "pretrained": "7. Pretrained models",
    "external": "8. External training logs",
}

#: Analysis tables the summary figure and summary.md can read (key of toposcale.report.SECTIONS -> path).
ANALYSIS_TABLES = {
    "scaling": f"{RESULTS}/analysis/scaling.json",
    "dynamics": f"{RESULTS}/analysis/dynamics.csv",
    "forecast": f"{RESULTS}/analysis/forecast.csv",
    "transitions": f"{RESULTS}/analysis/transitions.csv",
    "grokking": f"{RESULTS}/analysis/grokking.csv",
    "pretrained": f"{RESULTS}/analysis/pretrained.csv",
}


def fig(name, category, subcategory=None, caption=None, labels=None):
    """The output path results/figures/{name}.png flagged for `snakemake --report`.

    name      path below results/figures/ without .png; may contain wildcards ("pretrained/{pmodel}/...")
    category  a key of CATEGORY ("training", "scaling", ...) or a literal category name
    caption   caption file stem in workflow/report/ (default: name); captions are Jinja templates that
              may use snakemake.config, snakemake.params and snakemake.wildcards
    """
    return report(
        f"{FIGDIR}/{name}.png",
        caption=_fig_os.path.join(REPORT_DIR, f"{caption or name}.rst"),
        category=CATEGORY.get(category, category),
        subcategory=subcategory,
        labels=labels,
    )


def _table_enabled(key):
    if key == "grokking":
        return bool(config["grokking"]["enabled"])
    if key == "pretrained":
        pt = config["pretrained"]
        return bool(pt["builtin"] or pt["models"])
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


rule fig_training_curves:
    input:
        runs=_run_files("runs"),
        logs=_run_files("logs"),
    output:
        fig("training_curves", "training"),
    params:
        dpi=FIG["dpi"],
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_training.py"


rule fig_metric_evolution:
    input:
        metrics=[f"{RESULTS}/metrics/{n}.parquet" for n in FIG_EVOLUTION_RUNS],
    output:
        fig("metric_evolution", "topology"),
    params:
        figure="metric_evolution",
        runs=FIG_EVOLUTION_RUNS,
        layers_to_show=FIG["layers_to_show"],
        baseline=FIG.get("baseline", "mean_pairwise_distance"),
        dpi=FIG["dpi"],
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_topology.py"


rule fig_diagrams:
    input:
        diagrams=[
            diagram_path(FIG_RUN, src, step, layer)
            for src, layer in FIG_DIAGRAM_LAYERS.items()
            for step in FIG_STEPS
        ],
        log=f"{RESULTS}/runs/{FIG_RUN}/log.csv",
    output:
        fig("diagrams", "topology"),
    params:
        figure="diagrams",
        run=FIG_RUN,
        layers=FIG_DIAGRAM_LAYERS,
        steps=FIG_STEPS,
        dpi=FIG["dpi"],
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_topology.py"


rule fig_betti_curves:
    input:
        betti=f"{RESULTS}/metrics/{FIG_RUN}.betti.parquet",
        log=f"{RESULTS}/runs/{FIG_RUN}/log.csv",
    output:
        fig("betti_curves", "topology"),
    params:
        figure="betti_curves",
        run=FIG_RUN,
        steps=FIG_STEPS,
        layers_to_show=FIG["layers_to_show"],
        dpi=FIG["dpi"],
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/fig_topology.py"


rule fig_summary:
    input:
        unpack(analysis_tables),
        runs=_run_files("runs"),
        logs=_run_files("logs"),
        metrics=_run_files("metrics"),
    output:
        fig("summary", "summary"),
    params:
        dpi=FIG["dpi"],
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../scripts/fig_summary.py"


rule figures:
    input:
        figure_targets(),
