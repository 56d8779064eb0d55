"""The correlation variants of ``analysis/dynamics.csv`` (:func:`toposcale.analysis.dynamics.correlate`),
shared by the summary text (:mod:`toposcale.report.sections`) and the summary figure
(:mod:`toposcale.report.plots.summary`)."""

from __future__ import annotations

#: Correlation variants of dynamics.csv: (column suffix, description). A variant is reported when its
#: ``rho`` and ``significant`` columns exist and ``rho`` is defined for some series.
DYNAMICS_VARIANTS = (
    ("", "raw"),
    ("_partial", "partial on log(step)"),
    ("_detrended", "detrended in log(step)"),
)


def dynamics_variants(df) -> list[tuple[str, str]]:
    """The :data:`DYNAMICS_VARIANTS` present in ``df`` with at least one defined correlation."""
    return [(suf, desc) for suf, desc in DYNAMICS_VARIANTS
            if {f"rho{suf}", f"significant{suf}"} <= set(df.columns) and df[f"rho{suf}"].notna().any()]
