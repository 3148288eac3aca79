"""The strategy registry: names to classes, filled by a decorator.

The same `Registry` and conventions as the instruments' (`instruments.registry`).
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from agents.base import StrategyBase
from instruments.registry import Registry

S = TypeVar("S", bound=type[StrategyBase])

_STRATEGIES: Registry[type[StrategyBase]] = Registry("strategy")


def register_strategy(name: str) -> Callable[[S], S]:
    """Register a strategy class under `name`, e.g. "ucb"; refuse a name already taken."""
    return _STRATEGIES.register(name)


def strategy_names() -> list[str]:
    """Return the registered strategy names, sorted."""
    return _STRATEGIES.names()


def strategy_class(name: str) -> type[StrategyBase]:
    """Return the strategy class registered as `name`."""
    return _STRATEGIES.get(name)


def make_strategy(name: str, **options: Any) -> StrategyBase:
    """Build the strategy registered as `name` with keyword `options`.

    Raises:
        ValueError: for an unknown name or option, or a missing one (see
            `instruments.registry.Registry.make`).
    """
    return _STRATEGIES.make(name, **options)
