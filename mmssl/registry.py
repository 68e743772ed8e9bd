"""Name → constructor tables, so configs can pick components by name.

This is a leaf module (standard library and :mod:`mmssl.errors` only). A registry is filled
at import time by decorating classes or factory functions with :meth:`Registry.register`;
configs then call :meth:`Registry.build` with the registered name and keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mmssl.errors import UserError


class RegistryError(KeyError):
    """Raised for a duplicate registration or an unknown name.

    A ``KeyError`` subclass so callers can catch it as a missing key, but with a readable
    message (``KeyError`` would otherwise print the repr of its argument).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownNameError(RegistryError, UserError):
    """A name no component is registered under (a user error: it comes from a config)."""


class Registry:
    """A named table of constructors of one kind (e.g. ``"video encoder"``).

    Example::

        VIDEO_ENCODERS = Registry("video encoder")

        @VIDEO_ENCODERS.register("tiny3d")
        class Tiny3DEncoder(nn.Module): ...

        model = VIDEO_ENCODERS.build("tiny3d", width=16)
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._table: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator that records ``obj`` under ``name``; raises on a duplicate name."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} registry: name must be a non-empty str, got {name!r}")

        def decorator(obj: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._table:
                raise RegistryError(
                    f"{self.kind} registry: name {name!r} is already registered to "
                    f"{_qualname(self._table[name])}; cannot register {_qualname(obj)}"
                )
            self._table[name] = obj
            return obj

        return decorator

    def build(self, name: str, /, **kwargs: Any) -> Any:
        """Call the constructor registered under ``name`` with ``kwargs``.

        ``name`` is positional-only, so ``kwargs`` may carry a ``name`` of its own.
        """
        return self.get(name)(**kwargs)

    def get(self, name: str) -> Callable[..., Any]:
        """The constructor registered under ``name`` (same error as :meth:`build`)."""
        if name not in self._table:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; known: {', '.join(self.list()) or '(none)'}"
            )
        return self._table[name]

    def list(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._table)

    def __contains__(self, name: object) -> bool:
        return name in self._table

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.list()})"


def _qualname(obj: Any) -> str:
    module = getattr(obj, "__module__", "?")
    return f"{module}.{getattr(obj, '__qualname__', repr(obj))}"
