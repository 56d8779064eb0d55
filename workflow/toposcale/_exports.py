"""Lazy public APIs for the subpackages' ``__init__`` files.

Each subpackage names its public API in its ``__init__`` (``__all__``), but importing the subpackage must
stay cheap: the per-layer persistence jobs import ``toposcale.topology.persist`` (numpy and the compiled
backend only), while ``toposcale.topology`` also offers extraction, which needs torch. So an ``__init__``
maps each public name to its module and imports the module on first use (PEP 562 ``__getattr__``).
"""

from __future__ import annotations

from importlib import import_module


def lazy_exports(package: str, exports: dict[str, list[str]]):
    """Return ``(__all__, __getattr__, __dir__)`` for a package whose public names live in its modules.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict
        Module name (relative to ``package``) -> the public names it defines.

    Examples
    --------
    >>> __all__, __getattr__, __dir__ = lazy_exports("toposcale", {"io": ["atomic_path"]})
    >>> __all__, __getattr__("atomic_path").__module__
    (['atomic_path'], 'toposcale.io')
    """
    home = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name):
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{home[name]}"), name)

    def __dir__():
        return sorted(home)

    return sorted(home), __getattr__, __dir__
