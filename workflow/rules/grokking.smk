# Grokking positive control (toposcale.grokking): modular addition, a grokking arm (weight decay) and a
# control arm (no weight decay) per seed. Needs RESULTS and the validated `config` (common.smk).
# Outputs:
#   grokking/{arm}-s{seed}/log.csv, checkpoints/step{step:07d}.safetensors   training (one job per run)
#   grokking/{arm}-s{seed}/measures.csv, diagrams.npz                          progress measures per checkpoint
#   analysis/grokking.csv                 one row per metric: AUC pre- vs post-grok, CI, timing verdict
#   analysis/grokking_checkpoints.csv     one row per (seed, arm, step): accuracies, losses, measures
#   analysis/grokking_positive_control.csv  final checkpoints: dominant H1 bar on the Fourier plane?
#   figures/grokking.png
from toposcale.grokking import ARMS as GROK_ARMS
from toposcale.grokking import checkpoint_steps as _grok_checkpoint_steps

GROK = config["grokking"]
GROK_ROOT = f"{RESULTS}/grokking"
GROK_STEPS = _grok_checkpoint_steps(GROK)
GROK_SEEDS = [int(s) for s in GROK["seeds"]]
GROK_RUNS = [f"{arm}-s{seed}" for seed in GROK_SEEDS for arm in GROK_ARMS]
# Measured on one CPU thread: about 3e-5 s per training example per step at d_model 128, d_mlp 512.
_GROK_SECONDS = (
    3e-5
    * GROK["steps"]
    * GROK["p"] ** 2
    * GROK["train_fraction"]
    * (4 * GROK["d_model"] ** 2 + 2 * GROK["d_model"] * GROK["d_mlp"])
    / (4 * 128**2 + 2 * 128 * 512)
)


def grokking_targets():
    """Final outputs of the grokking control for `rule all` (empty when grokking.enabled is false)."""
    if not GROK["enabled"]:
        return []
    return [
        f"{RESULTS}/analysis/grokking.csv",
        f"{RESULTS}/analysis/grokking_checkpoints.csv",
        f"{RESULTS}/analysis/grokking_positive_control.csv",
        f"{RESULTS}/figures/grokking.png",
    ]


# Rule-level constraints only (a global `seed` or `arm` constraint would leak into other rule files).
GROK_WILDCARDS = {"arm": "|".join(GROK_ARMS), "seed": "|".join(str(s) for s in GROK_SEEDS) or "(?!)"}


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
        ENV_PRETRAINED
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
    input:
        checkpoints=f"{RESULTS}/analysis/grokking_checkpoints.csv",
        summary=f"{RESULTS}/analysis/grokking.csv",
        grok_diagrams=f"{GROK_ROOT}/grok-s{GROK_SEEDS[0]}/diagrams.npz",
        control_diagrams=f"{GROK_ROOT}/control-s{GROK_SEEDS[0]}/diagrams.npz",
    output:
        f"{RESULTS}/figures/grokking.png",
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
