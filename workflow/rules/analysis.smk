# Training dynamics (topology-loss correlations, final-loss forecasting, phase transitions) and scaling
# laws (fits on the non-holdout runs, holdout prediction, GELU vs SwiGLU, topology vs size). Each analysis
# reads the per-run tables; its figures are rules of figures.smk.
METRICS = [PATHS.metrics(r.name) for r in RUNS]
#: Trained runs and checkpoint series (series.smk): dynamics and transitions read both; scaling and
#: forecasting read the trained size grid only.
METRICS_WITH_SERIES = METRICS + [PATHS.metrics(s.name) for s in SERIES]


rule analysis_dynamics:
    input:
        metrics=METRICS_WITH_SERIES,
    output:
        csv=PATHS.analysis("dynamics.csv"),
        seeds=PATHS.analysis("dynamics_seeds.csv"),
    params:
        cfg=config["dynamics"],
        seed=config["seed"],
    log:
        PATHS.log("analysis", "dynamics.log"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/dynamics.py"


rule analysis_forecast:
    input:
        metrics=METRICS,
    output:
        csv=PATHS.analysis("forecast.csv"),
        summary=PATHS.analysis("forecast_summary.csv"),
        comparisons=PATHS.analysis("forecast_comparisons.csv"),
    params:
        cfg=config["dynamics"],
        seed=config["seed"],
    log:
        PATHS.log("analysis", "forecast.log"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/forecast.py"


rule analysis_transitions:
    input:
        metrics=METRICS_WITH_SERIES,
    output:
        csv=PATHS.analysis("transitions.csv"),
        change_points=PATHS.analysis("change_points.csv"),
        sizes=PATHS.analysis("transition_sizes.csv"),
        families=PATHS.analysis("transition_families.csv"),
    params:
        cfg=config["transitions"],
        metrics=config["dynamics"]["metrics"],
        seed=config["seed"],
        schedule={k: config["training"][k] for k in ("warmup_frac", "min_lr_frac")},
    log:
        PATHS.log("analysis", "transitions.log"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/transitions.py"


rule analysis_scaling:
    input:
        runs=[PATHS.run_json(r.name) for r in RUNS],
        stages=PATHS.analysis("stages.csv"),
        logs=[PATHS.run_log(r.name) for r in RUNS],
        metrics=METRICS,
        tables=[t["path"] for t in config["scaling"]["tables"]],
    output:
        json=PATHS.analysis("scaling.json"),
        table=PATHS.analysis("scaling.csv"),
    params:
        cfg=config["scaling"],
        seed=config["seed"],
    log:
        PATHS.log("analysis", "scaling.log"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/scaling.py"


rule analysis_operating:
    output:
        csv=PATHS.analysis("operating_characteristics.csv"),
    params:
        # only the sections the design and the checks read (toposcale.operating.Design.from_config), so a
        # figure or report option does not rerun the simulations
        config={k: config[k] for k in ("seed", "corpus", "model", "training", "topology", "dynamics", "grokking",
                                       "alignment", "transitions", "stages", "pretrained")},
        n_sim=config["operating"]["n_sim"],
        seed=config["seed"],
    log:
        PATHS.log("analysis", "operating.log"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/operating.py"


rule analysis_stage_recall:
    """Does the change-point test on the loss checkpoints find the dense curve's stage crossings? (issue 21)"""
    input:
        crossings=PATHS.analysis("stage_crossings.csv"),
        change_points=PATHS.analysis("change_points.csv"),
        logs=[PATHS.run_log(r.name) for r in RUNS],
    output:
        detection=PATHS.analysis("stage_detection.csv"),
        recall=PATHS.analysis("stage_recall.csv"),
    params:
        runs=[r.name for r in RUNS],
    log:
        PATHS.log("analysis", "stage_recall.log"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/stage_recall.py"


rule analysis_stages:
    input:
        dense=[PATHS.dense_log(r.name) for r in RUNS],
        runs=[PATHS.run_json(r.name) for r in RUNS],
        levels=PATHS.ngram_levels(),
    output:
        stages=PATHS.analysis("stages.csv"),
        crossings=PATHS.analysis("stage_crossings.csv"),
    params:
        cfg=config["stages"],
    log:
        PATHS.log("analysis", "stages.log"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/stages.py"


rule analysis_alignment:
    """Does each headline topology series change at the loss's stage crossings? (issue 21, item 6)"""
    input:
        metrics=METRICS,
        crossings=PATHS.analysis("stage_crossings.csv"),
    output:
        csv=PATHS.analysis("alignment.csv"),
        nulls=PATHS.analysis("alignment_nulls.csv"),
    params:
        cfg=config["alignment"],
        seed=config["seed"],
    log:
        PATHS.log("analysis", "alignment.log"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/alignment.py"
