# Grokking positive control (toposcale.experiments.grokking): modular addition, a grokking arm (weight decay) and a
# control arm (no weight decay) per seed. Needs RESULTS and the validated `config` (common.smk).
# Outputs:
#   grokking/{arm}-s{seed}/log.csv, checkpoints/step{step:07d}.safetensors   training (one job per run)
#   grokking/{arm}-s{seed}/measures.csv, diagrams.npz                          progress measures per checkpoint
#   analysis/grokking.csv                 one row per metric: AUC pre- vs post-grok, CI, timing verdict
#   analysis/grokking_checkpoints.csv     one row per (seed, arm, step): accuracies, losses, measures
#   analysis/grokking_positive_control.csv  final checkpoints: dominant H1 bar on the Fourier plane?
#   figures/grokking.png
from toposcale.experiments.grokking import ARMS as GROK_ARMS
from toposcale.experiments.grokking import checkpoint_steps as _grok_checkpoint_steps

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
