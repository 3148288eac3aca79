"""Lab adapters by name: `make_adapter("http", base_url=...)`.

Each kind is registered with its factory and its settings model (pydantic,
frozen, ``extra="forbid"``)::

    @register_adapter("sila", settings=SilaSettings)
    def make_sila(settings: SilaSettings) -> SilaLab: ...

`make_adapter(kind, **settings)` validates the settings by the model (a bad
one is a `ValueError` with one line per bad field) and calls the factory with
the validated model. Keyword parameters of the factory after the settings
(the simulated lab's `lookup` and `state_path`) are given by the caller, not
the user, and pass to the factory as they are. `adapter_settings_model(kind)`
lets a campaign spec validate its lab's settings before anything runs.

Other packages add kinds through the entry-point group ``loopwell.adapters``:
each entry point (named by its kind) is a module that registers its kinds on
import, or a callable that does when called. They are loaded on the first
request for a kind not registered yet.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from adapters._text import clip, field_errors
from adapters.base import LabAdapter
from adapters.http_lab import HttpLab
from adapters.http_settings import HttpLabSettings
from adapters.manual import ManualLab, ManualLabSettings
from adapters.simulated import SimulatedLab, SimulatedLabSettings

ENTRY_POINT_GROUP = "loopwell.adapters"

_F = TypeVar("_F", bound=Callable[..., LabAdapter])


@dataclass(frozen=True)
class _Kind:
    factory: Callable[..., LabAdapter]
    settings: type[BaseModel]
    given: frozenset[str]  # keyword parameters the caller gives, not the user


_KINDS: dict[str, _Kind] = {}
_BROKEN_PLUGINS: dict[str, str] | None = None  # None: plug-ins not loaded yet


def register_adapter(kind: str, *, settings: type[BaseModel]) -> Callable[[_F], _F]:
    """Register the decorated factory as the maker of adapters of `kind`.

    The factory takes the validated settings model first; its other keyword
    parameters are given by the caller of `make_adapter` (not user settings).

    Raises:
        ValueError: If `kind` is already registered, or a keyword parameter of
            the factory has the name of a setting.
    """
    def decorate(factory: _F) -> _F:
        if kind in _KINDS:
            raise ValueError(f"lab adapter kind '{kind}' is already registered "
                             f"(by {_KINDS[kind].factory.__qualname__})")
        given = frozenset(list(inspect.signature(factory).parameters)[1:])
        clash = sorted(given & set(settings.model_fields))
        if clash:
            raise ValueError(f"lab adapter kind '{kind}': factory parameters {clash} "
                             f"are also settings of {settings.__name__}")
        _KINDS[kind] = _Kind(factory, settings, given)
        return factory

    return decorate


def adapter_is_registered(kind: str) -> bool:
    """Return whether a kind is registered now (plug-ins are not loaded to find out).

    A plug-in's ``register`` callable uses it to register its kinds once.
    """
    return kind in _KINDS


def adapter_kinds() -> list[str]:
    """List the adapter kinds, plug-ins included, sorted."""
    _load_plugins()
    return sorted(_KINDS)


def adapter_settings_model(kind: str) -> type[BaseModel]:
    """Return the settings model of an adapter kind.

    Raises:
        ValueError: If the kind is unknown (the message lists the known ones)
            or the plug-in meant to provide it fails to load.
    """
    return _kind(kind).settings


def validate_settings(kind: str, settings: Mapping[str, Any]) -> BaseModel:
    """Return the settings validated by the kind's model.

    Raises:
        ValueError: If the kind is unknown, or with one line per bad setting
            (``bad setting for lab adapter 'http': timeout_s: ...``).
    """
    model = _kind(kind).settings
    try:
        return model.model_validate(dict(settings))
    except ValidationError as error:
        raise ValueError("\n".join(f"bad setting for lab adapter '{kind}': {line}"
                                   for line in field_errors(error, root="settings"))) from None


def make_adapter(kind: str, **settings: Any) -> LabAdapter:
    """Make a lab adapter of a kind from its settings (and what the caller gives).

    Raises:
        ValueError: If the kind is unknown, a setting is bad (one line per
            setting), or a parameter the caller must give is missing; also
            what the factory raises for settings it cannot use (e.g. a token
            variable that is not set).
    """
    entry = _kind(kind)
    given = {name: settings.pop(name) for name in list(settings) if name in entry.given}
    validated = validate_settings(kind, settings)
    try:
        inspect.signature(entry.factory).bind(validated, **given)
    except TypeError as error:
        raise ValueError(f"lab adapter '{kind}' cannot be made: {error}") from None
    return entry.factory(validated, **given)


def _kind(kind: str) -> _Kind:
    if kind not in _KINDS:
        broken = _load_plugins()
        if kind not in _KINDS:
            if kind in broken:
                raise ValueError(broken[kind])
            others = "".join(f"; {message}" for message in broken.values())
            raise ValueError(f"unknown lab adapter kind '{kind}'; known kinds: "
                             f"{', '.join(sorted(_KINDS))}{others}")
    return _KINDS[kind]


def _load_plugins() -> dict[str, str]:
    """Load the ``loopwell.adapters`` entry points once; return the broken ones' errors."""
    global _BROKEN_PLUGINS
    if _BROKEN_PLUGINS is None:
        _BROKEN_PLUGINS = {}
        for point in _entry_points():
            try:
                loaded = point.load()
                if callable(loaded) and not isinstance(loaded, types.ModuleType):
                    loaded()
            except Exception as error:  # a plug-in may fail any way; name it, go on
                _BROKEN_PLUGINS[point.name] = (
                    f"lab adapter plug-in '{point.name}' ({point.value}) failed to load: "
                    f"{type(error).__name__}: {clip(str(error), 200)}; fix or uninstall "
                    "the package that provides it")
    return _BROKEN_PLUGINS


def _entry_points() -> Sequence[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


# -- the kinds loopwell ships ---------------------------------------------------

@register_adapter("simulated", settings=SimulatedLabSettings)
def _make_simulated(settings: SimulatedLabSettings, *, lookup: Mapping[str, float],
                    state_path: str | Path | None = None) -> SimulatedLab:
    """Make a `SimulatedLab` over `lookup`, persisting its jobs at `state_path`."""
    return SimulatedLab.from_settings(settings, lookup=lookup, state_path=state_path)


@register_adapter("http", settings=HttpLabSettings)
def _make_http(settings: HttpLabSettings) -> HttpLab:
    """Make an `HttpLab` with its own `httpx.Client` (closed by `HttpLab.close`)."""
    return HttpLab.from_settings(settings)


@register_adapter("manual", settings=ManualLabSettings)
def _make_manual(settings: ManualLabSettings) -> ManualLab:
    """Make a `ManualLab`: results come through `tell` or the service."""
    return ManualLab()
