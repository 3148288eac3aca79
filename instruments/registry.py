"""Registries of classes by name, filled by a decorator; the instruments' registry.

One convention for instruments and strategies (`agents.registry` uses the same
`Registry`): `register_X(name)` refuses a name already taken, `X_names()`
lists the names, `make_X(name, **options)` checks the options against the
constructor's signature before constructing, and raises `ValueError` naming
an unknown or missing option and listing the accepted ones.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Generic, TypeVar

from instruments.base import InstrumentBase

C = TypeVar("C", bound=type)


def accepted_options(cls: type) -> tuple[list[str], list[str]]:
    """Return the keyword options `cls(...)` accepts and those it requires.

    A constructor with `**options` that forwards them up the class hierarchy
    also accepts its parents' options, down to the first without `**`.
    """
    accepted, required = [], []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or klass is object:
            continue
        forwards = False
        for parameter in list(inspect.signature(klass.__init__).parameters.values())[1:]:
            if parameter.kind is parameter.VAR_KEYWORD:
                forwards = True
            elif parameter.kind is not parameter.VAR_POSITIONAL and parameter.name not in accepted:
                accepted.append(parameter.name)
                if parameter.default is parameter.empty:
                    required.append(parameter.name)
        if not forwards:
            break
    return accepted, required


class Registry(Generic[C]):
    """Classes of one kind (e.g. "instrument") by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, C] = {}

    def register(self, name: str) -> Callable[[C], C]:
        """Return a class decorator that registers under `name` and sets the class's `name`.

        Raises:
            ValueError: if `name` is already registered.
        """

        def decorator(cls: C) -> C:
            if name in self._classes:
                raise ValueError(f"{self.kind} {name!r} is already registered "
                                 f"({self._classes[name].__qualname__})")
            cls.name = name
            self._classes[name] = cls
            return cls

        return decorator

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._classes)

    def get(self, name: str) -> C:
        """Return the class registered as `name`; `ValueError` lists the known names."""
        try:
            return self._classes[name]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; known: "
                             f"{', '.join(self.names())}") from None

    def make(self, name: str, **options: Any) -> Any:
        """Build the class registered as `name` from keyword `options`, checked first.

        Raises:
            ValueError: for an unknown name, an option the class does not take,
                or a required option missing; the message names it and lists
                the accepted options.
        """
        cls = self.get(name)
        accepted, required = accepted_options(cls)
        listed = ", ".join(accepted) or "no options"
        unknown = [key for key in options if key not in accepted]
        if unknown:
            raise ValueError(f"{self.kind} {name!r} takes no option {unknown[0]!r}; "
                             f"it accepts: {listed}")
        missing = [key for key in required if key not in options]
        if missing:
            raise ValueError(f"{self.kind} {name!r} needs option {missing[0]!r}; "
                             f"it accepts: {listed}")
        return cls(**options)


_INSTRUMENTS: Registry[type[InstrumentBase]] = Registry("instrument")


def register_instrument(name: str) -> Callable[[C], C]:
    """Register an instrument class under `name`, e.g. "gp"; refuse a name already taken."""
    return _INSTRUMENTS.register(name)


def instrument_names() -> list[str]:
    """Return the registered instrument names, sorted."""
    return _INSTRUMENTS.names()


def instrument_class(name: str) -> type[InstrumentBase]:
    """Return the instrument class registered as `name`."""
    return _INSTRUMENTS.get(name)


def make_instrument(name: str, **options: Any) -> InstrumentBase:
    """Build the instrument registered as `name` from JSON-able constructor options.

    Raises:
        ValueError: for an unknown name or option, or a missing one (see `Registry.make`).
    """
    return _INSTRUMENTS.make(name, **options)
