rule grokking:
    input:
        grokking_targets(),


rule grokking_train:
    wildcard_constraints:
        **GROK_WILDCARDS,
    output:
        log_csv=f"{GROK_ROOT}/{{arm}}-s{{seed}}/log.csv",
        ckpts=[f"{GROK_ROOT}/{{arm}}-s{{seed}}/checkpoints/step{s:07d}.safetensors" for s in GROK_STEPS],
    params:
        cfg=GROK,
    log:
        f"{RESULTS}/logs/grokking/train-{{arm}}-s{{seed}}.log",
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10 + int(4 * _GROK_SECONDS / 60),
    conda:
        ENV_TRAIN
    script:
        "../scripts/grokking_train.py"


rule grokking_measure:
    wildcard_constraints:
        **GROK_WILDCARDS,
    input:
        log_csv=f"{GROK_ROOT}/{{arm}}-s{{seed}}/log.csv",
        ckpts=[f"{GROK_ROOT}/{{arm}}-s{{seed}}/checkpoints/step{s:07d}.safetensors" for s in GROK_STEPS],
    output:
        measures=f"{GROK_ROOT}/{{arm}}-s{{seed}}/measures.csv",
        diagrams=f"{GROK_ROOT}/{{arm}}-s{{seed}}/diagrams.npz",
    params:
        cfg=GROK,
        noise_fraction=config["topology"]["noise_fraction"],
        backend=config["topology"]["backend"],
    log:
        f"{RESULTS}/logs/grokking/measure-{{arm}}-s{{seed}}.log",
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10 + len(GROK_STEPS) // 10,
    conda:
        ENV_TRAIN
    script:
        "../scripts/grokking_measure.py"


rule grokking_analyse:
    input:
        measures=[f"{GROK_ROOT}/{run}/measures.csv" for run in GROK_RUNS],
    output:
        summary=f"{RESULTS}/analysis/grokking.csv",
        checkpoints=f"{RESULTS}/analysis/grokking_checkpoints.csv",
        control=f"{RESULTS}/analysis/grokking_positive_control.csv",
    params:
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/grokking/analyse.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/grokking_analyse.py"


rule grokking_figure:
    localrule: True
    input:
        checkpoints=f"{RESULTS}/analysis/grokking_checkpoints.csv",
        summary=f"{RESULTS}/analysis/grokking.csv",
        grok_diagrams=f"{GROK_ROOT}/grok-s{GROK_SEEDS[0]}/diagrams.npz",
        control_diagrams=f"{GROK_ROOT}/control-s{GROK_SEEDS[0]}/diagrams.npz",
    output:
        fig("grokking", CATEGORY["grokking"]),
    params:
        dpi=config["figures"]["dpi"],
        seed=GROK_SEEDS[0],
    log:
        f"{RESULTS}/logs/grokking/figure.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_grokking.py"


ALL_TARGETS.append(grokking_targets)
