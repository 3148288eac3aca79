"""A registry of instrument classes by name, filled by a decorator."""

from __future__ import annotations

import inspect
from typing import Any, Callable, TypeVar

from instruments.base import InstrumentBase

T = TypeVar("T", bound=type[InstrumentBase])

_REGISTRY: dict[str, type[InstrumentBase]] = {}


def register_instrument(name: str) -> Callable[[T], T]:
    """Register an instrument class under `name`; refuse a name already taken.

    Args:
        name: The name campaigns use for the instrument, e.g. "gp".
    """

    def decorator(cls: T) -> T:
        if name in _REGISTRY:
            raise ValueError(
                f"an instrument named {name!r} is already registered "
                f"({_REGISTRY[name].__qualname__})"
            )
        _REGISTRY[name] = cls
        return cls

    return decorator


def known_instruments() -> list[str]:
    """Return the registered instrument names, sorted."""
    return sorted(_REGISTRY)


def instrument_class(name: str) -> type[InstrumentBase]:
    """Return the class registered under `name`.

    Raises:
        ValueError: If no instrument has that name; the message lists the known ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown instrument {name!r}; known instruments: {', '.join(known_instruments())}"
        ) from None


def make_instrument(name: str, **options: Any) -> InstrumentBase:
    """Build the instrument registered under `name` from JSON-able options.

    Args:
        name: A registered name, e.g. "ensemble" or "gp".
        **options: Constructor keyword arguments (seed, n_members, epochs, ...).

    Raises:
        ValueError: For an unknown name or an option the instrument does not take.
    """
    cls = instrument_class(name)
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as error:
        accepted = [p for p in inspect.signature(cls).parameters if p != "self"]
        raise ValueError(
            f"bad options for instrument {name!r}: {error}; it accepts: {', '.join(accepted)}"
        ) from None
    return cls(**options)
