"""What the topology figures of the trained runs share (:mod:`~toposcale.report.plots.evolution`,
:mod:`~toposcale.report.plots.diagrams`, :mod:`~toposcale.report.plots.betti`): the table check and the
checkpoint labels.

The figures are drawn from the summarise and persistence tables only; which runs, checkpoints and layers
they draw is chosen by :mod:`toposcale.plan.figures`.

Units. A cloud's *scale* is its largest finite H0 death (the longest edge of its minimum spanning
tree). "Normalised" values are divided by it, so every diagram and Betti curve here is in units of
its own cloud's scale and clouds of different norm (init vs trained, weights vs activations) share
axes. Total persistence is the sum of the finite bars' lifetimes (death - birth); the infinite H0
bar is never summed or drawn.
"""

from __future__ import annotations

from toposcale.report.plots.style import fmt_count


def tokens_text(tokens: dict | None, step: int) -> str:
    """Checkpoint label: ``'step 100 (51.2k tokens)'``, or ``'step 100'`` when ``tokens`` (step -> tokens
    seen) lacks the step."""
    if not tokens or step not in tokens:
        return f"step {step}"
    return f"step {step} ({fmt_count(tokens[step])} tokens)"


def check_columns(df, cols, what: str) -> None:
    """Raise ``ValueError`` naming the columns of ``cols`` that the table ``df`` (called ``what``) lacks."""
    missing = [c for c in cols if c not in df]
    if missing:
        raise ValueError(f"{what} lacks columns {missing} (has {list(df.columns)}); regenerate it with "
                         f"the current toposcale.topology.summarise")
