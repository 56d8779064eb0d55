# Figures of the trained study and its analyses: one rule per figure, each drawn from tables only (never
# recomputing homology or training); `snakemake results/figures/NAME.png` redraws one. Plotting options
# reach the scripts through params, so changing them reruns only the figure (params rerun trigger).
# The grokking, pretrained and external figures are rules of their own rule files.
from toposcale.plan.figures import choose_steps, default_runs, middle_layer, pick_run

FIG = config["figures"]
_RUN_DICTS = [r.to_dict() for r in RUNS]
#: Runs overlaid in metric_evolution.png (figures.runs_to_show, which may name checkpoint series
#: series-{name}, else the default choice among the trained runs).
FIG_EVOLUTION_RUNS = (
    default_runs([{"name": r.name} for r in TOPO_RUNS], names=FIG["runs_to_show"])
    if FIG["runs_to_show"]
    else default_runs(_RUN_DICTS)
)
#: The run of diagrams.png and betti_curves.png: figures.run when set, else the largest non-holdout run.
FIG_RUN = pick_run(_RUN_DICTS, FIG["run"] or None)
#: Checkpoints drawn: init, middle of the schedule, final (figures.n_checkpoints).
FIG_STEPS = choose_steps(STEPS[FIG_RUN], FIG["n_checkpoints"])
#: Layer of each source in diagrams.png: the middle entry of the layers to show.
FIG_DIAGRAM_LAYERS = {
    src: middle_layer(run_layers(FIG_RUN, src), FIG["layers_to_show"], f"{FIG_RUN} {src}")
    for src in SOURCES
}
RUN_JSONS = [PATHS.run_json(r.name) for r in RUNS]
RUN_LOGS = [PATHS.run_log(r.name) for r in RUNS]


rule figures_all:
    """Every figure of the default study."""
    input:
        [t for t in default_targets(config) if t.endswith(".png")],


rule plot_training_curves:
    localrule: True
    input:
        runs=RUN_JSONS,
        logs=RUN_LOGS,
        levels=PATHS.ngram_levels(),
        crossings=PATHS.analysis("stage_crossings.csv"),
    output:
        fig("training_curves", CATEGORY["training"]),
    params:
        dpi=FIG["dpi"],
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        PATHS.log("figures", "fig_training_curves.log"),
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_training.py"


rule plot_metric_evolution:
    localrule: True
    input:
        metrics=[PATHS.metrics(n) for n in FIG_EVOLUTION_RUNS],
    output:
        fig("metric_evolution", CATEGORY["topology"]),
    params:
        figure="metric_evolution",
        runs=FIG_EVOLUTION_RUNS,
        layers_to_show=FIG["layers_to_show"],
        baseline=FIG["baseline"],
        dpi=FIG["dpi"],
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        PATHS.log("figures", "fig_metric_evolution.log"),
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_topology.py"


rule plot_diagrams:
    localrule: True
    input:
        diagrams=[
            PATHS.diagram(FIG_RUN, src, step, layer)
            for src, layer in FIG_DIAGRAM_LAYERS.items()
            for step in FIG_STEPS
        ],
        log=PATHS.run_log(FIG_RUN),
    output:
        fig("diagrams", CATEGORY["topology"]),
    params:
        figure="diagrams",
        run=FIG_RUN,
        layers=FIG_DIAGRAM_LAYERS,
        steps=FIG_STEPS,
        dpi=FIG["dpi"],
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        PATHS.log("figures", "fig_diagrams.log"),
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_topology.py"


rule plot_betti_curves:
    localrule: True
    input:
        betti=PATHS.betti(FIG_RUN),
        log=PATHS.run_log(FIG_RUN),
    output:
        fig("betti_curves", CATEGORY["topology"]),
    params:
        figure="betti_curves",
        run=FIG_RUN,
        steps=FIG_STEPS,
        layers_to_show=FIG["layers_to_show"],
        dpi=FIG["dpi"],
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        PATHS.log("figures", "fig_betti_curves.log"),
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_topology.py"


rule plot_summary:
    localrule: True
    input:
        unpack(summary_tables),
        runs=RUN_JSONS,
        logs=RUN_LOGS,
        metrics=[PATHS.metrics(r.name) for r in RUNS],
        levels=PATHS.ngram_levels(),
    output:
        fig("summary", CATEGORY["summary"]),
    params:
        dpi=FIG["dpi"],
    resources:
        mem_mb=2000,
        runtime=5,
    log:
        PATHS.log("figures", "fig_summary.log"),
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_summary.py"


rule plot_dynamics_heatmap:
    localrule: True
    input:
        dynamics=PATHS.analysis("dynamics.csv"),
    output:
        heatmap=fig("dynamics_heatmap", CATEGORY["dynamics"]),
    params:
        dpi=FIG["dpi"],
        fdr_alpha=config["dynamics"]["fdr_alpha"],
    log:
        PATHS.log("figures", "dynamics_heatmap.log"),
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_dynamics.py"


rule plot_forecast:
    localrule: True
    input:
        forecast=PATHS.analysis("forecast.csv"),
        forecast_summary=PATHS.analysis("forecast_summary.csv"),
        forecast_comparisons=PATHS.analysis("forecast_comparisons.csv"),
    output:
        forecast=fig("forecast", CATEGORY["dynamics"]),
    params:
        dpi=FIG["dpi"],
    log:
        PATHS.log("figures", "forecast.log"),
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_dynamics.py"


rule plot_transitions:
    localrule: True
    input:
        transitions=PATHS.analysis("transitions.csv"),
        metrics=[PATHS.metrics(r.name) for r in RUNS],
    output:
        transitions=fig("transitions", CATEGORY["dynamics"]),
    params:
        dpi=FIG["dpi"],
    log:
        PATHS.log("figures", "transitions.log"),
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_dynamics.py"


rule plot_scaling_loss:
    localrule: True
    input:
        json=PATHS.analysis("scaling.json"),
        logs=RUN_LOGS,
        levels=PATHS.ngram_levels(),
    output:
        loss=fig("scaling_loss", CATEGORY["scaling"]),
    params:
        dpi=FIG["dpi"],
    log:
        PATHS.log("figures", "scaling_loss.log"),
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_scaling.py"


rule plot_scaling_topology:
    localrule: True
    input:
        json=PATHS.analysis("scaling.json"),
    output:
        topo=fig("scaling_topology", CATEGORY["scaling"]),
    params:
        dpi=FIG["dpi"],
    log:
        PATHS.log("figures", "scaling_topology.log"),
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_scaling.py"


#: Runs of probes.png: every run of the lowest seed (both activations, all sizes).
PROBE_FIG_RUNS = [r.name for r in RUNS if r.seed == min(x.seed for x in RUNS)]


rule plot_probes:
    localrule: True
    input:
        probes=[PATHS.probes(n) for n in PROBE_FIG_RUNS],
        runs=[PATHS.run_json(n) for n in PROBE_FIG_RUNS],
    output:
        fig("probes", CATEGORY["training"]),
    params:
        dpi=FIG["dpi"],
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        PATHS.log("figures", "fig_probes.log"),
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_probes.py"


rule plot_alignment:
    localrule: True
    input:
        metrics=[PATHS.metrics(r.name) for r in RUNS],
        crossings=PATHS.analysis("stage_crossings.csv"),
        alignment=PATHS.analysis("alignment.csv"),
        nulls=PATHS.analysis("alignment_nulls.csv"),
    output:
        fig("alignment", CATEGORY["dynamics"]),
    params:
        dpi=FIG["dpi"],
    log:
        PATHS.log("figures", "alignment.log"),
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_alignment.py"
