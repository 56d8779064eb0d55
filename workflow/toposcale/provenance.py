"""Provenance of an output: the config hash, the toposcale version and the git revision it was made from.

Every table and figure records a provenance record at write time (the writers of :mod:`toposcale.io` and
:func:`toposcale.report.plots.style.save` call :func:`current`), and ``summary.md`` prints the record
of the job that wrote it. The record is computed inside the job, never passed as a Snakemake
``params:`` value: a rule's params are part of what Snakemake compares to decide whether an output is
stale, so a revision in params would make every output stale after each new commit.

A record is a dict with exactly these keys:

* ``config_sha256``: SHA-256 (hex) of the validated config as canonical JSON (keys sorted at every
  level, no whitespace, non-JSON values such as paths written with ``str``): :func:`config_hash`.
  ``None`` when the writing process never named its config (:func:`use_config`).
* ``toposcale_version``: the installed distribution's version (``importlib.metadata``), else the
  package's ``__version__``.
* ``git_revision``: ``git rev-parse HEAD`` of the checkout holding this package, with ``+dirty``
  appended when a tracked file differs from HEAD (``git status --porcelain --untracked-files=no`` is
  not empty); ``unknown`` when the package is not in a git checkout or git cannot be run.

A Snakemake script names its config once, before writing anything::

    from toposcale.provenance import use_config
    use_config(snakemake.config)   # common.smk replaced the workflow's config by the validated one

Only the standard library is imported here; git runs once per process (the answer is cached).
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from importlib import metadata as package_metadata
from pathlib import Path

__all__ = ["KEYS", "config_hash", "current", "git_revision", "package_version", "short", "use_config"]

#: Keys of a provenance record, in the order summaries print them.
KEYS = ("config_sha256", "toposcale_version", "git_revision")

#: The checkout holding this package (``workflow/toposcale/provenance.py`` -> the repository root).
PACKAGE_ROOT = Path(__file__).resolve().parents[2]

_CONTEXT: dict = {"config_sha256": None}


def config_hash(config: dict) -> str:
    """SHA-256 (hex) of ``config`` as canonical JSON: ``json.dumps(config, sort_keys=True,
    separators=(",", ":"), default=str)``, so the key order of any mapping does not matter.

    Pass the validated config (:func:`toposcale.config.validate_config`, which fills every default), so
    a key left at its default and the same key written out give one hash.

    Examples
    --------
    >>> config_hash({"a": 1, "b": {"c": 2, "d": 3}}) == config_hash({"b": {"d": 3, "c": 2}, "a": 1})
    True
    >>> config_hash({"a": 1}) == config_hash({"a": 2})
    False
    """
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str, allow_nan=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def package_version() -> str:
    """toposcale's version from its installed metadata, else ``toposcale.__version__``."""
    try:
        return package_metadata.version("toposcale")
    except package_metadata.PackageNotFoundError:
        from toposcale import __version__

        return __version__


def _git(root: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30,
                         check=True)
    return out.stdout.strip()


@functools.lru_cache(maxsize=8)
def git_revision(root=None) -> str:
    """``git rev-parse HEAD`` of the checkout whose top folder is ``root`` (default: the one holding this
    package), plus ``+dirty`` when a tracked file differs from HEAD; ``unknown`` when ``root`` is not the
    top of a git checkout (an installed copy of the package inside some other checkout, say) or git is not
    installed. Cached per ``root`` for the life of the process."""
    root = Path(root).resolve() if root is not None else PACKAGE_ROOT
    try:
        top, head = _git(root, "rev-parse", "--show-toplevel", "HEAD").splitlines()
    except (OSError, subprocess.SubprocessError, ValueError):
        return "unknown"
    if Path(top).resolve() != root:  # e.g. an installed copy inside some other checkout: not its revision
        return "unknown"
    try:
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        dirty = False
    return head + ("+dirty" if dirty else "")


def use_config(config: dict | None) -> str | None:
    """Name the config this process's outputs are made from (``None`` forgets it); return its hash.

    Call it once per Snakemake script with ``snakemake.config``; every later :func:`current` record
    carries that hash.
    """
    _CONTEXT["config_sha256"] = None if config is None else config_hash(config)
    return _CONTEXT["config_sha256"]


def current() -> dict:
    """The provenance record (module docstring) of this process: the config named by :func:`use_config`
    (``config_sha256`` ``None`` if none was), this package's version and git revision."""
    return {"config_sha256": _CONTEXT["config_sha256"], "toposcale_version": package_version(),
            "git_revision": git_revision()}


def short(rec: dict | None) -> str:
    """One line: ``config 1a2b3c4d5e6f, toposcale 0.1.0, git 0123abcd4567`` (12 hex digits of each hash;
    ``+dirty`` kept); ``no provenance recorded`` for ``None``.

    Examples
    --------
    >>> short({"config_sha256": "ab" * 32, "toposcale_version": "0.1.0", "git_revision": "cd" * 20 + "+dirty"})
    'config abababababab, toposcale 0.1.0, git cdcdcdcdcdcd+dirty'
    """
    if not rec:
        return "no provenance recorded"
    cfg = rec.get("config_sha256")
    rev = str(rec.get("git_revision") or "unknown")
    head, _, tail = rev.partition("+")
    rev = (head[:12] if head != "unknown" else head) + (f"+{tail}" if tail else "")
    return (f"config {cfg[:12] if cfg else 'unknown'}, toposcale {rec.get('toposcale_version', 'unknown')}, "
            f"git {rev}")
