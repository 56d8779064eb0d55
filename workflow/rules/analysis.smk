# Training dynamics: topology-loss correlations, final-loss forecasting, phase transitions.
# Each analysis reads the per-run metrics tables; each figure is its own rule reading those tables.


rule dynamics:
    input:
        metrics=metrics_targets(),
    output:
        csv=f"{RESULTS}/analysis/dynamics.csv",
        seeds=f"{RESULTS}/analysis/dynamics_seeds.csv",
    params:
        cfg=config["dynamics"],
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/analysis/dynamics.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/dynamics.py"


rule forecast:
    input:
        metrics=metrics_targets(),
    output:
        csv=f"{RESULTS}/analysis/forecast.csv",
        summary=f"{RESULTS}/analysis/forecast_summary.csv",
        comparisons=f"{RESULTS}/analysis/forecast_comparisons.csv",
    params:
        cfg=config["dynamics"],
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/analysis/forecast.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/forecast.py"


rule transitions:
    input:
        metrics=metrics_targets(),
    output:
        csv=f"{RESULTS}/analysis/transitions.csv",
        sizes=f"{RESULTS}/analysis/transition_sizes.csv",
    params:
        cfg=config["dynamics"],
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/analysis/transitions.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/transitions.py"


rule figure_dynamics_heatmap:
    localrule: True
    input:
        dynamics=f"{RESULTS}/analysis/dynamics.csv",
    output:
        heatmap=fig("dynamics_heatmap", "4. Training dynamics"),
    params:
        dpi=config["figures"]["dpi"],
        cfg=config["dynamics"],
    log:
        f"{RESULTS}/logs/figures/dynamics_heatmap.log",
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_dynamics.py"


rule figure_forecast:
    localrule: True
    input:
        forecast=f"{RESULTS}/analysis/forecast.csv",
        forecast_summary=f"{RESULTS}/analysis/forecast_summary.csv",
        forecast_comparisons=f"{RESULTS}/analysis/forecast_comparisons.csv",
    output:
        forecast=fig("forecast", "4. Training dynamics"),
    params:
        dpi=config["figures"]["dpi"],
        cfg=config["dynamics"],
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/figures/forecast.log",
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_dynamics.py"


rule figure_transitions:
    localrule: True
    input:
        transitions=f"{RESULTS}/analysis/transitions.csv",
        metrics=metrics_targets(),
    output:
        transitions=fig("transitions", "4. Training dynamics"),
    params:
        dpi=config["figures"]["dpi"],
        cfg=config["dynamics"],
    log:
        f"{RESULTS}/logs/figures/transitions.log",
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_dynamics.py"


ALL_TARGETS.append(
    lambda: [
        f"{RESULTS}/analysis/dynamics.csv",
        f"{RESULTS}/analysis/forecast.csv",
        f"{RESULTS}/analysis/transitions.csv",
    ] + [f"{RESULTS}/figures/{n}.png" for n in ("dynamics_heatmap", "forecast", "transitions")]
)


# Scaling laws: fits on the non-holdout runs, holdout prediction, GELU vs SwiGLU, topology vs size.
rule scaling:
    input:
        runs=train_targets(),
        logs=[f"{RESULTS}/runs/{r.name}/log.csv" for r in RUNS],
        metrics=metrics_targets(),
        tables=[t["path"] for t in config["scaling"]["tables"]],
    output:
        json=f"{RESULTS}/analysis/scaling.json",
        table=f"{RESULTS}/analysis/scaling.csv",
    params:
        cfg=config["scaling"],
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/analysis/scaling.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/scaling.py"


rule figure_scaling_loss:
    localrule: True
    input:
        json=f"{RESULTS}/analysis/scaling.json",
        logs=[f"{RESULTS}/runs/{r.name}/log.csv" for r in RUNS],
    output:
        loss=fig("scaling_loss", "3. Scaling laws"),
    params:
        dpi=config["figures"]["dpi"],
    log:
        f"{RESULTS}/logs/figures/scaling_loss.log",
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_scaling.py"


rule figure_scaling_topology:
    localrule: True
    input:
        json=f"{RESULTS}/analysis/scaling.json",
    output:
        topo=fig("scaling_topology", "3. Scaling laws"),
    params:
        dpi=config["figures"]["dpi"],
    log:
        f"{RESULTS}/logs/figures/scaling_topology.log",
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_scaling.py"




ALL_TARGETS.append(
    lambda: [f"{RESULTS}/analysis/scaling.json"] + [
        f"{RESULTS}/figures/{n}.png" for n in ("scaling_loss", "scaling_topology")
    ]
)
