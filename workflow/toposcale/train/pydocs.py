"""The ``builtin:pydocs`` corpus: docstrings of the installed Python standard library.

A corpus source of :mod:`toposcale.train.corpus` (``corpus.source: builtin:pydocs``) and of the pretrained
models' probe texts (:mod:`toposcale.experiments.pretrained.probes`). Standard library only.
"""

from __future__ import annotations

import ast
import functools
import sys
import sysconfig
from pathlib import Path


_SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}


@functools.lru_cache(maxsize=1)
def stdlib_docstrings() -> str:
    """Docstrings of the installed Python standard library, as one text.

    Deterministic for a given Python version and reads source files only (``ast``), so no module is
    imported and nothing is executed. Modules: the public top-level names of
    ``sys.stdlib_module_names`` (no leading underscore) found as ``NAME.py`` or as a package folder
    under ``sysconfig.get_paths()['stdlib']``, packages walked in sorted path order, skipping test
    folders. Within a file, the module, class and function docstrings are taken in source order,
    cleaned with :func:`inspect.cleandoc` (via ``ast.get_docstring``), and separated by blank lines.
    Python 3.11 gives about 1.7 M characters in about 8000 docstrings.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for name in sorted(n for n in sys.stdlib_module_names if not n.startswith("_")):
        single, package = root / f"{name}.py", root / name
        if single.is_file():
            files.append(single)
        elif package.is_dir():
            files += sorted(f for f in package.rglob("*.py")
                            if not _SKIP_DIRS.intersection(f.relative_to(root).parts))
    docs = []
    for f in files:
        try:
            tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue  # a few stdlib files are templates or use another encoding; skip them
        docs.extend(docstrings_in_order(tree))
    if not docs:
        raise FileNotFoundError(f"no docstrings found under the standard library at {root}; is the Python "
                              f"installation stripped of its .py sources?")
    return "\n\n".join(docs) + "\n"


def docstrings_in_order(node) -> list[str]:
    """Docstrings of ``node`` and of every node below it, in source order.

    The tree is walked depth first, a node before its children and children in source order; module,
    class and function docstrings are taken, cleaned by ``ast.get_docstring(clean=True)`` and stripped;
    empty ones are skipped.
    """
    out = []
    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        doc = ast.get_docstring(node, clean=True)
        if doc and doc.strip():
            out.append(doc.strip())
    for child in ast.iter_child_nodes(node):
        out.extend(docstrings_in_order(child))
    return out
