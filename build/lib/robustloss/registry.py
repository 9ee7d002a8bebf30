"""Tiny name -> factory registries, so every component is chosen by a string in a config.

An unknown name fails with a message listing the valid names."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


class Registry:
    """Maps names to factories. ``kind`` names what is registered (used in error messages)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._factories: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(factory: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._factories[name] = factory
            return factory

        return decorator

    def get(self, name: str) -> Callable[..., Any]:
        try:
            return self._factories[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.kind} {name!r}; valid choices: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: str) -> bool:
        return name in self._factories

    def create(self, name: str, params: dict[str, Any], **fixed: Any) -> Any:
        """Call factory ``name`` with ``fixed`` arguments plus user ``params``; a parameter the
        factory does not take fails with the list of those it does."""
        factory = self.get(name)
        accepted = [p for p in inspect.signature(factory).parameters if p not in fixed]
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise ValueError(
                f"{self.kind} {name!r} got unknown parameter(s) {unknown}; "
                f"it accepts {accepted or 'none'}"
            )
        return factory(**fixed, **params)
