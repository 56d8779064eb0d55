rule fig_training_curves:
    localrule: True
    input:
        runs=_run_files("runs"),
        logs=_run_files("logs"),
    output:
        fig("training_curves", CATEGORY["training"]),
    params:
        dpi=FIG["dpi"],
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"{RESULTS}/logs/figures/fig_training_curves.log",
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_training.py"


rule fig_metric_evolution:
    localrule: True
    input:
        metrics=[f"{RESULTS}/metrics/{n}.parquet" for n in FIG_EVOLUTION_RUNS],
    output:
        fig("metric_evolution", CATEGORY["topology"]),
    params:
        figure="metric_evolution",
        runs=FIG_EVOLUTION_RUNS,
        layers_to_show=FIG["layers_to_show"],
        baseline=FIG.get("baseline", "mean_pairwise_distance"),
        dpi=FIG["dpi"],
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"{RESULTS}/logs/figures/fig_metric_evolution.log",
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_topology.py"


rule fig_diagrams:
    localrule: True
    input:
        diagrams=[
            diagram_path(FIG_RUN, src, step, layer)
            for src, layer in FIG_DIAGRAM_LAYERS.items()
            for step in FIG_STEPS
        ],
        log=f"{RESULTS}/runs/{FIG_RUN}/log.csv",
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
        f"{RESULTS}/logs/figures/fig_diagrams.log",
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_topology.py"


rule fig_betti_curves:
    localrule: True
    input:
        betti=f"{RESULTS}/metrics/{FIG_RUN}.betti.parquet",
        log=f"{RESULTS}/runs/{FIG_RUN}/log.csv",
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
        f"{RESULTS}/logs/figures/fig_betti_curves.log",
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_topology.py"


rule fig_summary:
    localrule: True
    input:
        unpack(analysis_tables),
        runs=_run_files("runs"),
        logs=_run_files("logs"),
        metrics=_run_files("metrics"),
    output:
        fig("summary", CATEGORY["summary"]),
    params:
        dpi=FIG["dpi"],
    resources:
        mem_mb=2000,
        runtime=5,
    log:
        f"{RESULTS}/logs/figures/fig_summary.log",
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_summary.py"


rule figures:
    input:
        figure_targets(),
