"""The grokking runs and their files: the two arms, the checkpoint schedule, checkpoint paths, log columns.

Standard library only (and the study plan): the rule files import :data:`ARMS` and :func:`checkpoint_steps` when
Snakemake parses the workflow.
"""

from __future__ import annotations

from pathlib import Path

from toposcale.plan.paths import step_name
from toposcale.plan.study import checkpoint_steps as study_checkpoint_steps

ARMS = ("grok", "control")
#: Columns of a run's ``log.csv`` (see :func:`toposcale.experiments.grokking.training.train`).
LOG_COLUMNS = ["step", "train_loss", "test_loss", "train_acc", "test_acc", "lr", "weight_norm", "elapsed_s"]


def checkpoint_steps(cfg: dict) -> list[int]:
    """Log-spaced checkpoint steps for the ``grokking`` config section (step 0 and ``steps`` included).

    The same schedule as the GPT runs (:func:`toposcale.plan.study.checkpoint_steps`), a pure function of
    ``cfg['steps']`` and ``cfg['n_checkpoints']``.
    """
    return study_checkpoint_steps(int(cfg["steps"]), int(cfg["n_checkpoints"]))


def arm_weight_decay(cfg: dict, arm: str) -> float:
    """Weight decay of an arm: ``weight_decay`` for ``grok``, ``control_weight_decay`` for ``control``.

    Examples
    --------
    >>> arm_weight_decay({"weight_decay": 1.0, "control_weight_decay": 0.0}, "control")
    0.0
    """
    if arm == "grok":
        return float(cfg["weight_decay"])
    if arm == "control":
        return float(cfg["control_weight_decay"])
    raise ValueError(f"unknown arm {arm!r}; use one of {ARMS}")


def checkpoint_path(outdir, step: int) -> Path:
    """``{outdir}/checkpoints/step{step:07d}.safetensors``.

    Examples
    --------
    >>> checkpoint_path("runs/grok-s0", 350).as_posix()
    'runs/grok-s0/checkpoints/step0000350.safetensors'
    """
    return Path(outdir) / "checkpoints" / f"{step_name(step)}.safetensors"
