"""Probe texts: corpus names for paths, splitting a corpus into text units, and the seeded selection.

Light at import (no torch, pandas or transformers): the rule files call :func:`corpus_sources` and
:func:`corpus_name` while Snakemake parses them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from toposcale.experiments.pretrained.errors import PretrainedError
from toposcale.train.corpus import read_source

def corpus_name(source: str) -> str:
    """Short name of a corpus source for paths: ``builtin:kjv`` -> ``kjv``, ``/x/My-Notes.txt`` -> ``My_Notes``."""
    if source.startswith("builtin:"):
        return source.split(":", 1)[1]
    stem = Path(source.rstrip("/")).stem
    name = re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_")
    if not name:
        raise PretrainedError(f"pretrained.corpora entry {source!r} gives an empty name; rename the file")
    return name


def corpus_sources(pcfg: dict) -> dict[str, str]:
    """``{name: source}`` for ``pretrained.corpora`` (names must be unique)."""
    out = {}
    for src in pcfg.get("corpora", []):
        name = corpus_name(src)
        if name in out:
            raise PretrainedError(f"pretrained.corpora: {out[name]!r} and {src!r} both get the name {name!r}; "
                                  f"rename one of the files")
        out[name] = src
    return out


def text_units(text: str, min_chars: int = 40, min_units: int = 1) -> list[str]:
    """Split a corpus into probe-text units.

    Units are paragraphs (blocks separated by blank lines) when at least ``min_units`` distinct
    paragraphs have ``min_chars`` or more characters; otherwise lines (a verse-per-line corpus such as
    the KJV has no blank lines). Whitespace inside a unit is collapsed to single spaces, units shorter
    than ``min_chars`` characters are dropped, and repeated units are kept once (at their first
    occurrence), so no two probe texts are identical (the KJV repeats 189 verses, the standard library
    670 docstring paragraphs).

    Examples
    --------
    >>> text_units("a b c\\nd e f\\na b c", min_chars=3)
    ['a b c', 'd e f']
    >>> text_units("one\\ntwo\\n\\nthree four", min_chars=5)
    ['one two', 'three four']
    """
    def clean(parts):
        out = (" ".join(p.split()) for p in parts)
        return list(dict.fromkeys(u for u in out if len(u) >= min_chars))

    paragraphs = clean(re.split(r"\n[ \t]*\n", text))
    if len(paragraphs) >= max(2, min_units):
        return paragraphs
    return clean(text.splitlines())


def select_probes(units: list[str], n: int, seed: int) -> list[str]:
    """``n`` units drawn without replacement (``numpy`` generator seeded with ``seed``), in corpus order.

    Raises
    ------
    PretrainedError
        Fewer than ``n`` units.
    """
    if len(units) < n:
        raise PretrainedError(f"the corpus has {len(units)} usable text units, fewer than pretrained.n_probe = {n}; "
                              f"lower pretrained.n_probe or use a larger corpus")
    idx = np.sort(np.random.default_rng(seed).choice(len(units), size=n, replace=False))
    return [units[i] for i in idx]


def probe_texts(source: str, n: int, seed: int, min_chars: int = 40) -> list[str]:
    """The probe texts of a corpus source (:func:`toposcale.train.corpus.read_source`, :func:`text_units`,
    :func:`select_probes`)."""
    return select_probes(text_units(read_source(source), min_chars=min_chars, min_units=n), n, seed)
