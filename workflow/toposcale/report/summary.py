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
(``analysis/grokking_positive_control.csv``, :func:`toposcale.experiments.grokking.positive_control`) and
``pretrained_kinds`` (``analysis/pretrained_kinds.csv``, :func:`toposcale.experiments.pretrained.kind_table`: the
gated encoder/decoder verdict and the confounds per model).

The last section, ``## Provenance``, gives the provenance of the job that wrote the summary (config hash,
toposcale version, git revision: :mod:`toposcale.provenance`) and names every table read whose recorded
provenance (:func:`toposcale.io.read_provenance`) differs from it, e.g. a table left from an older
revision (a new commit alone reruns nothing).

A key that is absent (or ``None``) gives no section. A table that exists but lacks a needed column
gives its section with a one-line note naming the missing columns instead of numbers.

The section builders are in :mod:`toposcale.report.sections`, the formatting helpers in
:mod:`toposcale.report.text`, and the short lines of the summary figure in :mod:`toposcale.report.keys`.
"""

from __future__ import annotations

import json
from pathlib import Path

from toposcale import provenance as _provenance
from toposcale.io import read_provenance, read_table, write_text_atomic
from toposcale.report.sections import SECTION_BUILDERS
from toposcale.report.text import MissingColumns

#: Section order and titles.
SECTIONS = (
    ("scaling", "Scaling laws and holdout prediction"),
    ("dynamics", "Topology against loss during training"),
    ("forecast", "Forecasting the final loss from partial training"),
    ("stages", "The n-gram staircase of the loss"),
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
    "stage_recall": "stages",
    "grokking_control": "grokking",
    "pretrained_kinds": "pretrained",
}
#: Every key :func:`build_summary` accepts.
TABLE_KEYS = tuple(k for k, _ in SECTIONS) + tuple(AUX_TABLES)


def provenance_section(own: dict, paths) -> list[str]:
    """Lines of the ``## Provenance`` section: ``own`` (the writer's record) in full, then each table of
    ``paths`` (existing files only) whose recorded provenance differs from ``own``, or that records none."""
    out = ["## Provenance", "",
           f"- config SHA-256: `{own.get('config_sha256') or 'unknown'}` (the validated config)",
           f"- toposcale version: `{own.get('toposcale_version')}`",
           f"- git revision: `{own.get('git_revision')}`", ""]
    keys = _provenance.KEYS
    others = []
    for path in paths:
        if not Path(path).is_file():
            continue
        try:
            rec = read_provenance(path)
        except (OSError, ValueError):
            rec = None
        if rec is None:
            others.append(f"- `{Path(path).name}`: no provenance recorded")
        elif any(rec.get(k) != own.get(k) for k in keys):
            others.append(f"- `{Path(path).name}`: {_provenance.short(rec)}")
    if others:
        out += ["Tables read whose provenance differs from the above:", "", *others, ""]
    else:
        out += ["Every table read records the same provenance.", ""]
    return out


def build_summary(paths: dict, title: str = "toposcale: summary of the study", provenance: dict | None = None) -> str:
    """Markdown summary of the analysis tables named in ``paths``.

    Parameters
    ----------
    paths : dict
        Table key (:data:`TABLE_KEYS`: a section of :data:`SECTIONS` or an auxiliary table of
        :data:`AUX_TABLES`) -> path; keys that are absent or ``None`` are not read. Unknown keys are
        an error (a typo would silently drop a section).
    title : str
        First-level heading.
    provenance : dict, optional
        The writer's provenance record for the last section (:func:`provenance_section`); default
        :func:`toposcale.provenance.current`.

    Returns
    -------
    str
        The document: the title, a list of the tables read, then one ``##`` section per main table
        given, in :data:`SECTIONS` order, then ``## Provenance``. A table missing on disk, unreadable, or lacking a needed
        column gives its section (or part) with a note instead of numbers. Auxiliary tables without
        their main table are not used.
    """
    known = dict(SECTIONS)
    unknown = sorted(set(paths) - set(TABLE_KEYS))
    if unknown:
        raise ValueError(f"build_summary: unknown table keys {unknown}; use {list(TABLE_KEYS)}")
    used = [(k, paths[k]) for k, _ in SECTIONS if paths.get(k)]
    own = _provenance.current() if provenance is None else provenance
    out = [f"# {title}", ""]
    if not used:
        return "\n".join(out + ["No analysis tables were given.", ""] + provenance_section(own, []))
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
    out += provenance_section(own, read)
    return "\n".join(out).rstrip() + "\n"


def write_summary(paths: dict, out_path, title: str = "toposcale: summary of the study",
                  provenance: dict | None = None) -> str:
    """:func:`build_summary` written atomically to ``out_path`` (with its provenance sidecar); returns the text."""
    text = build_summary(paths, title=title, provenance=provenance)
    write_text_atomic(text, out_path, provenance)
    return text
