"""The strategy registry: names to classes, filled by a decorator."""

from __future__ import annotations

from typing import Callable, TypeVar

from agents.base import StrategyBase

S = TypeVar("S", bound=type[StrategyBase])

_STRATEGIES: dict[str, type[StrategyBase]] = {}


def register_strategy(name: str) -> Callable[[S], S]:
    """Register a strategy class under `name` (and set its `name`).

    Raises:
        ValueError: if `name` is already registered.
    """

    def decorator(cls: S) -> S:
        if name in _STRATEGIES:
            raise ValueError(
                f"strategy {name!r} is already registered to "
                f"{_STRATEGIES[name].__qualname__}"
            )
        cls.name = name
        _STRATEGIES[name] = cls
        return cls

    return decorator


def strategy_names() -> list[str]:
    """Return the registered strategy names, sorted."""
    return sorted(_STRATEGIES)


def make_strategy(name: str, **options) -> StrategyBase:
    """Build the strategy registered as `name` with keyword `options`.

    Raises:
        ValueError: for an unknown name (the message lists the known ones) or
            options the strategy does not take.
    """
    try:
        cls = _STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}; known: {', '.join(strategy_names())}"
        ) from None
    try:
        return cls(**options)
    except TypeError as error:
        raise ValueError(f"bad options for strategy {name!r}: {error}") from None
