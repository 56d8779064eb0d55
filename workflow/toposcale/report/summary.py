"""The study's key numbers as Markdown (``results/report/summary.md``), generated from the analysis tables.

:func:`build_summary` reads whichever of these tables it is given and writes one section per table;
every number it prints is a value of a table (or a mean, median or count over a table's rows, stated
as such), and every sentence is a template filled from those values; verdicts are quoted from the
tables (their ``verdict`` columns), never decided here.

========================  ==================================================================
key of ``paths``           table (written by)
========================  ==================================================================
``scaling``                ``analysis/scaling.json`` (:func:`toposcale.analysis.scaling.analyse_grid`)
``dynamics``               ``analysis/dynamics.csv`` (:func:`toposcale.analysis.dynamics.correlate`)
``forecast``               ``analysis/forecast.csv`` (:func:`toposcale.analysis.forecasting.forecast` rows, or the
                           per-(evaluation, fraction, method) summary of :func:`toposcale.analysis.forecast_summary.summarise_forecasts`)
``transitions``            ``analysis/transitions.csv`` (:mod:`toposcale.analysis.transitions`)
``alignment``              ``analysis/alignment.csv`` (:func:`toposcale.analysis.alignment.align`)
``grokking``               ``analysis/grokking.csv`` (:mod:`toposcale.experiments.grokking`)
``pretrained``             ``analysis/pretrained.csv`` (:func:`toposcale.experiments.pretrained.comparison_table`)
========================  ==================================================================

``operating`` (``analysis/operating_characteristics.csv``, :func:`toposcale.operating.run_checks`) has its
own section and is also handed to every other section as ``aux["operating"]``, so a verdict line can
print its power and false-positive rate beside it (:func:`toposcale.report.operating.power_note`).

Auxiliary tables enrich a section when given with its main table (:data:`AUX_TABLES`):
``forecast_summary`` / ``forecast_comparisons`` (``analysis/forecast_summary.csv``,
``forecast_comparisons.csv``: mean errors with bootstrap intervals and paired verdicts of
:func:`toposcale.analysis.forecast_summary.summarise_forecasts`), ``transition_sizes`` (``analysis/transition_sizes.csv``,
:func:`toposcale.analysis.transitions.size_trends`) and ``grokking_control``
(``analysis/grokking_positive_control.csv``, :func:`toposcale.experiments.grokking.positive_control`).

A key that is absent (or ``None``) gives no section. A table that exists but lacks a needed column
gives its section with a one-line note naming the missing columns instead of numbers.

The section builders are in :mod:`toposcale.report.sections`, the formatting helpers in
:mod:`toposcale.report.text`, and the short lines of the summary figure in :mod:`toposcale.report.keys`.
"""

from __future__ import annotations

import json
from pathlib import Path

from toposcale.io import atomic_path, read_table
from toposcale.report.sections import SECTION_BUILDERS
from toposcale.report.text import MissingColumns

#: Section order and titles.
SECTIONS = (
    ("scaling", "Scaling laws and holdout prediction"),
    ("dynamics", "Topology against loss during training"),
    ("forecast", "Forecasting the final loss from partial training"),
    ("transitions", "Phase transitions"),
    ("alignment", "Topology at the loss's stage crossings"),
    ("grokking", "Grokking positive control"),
    ("pretrained", "Pretrained models: expansion ratios"),
    ("operating", "Operating characteristics of the verdicts"),
)
#: Auxiliary table key -> the section it enriches.
AUX_TABLES = {
    "forecast_summary": "forecast",
    "forecast_comparisons": "forecast",
    "transition_sizes": "transitions",
    "grokking_control": "grokking",
}
#: Every key :func:`build_summary` accepts.
TABLE_KEYS = tuple(k for k, _ in SECTIONS) + tuple(AUX_TABLES)


def build_summary(paths: dict, title: str = "toposcale: summary of the study") -> str:
    """Markdown summary of the analysis tables named in ``paths``.

    Parameters
    ----------
    paths : dict
        Table key (:data:`TABLE_KEYS`: a section of :data:`SECTIONS` or an auxiliary table of
        :data:`AUX_TABLES`) -> path; keys that are absent or ``None`` are not read. Unknown keys are
        an error (a typo would silently drop a section).
    title : str
        First-level heading.

    Returns
    -------
    str
        The document: the title, a list of the tables read, then one ``##`` section per main table
        given, in :data:`SECTIONS` order. A table missing on disk, unreadable, or lacking a needed
        column gives its section (or part) with a note instead of numbers. Auxiliary tables without
        their main table are not used.
    """
    known = dict(SECTIONS)
    unknown = sorted(set(paths) - set(TABLE_KEYS))
    if unknown:
        raise ValueError(f"build_summary: unknown table keys {unknown}; use {list(TABLE_KEYS)}")
    used = [(k, paths[k]) for k, _ in SECTIONS if paths.get(k)]
    out = [f"# {title}", ""]
    if not used:
        return "\n".join(out + ["No analysis tables were given.", ""])
    read = [p for k, p in paths.items() if p and (k in known or AUX_TABLES.get(k) in dict(used))]
    out += ["Generated from: " + ", ".join(f"`{Path(p).name}`" for p in read) + ".", ""]
    shared = {}
    if paths.get("operating") and Path(paths["operating"]).exists():
        try:
            shared["operating"] = read_table(paths["operating"])
        except (OSError, ValueError):
            pass  # its own section says why
    for key, path in used:
        out += [f"## {known[key]}", ""]
        if not Path(path).exists():
            out += [f"_Table `{path}` does not exist; section skipped._", ""]
            continue
        aux, notes = ({} if key == "operating" else dict(shared)), []
        for akey, section in AUX_TABLES.items():
            if section != key or not paths.get(akey):
                continue
            try:
                aux[akey] = read_table(paths[akey])
            except (OSError, ValueError) as err:
                notes.append(f"_Could not read `{Path(paths[akey]).name}`: {type(err).__name__}: {err}._")
        try:
            out += SECTION_BUILDERS[key](read_table(path), aux)
        except MissingColumns as err:
            out += [f"_{err}_", ""]
        except (ValueError, KeyError, OSError, json.JSONDecodeError) as err:
            out += [f"_Could not read `{Path(path).name}`: {type(err).__name__}: {err}; section skipped._", ""]
        for n in notes:
            out += [n, ""]
    return "\n".join(out).rstrip() + "\n"


def write_summary(paths: dict, out_path, title: str = "toposcale: summary of the study") -> str:
    """:func:`build_summary` written atomically to ``out_path``; returns the text."""
    text = build_summary(paths, title=title)
    with atomic_path(out_path) as tmp:
        tmp.write_text(text)
    return text
