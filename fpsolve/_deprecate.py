"""Old spellings of renamed public names: they keep working, with a DeprecationWarning."""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, TypeVar

from .errors import InputError

F = TypeVar("F", bound=Callable[..., Any])


def renamed_keyword(old: str, new: str, since: str = "0.2") -> Callable[[F], F]:
    """Accept keyword ``old`` for the argument now called ``new``, with a DeprecationWarning."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                if new in kwargs:
                    raise InputError(f"{func.__name__}() got both {new}= and its old name {old}=; give {new}= only")
                warnings.warn(f"{func.__name__}({old}=...) is deprecated since {since}: use {new}=...",
                              DeprecationWarning, stacklevel=2)
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def deprecated_alias(module_name: str, aliases: dict[str, tuple[str, Callable[[], Any]]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving ``aliases[name] = (new name, getter)`` with a warning."""

    def __getattr__(name: str) -> Any:
        if name in aliases:
            new, get = aliases[name]
            warnings.warn(f"{module_name}.{name} is deprecated: use {module_name}.{new}",
                          DeprecationWarning, stacklevel=2)
            return get()
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return __getattr__
