"""Lazy package attributes (PEP 562): a package's public names, imported on first access.

Used by the package ``__init__`` files only (``sciconv``, ``solvers``); every other module
imports what it needs at its top, where a reader sees it. Standard library only, so importing
it costs nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["attach", "is_submodule"]


def is_submodule(package: str, name: str) -> bool:
    """Whether ``package.name`` is a module or a regular package on disk (found, not imported).

    A dunder or dotted name is never one (an attribute read must not run ``__main__``), nor is
    a folder without ``__init__.py``.

    Examples
    --------
    >>> is_submodule("sciconv", "operator"), is_submodule("sciconv", "no_such_module")
    (True, False)
    >>> is_submodule("sciconv", "__main__")
    False
    """
    if name.startswith("__") or "." in name:
        return False
    spec = importlib.util.find_spec(f"{package}.{name}")
    return spec is not None and spec.origin is not None


def attach(
    package: str, origin: Mapping[str, str], submodules: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a lazy package.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    origin : mapping of str to str
        Public name -> the submodule defining it, relative (``{"ConvOperator": ".operator"}``).
    submodules : iterable of str
        Subpackages that are public names themselves (``"ssm"``); any other submodule is also
        imported when first read as an attribute.

    Returns
    -------
    (callable, callable)
        ``__getattr__(name)``, which imports, keeps (in the package's namespace) and returns
        the value, or raises ``AttributeError``; and ``__dir__()``, the namespace with the
        package's ``__all__``.

    Notes
    -----
    The package's module type is replaced by a subclass whose ``__setattr__`` keeps a function
    named like the submodule that defines it (``solvers.dcdm`` in ``solvers/dcdm.py``): the
    import system binds every newly imported submodule on its package, and an eager
    ``from .dcdm import dcdm`` used to overwrite that binding; lazily, the function would
    otherwise be replaced by the module as soon as any module imported it.

    References
    ----------
    .. [1] I. Levkivskyi, "PEP 562 -- Module __getattr__ and __dir__", 2017.

    Examples
    --------
    >>> import sciconv
    >>> sciconv.__getattr__("PADDING_MODES")
    ('circular', 'zeros', 'same', 'valid', 'reflect')
    """
    origin = dict(origin)
    submodules = tuple(submodules)
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        if name in origin:
            value = getattr(importlib.import_module(origin[name], package), name)
        elif name in submodules or is_submodule(package, name):
            value = importlib.import_module(f".{name}", package)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    class _Package(types.ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            if (
                isinstance(value, types.ModuleType)
                and origin.get(name) == f".{name}"
                and value.__name__ == f"{package}.{name}"
            ):
                value = getattr(value, name)
            super().__setattr__(name, value)

    sys.modules[package].__class__ = _Package
    return __getattr__, __dir__
