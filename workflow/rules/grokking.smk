# Grokking positive control (toposcale.experiments.grokking): modular addition, a grokking arm (weight
# decay) and a control arm (no weight decay) per seed. Outputs:
#   grokking/{arm}-s{seed}/log.csv, checkpoints/step{step:07d}.safetensors   training (one job per run)
#   grokking/{arm}-s{seed}/measures.csv, diagrams.npz                          progress measures per checkpoint
#   analysis/grokking.csv                 one row per metric: time-matched separation test, pooled AUC, timing
#   analysis/grokking_checkpoints.csv     one row per (seed, arm, step): accuracies, losses, measures
#   analysis/grokking_positive_control.csv  final checkpoints: dominant H1 bar on the Fourier plane?
#   figures/grokking.png
from toposcale.experiments.grokking import ARMS as GROK_ARMS
from toposcale.experiments.grokking import checkpoint_steps as grokking_checkpoint_steps
from toposcale.plan.resources import grokking_measure_runtime, grokking_train_runtime
from toposcale.plan.targets import grokking_runs, grokking_targets

GROK = config["grokking"]
# What training and measuring read: without the analysis thresholds, so that changing one reruns only the analysis.
GROK_RUN_CFG = {k: v for k, v in GROK.items() if k not in ("positive_control", "accuracy")}
GROK_STEPS = grokking_checkpoint_steps(GROK)
GROK_SEEDS = [int(s) for s in GROK["seeds"]]
GROK_RUN = "{arm}-s{seed}"
# Rule-level constraints only (a global `seed` or `arm` constraint would leak into other rule files).
GROK_WILDCARDS = {"arm": "|".join(GROK_ARMS), "seed": "|".join(str(s) for s in GROK_SEEDS) or "(?!)"}


rule grokking_all:
    input:
        grokking_targets(config, PATHS),


rule grokking_train:
    wildcard_constraints:
        **GROK_WILDCARDS,
    output:
        log_csv=PATHS.grokking(GROK_RUN, "log.csv"),
        ckpts=[PATHS.grokking_checkpoint(GROK_RUN, s) for s in GROK_STEPS],
    params:
        cfg=GROK_RUN_CFG,
    log:
        PATHS.log("grokking", f"train-{GROK_RUN}.log"),
    threads: 1
    resources:
        mem_mb=1500,
        runtime=grokking_train_runtime(GROK),
    conda:
        ENV_TRAIN
    script:
        "../scripts/grokking_train.py"


rule grokking_measure:
    wildcard_constraints:
        **GROK_WILDCARDS,
    input:
        log_csv=PATHS.grokking(GROK_RUN, "log.csv"),
        ckpts=[PATHS.grokking_checkpoint(GROK_RUN, s) for s in GROK_STEPS],
    output:
        measures=PATHS.grokking(GROK_RUN, "measures.csv"),
        diagrams=PATHS.grokking(GROK_RUN, "diagrams.npz"),
    params:
        cfg=GROK_RUN_CFG,
        noise_fraction=config["topology"]["noise_fraction"],
        backend=config["topology"]["backend"],
        n_null_draws=config["topology"]["nulls"]["n_draws"],
    log:
        PATHS.log("grokking", f"measure-{GROK_RUN}.log"),
    threads: 1
    resources:
        mem_mb=1500,
        runtime=grokking_measure_runtime(len(GROK_STEPS), config["topology"]["nulls"]["n_draws"]),
    conda:
        ENV_TRAIN
    script:
        "../scripts/grokking_measure.py"


rule grokking_analyse:
    input:
        measures=[PATHS.grokking(run, "measures.csv") for run in grokking_runs(GROK, GROK_ARMS)],
    output:
        summary=PATHS.analysis("grokking.csv"),
        checkpoints=PATHS.analysis("grokking_checkpoints.csv"),
        control=PATHS.analysis("grokking_positive_control.csv"),
    params:
        seed=config["seed"],
        accuracy=GROK["accuracy"],
        positive_control=GROK["positive_control"],
        detection=GROK["detection"],
    log:
        PATHS.log("grokking", "analyse.log"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/grokking_analyse.py"


rule plot_grokking:
    localrule: True
    input:
        checkpoints=PATHS.analysis("grokking_checkpoints.csv"),
        summary=PATHS.analysis("grokking.csv"),
        grok_diagrams=PATHS.grokking(f"grok-s{GROK_SEEDS[0]}", "diagrams.npz"),
        control_diagrams=PATHS.grokking(f"control-s{GROK_SEEDS[0]}", "diagrams.npz"),
    output:
        fig("grokking", CATEGORY["grokking"]),
    params:
        dpi=config["figures"]["dpi"],
        seed=GROK_SEEDS[0],
        accuracy=GROK["accuracy"],
        positive_control=GROK["positive_control"],
    log:
        PATHS.log("grokking", "figure.log"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_grokking.py"
