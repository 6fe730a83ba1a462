"""Lazy re-exports (PEP 562), so that importing a package loads no heavy dependency."""

from __future__ import annotations

import importlib
from typing import Callable


def attach(package: str, namespace: dict, names: dict[str, str],
           modules: dict[str, str] | None = None) -> tuple[Callable, Callable]:
    """Module ``__getattr__`` and ``__dir__`` for ``package``.

    ``names`` maps a public name to the module (absolute, or relative to ``package``) that
    defines it; ``modules`` maps an attribute to a module to return.  A name is imported on
    first access and then kept in ``namespace`` (the package's globals).
    """
    modules = modules or {}

    def __getattr__(name: str):
        if name in names:
            value = getattr(importlib.import_module(names[name], package), name)
            namespace[name] = value
            return value
        if name in modules:
            return importlib.import_module(modules[name], package)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names) | set(modules))

    return __getattr__, __dir__
