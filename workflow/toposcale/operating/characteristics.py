"""The design, the result row and the registry of operating-characteristic checks.

One home for: the study design a simulation must match (:class:`Design`), one row of the table
(:class:`Characteristic`), a pass rate with its Monte Carlo standard error (:func:`proportion`) and the
registry (:func:`register`, :func:`run_checks`). The checks themselves live beside it, one module per
verdict family, and import the analysis function whose verdict they measure: a check never re-implements
the verdict it measures.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

#: A verdict whose power at the planted (observed-size) effect is below this says "cannot decide"
#: in the plan and the report instead of a verdict.
MIN_POWER = 0.8

#: Columns of the operating-characteristics table, in order.
COLUMNS = ("verdict", "family", "design", "planted", "power", "power_mcse", "control", "fpr", "fpr_mcse",
           "n_sim", "decidable", "note")

#: The modules holding the checks; importing one registers its checks.
CHECK_MODULES: tuple[str, ...] = ("toposcale.operating.alignment", "toposcale.operating.control",
                                  "toposcale.operating.dynamics",
                                  "toposcale.operating.forecast", "toposcale.operating.grokking",
                                  "toposcale.operating.nulls", "toposcale.operating.pretrained",
                                  "toposcale.operating.scaling", "toposcale.operating.size",
                                  "toposcale.operating.transition_sizes", "toposcale.operating.transitions")


@dataclass(frozen=True)
class Design:
    """The sample sizes of a study, as its verdicts see them.

    ``sizes``: distinct non-embedding parameter counts of the fitted (non-holdout) runs of one activation
    (the first; every activation has the same number of sizes), ascending; ``holdout_sizes``: those held out; ``seeds``: seeds per size; ``activations``;
    ``checkpoint_fracs``: the training fractions (step / total steps) of the checkpoints at step > 0 of
    the shortest run (every run shares the same schedule shape); ``k_nulls``: null draws per cloud and
    kind; ``n_permutations`` / ``n_surrogates``: the Monte Carlo sizes behind p-values;
    ``grokking_seeds`` and ``grokking_checkpoints``: the grokking control's runs. ``extra`` carries any
    other config value a check needs (read from the config, never set by hand); ``extra["checkpoint_steps"]``
    maps each non-embedding parameter count of the first activation to its run's checkpoint steps at
    step > 0 (the last is the run's total steps, which grow with size).
    """

    activations: tuple[str, ...]
    sizes: tuple[int, ...]
    holdout_sizes: tuple[int, ...]
    seeds: int
    checkpoint_fracs: tuple[float, ...]
    k_nulls: int
    n_permutations: int
    n_surrogates: int
    grokking_seeds: int = 0
    grokking_checkpoints: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def n_checkpoints(self) -> int:
        """Checkpoints at step > 0 per run."""
        return len(self.checkpoint_fracs)

    @property
    def n_runs(self) -> int:
        """Runs per activation (fitted and held-out sizes, all seeds)."""
        return (len(self.sizes) + len(self.holdout_sizes)) * self.seeds

    def describe(self) -> str:
        """One line naming the sample sizes (the ``design`` column)."""
        return (f"{len(self.activations)} act x {len(self.sizes)}+{len(self.holdout_sizes)} sizes x "
                f"{self.seeds} seeds, {self.n_checkpoints} ckpts, K={self.k_nulls}")

    @classmethod
    def from_config(cls, config: dict) -> "Design":
        """The design of a validated config (the same plan the Snakefile builds)."""
        from toposcale.plan.study import run_checkpoint_steps, study_runs

        runs = study_runs(config)
        first = [r for r in runs if r.activation == runs[0].activation]
        fitted = sorted({r.n_nonembed for r in first if not r.holdout})
        held = sorted({r.n_nonembed for r in first if r.holdout})
        shortest = min(runs, key=lambda r: r.total_steps)
        steps = [s for s in _schedule(run_checkpoint_steps, shortest, config) if s > 0]
        fracs = tuple(s / shortest.total_steps for s in steps)
        dyn = config.get("dynamics", {})
        grok = config.get("grokking", {})
        return cls(activations=tuple(config["model"]["activations"]), sizes=tuple(fitted),
                   holdout_sizes=tuple(held), seeds=len(config["model"]["seeds"]), checkpoint_fracs=fracs,
                   k_nulls=int(config["topology"]["nulls"]["n_draws"]),
                   n_permutations=int(dyn.get("n_permutations", 199)),
                   n_surrogates=int(dyn.get("n_surrogates", 999)),
                   grokking_seeds=len(grok.get("seeds", [])) if grok.get("enabled", True) else 0,
                   grokking_checkpoints=int(grok.get("n_checkpoints", 0)),
                   extra={"alignment": dict(config.get("alignment", {})),
                          "sd_pool_window": int(config["topology"]["nulls"]["sd_pool_window"]),
                          "grokking": {k: grok[k] for k in ("steps", "accuracy", "detection") if k in grok},
                          "pretrained": dict(config.get("pretrained", {})),
                          "stages": dict(config.get("stages", {})),
                          "transitions": dict(config.get("transitions", {})),
                          "checkpoint_steps": {int(r.n_nonembed): tuple(int(s) for s in _schedule(
                              run_checkpoint_steps, r, config) if s > 0) for r in first}})


def _schedule(run_checkpoint_steps, run, config) -> list[int]:
    """The run's checkpoint steps as the plan computes them (one call site to follow the plan's signature)."""
    return run_checkpoint_steps(run.total_steps, config["training"])


def proportion(k: int, n: int) -> tuple[float, float]:
    """A pass rate ``k / n`` and its Monte Carlo standard error ``sqrt(p (1 - p) / n)``.

    >>> p, se = proportion(45, 50); round(p, 3), round(se, 4)
    (0.9, 0.0424)
    """
    if n <= 0:
        return float("nan"), float("nan")
    p = k / n
    return p, math.sqrt(p * (1 - p) / n)


@dataclass
class Characteristic:
    """One row: a verdict's power on its positive control and its FPR on one negative control.

    ``verdict`` is the key summary.md uses for the verdict; ``planted`` states the planted effect and
    where its size comes from; ``control`` names the negative control (one row per control: the power
    columns repeat). ``decidable`` is ``power >= MIN_POWER``.
    """

    verdict: str
    family: str
    design: str
    planted: str
    power: float
    power_mcse: float
    control: str
    fpr: float
    fpr_mcse: float
    n_sim: int
    note: str = ""

    @property
    def decidable(self) -> bool:
        return bool(np.isfinite(self.power) and self.power >= MIN_POWER)

    def row(self) -> dict:
        d = asdict(self)
        d["decidable"] = self.decidable
        return {c: d[c] for c in COLUMNS}


CheckFn = Callable[[Design, int, int], list]
_REGISTRY: dict[str, CheckFn] = {}


def register(family: str) -> Callable[[CheckFn], CheckFn]:
    """Decorator: register ``fn(design, n_sim, seed) -> list[Characteristic]`` under ``family``."""
    def deco(fn: CheckFn) -> CheckFn:
        _REGISTRY[family] = fn
        return fn
    return deco


def checks() -> dict[str, CheckFn]:
    """Every registered check by family (imports :data:`CHECK_MODULES` first)."""
    for mod in CHECK_MODULES:
        importlib.import_module(mod)
    return dict(_REGISTRY)


def run_checks(design: Design, n_sim: int, seed: int = 0, families=None, progress=None) -> pd.DataFrame:
    """Run the registered checks (all, or ``families``) at ``design``; one row per (verdict, control)."""
    rows = []
    for fam, fn in sorted(checks().items()):
        if families is not None and fam not in families:
            continue
        if progress:
            progress(f"operating characteristics: {fam} ({n_sim} simulated studies)")
        for ch in fn(design, n_sim, seed):
            rows.append(ch.row())
    return pd.DataFrame(rows, columns=list(COLUMNS))
