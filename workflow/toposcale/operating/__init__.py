"""Operating characteristics of every verdict the report prints (DESIGN.md 5b, "Power before verdict").

A verdict is only as good as its measured power and false-positive rate. For each verdict this
subpackage simulates the study's own design (runs, sizes, seeds, checkpoints, null draws K: a
:class:`Design` read off the validated config) with

* a *positive control*: a planted effect of realistic size (taken from the study's observed values and
  stated in ``planted``) that the verdict must find; its pass rate is the **power**;
* *negative controls*: fakes the verdict must not pass (a clock, a shared trend, a structureless
  heavy-tailed cloud, a series that moves at a fixed training fraction); each pass rate is a
  **false-positive rate** (FPR).

Each verdict family registers one function ``check(design, n_sim, seed) -> list[Characteristic]``
with :func:`register`; :func:`run_checks` runs them all (or some) and returns one table
(:data:`COLUMNS`). The Snakemake rule ``analysis_operating`` writes it as
``results/analysis/operating_characteristics.csv`` at the study's own design, summary.md prints power
and FPR (with their Monte Carlo errors) beside each verdict, and ``benchmarks/operating_characteristics.py``
runs the full-size simulation. Tests run the same checks at a reduced Monte Carlo size with bounds
stated for that size.
"""
from toposcale.operating.characteristics import (COLUMNS, MIN_POWER, Characteristic, Design, checks, proportion,
                                                 register, run_checks)

__all__ = ["COLUMNS", "MIN_POWER", "Characteristic", "Design", "checks", "proportion", "register", "run_checks"]
