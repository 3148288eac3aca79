"""Lab adapters by name: `make_adapter("simulated", lookup=...)`.

Factories are registered with `@register_adapter(kind)`, which refuses a kind
registered twice. Settings are plain keywords (JSON-friendly), so a campaign
spec can name its lab as ``{"kind": "http", "base_url": "..."}``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx

from adapters.base import LabAdapter
from adapters.http_lab import HttpLab
from adapters.simulated import SimulatedLab

_F = TypeVar("_F", bound=Callable[..., LabAdapter])
_FACTORIES: dict[str, Callable[..., LabAdapter]] = {}


def register_adapter(kind: str) -> Callable[[_F], _F]:
    """Register the decorated factory as the maker of adapters of `kind`.

    Raises:
        ValueError: If `kind` is already registered.
    """
    def decorate(factory: _F) -> _F:
        if kind in _FACTORIES:
            raise ValueError(f"lab adapter kind '{kind}' is already registered "
                             f"(by {_FACTORIES[kind].__qualname__})")
        _FACTORIES[kind] = factory
        return factory

    return decorate


def adapter_kinds() -> list[str]:
    """List the registered adapter kinds, sorted."""
    return sorted(_FACTORIES)


def make_adapter(kind: str, **settings: Any) -> LabAdapter:
    """Make a lab adapter of a registered kind from its settings.

    Raises:
        ValueError: If the kind is unknown (the message lists the known ones)
            or the settings do not fit its factory.
    """
    try:
        factory = _FACTORIES[kind]
    except KeyError:
        raise ValueError(f"unknown lab adapter kind '{kind}'; "
                         f"known kinds: {', '.join(adapter_kinds())}") from None
    try:
        inspect.signature(factory).bind(**settings)
    except TypeError as error:
        raise ValueError(f"bad settings for lab adapter '{kind}': {error}") from None
    return factory(**settings)


@register_adapter("simulated")
def _make_simulated(*, lookup: Mapping[str, float], noise_sd: float = 0.0,
                    latency_s: float = 0.0, failure_rate: float = 0.0,
                    partial_fraction: float = 1.0, duplicate_deliveries: bool = False,
                    seed: int = 0, state_path: str | Path | None = None,
                    n_replicates: int = 1) -> SimulatedLab:
    """Make a `SimulatedLab` over `lookup` (wall-clock time)."""
    return SimulatedLab(lookup, noise_sd=noise_sd, latency_s=latency_s,
                        failure_rate=failure_rate, partial_fraction=partial_fraction,
                        duplicate_deliveries=duplicate_deliveries, seed=seed,
                        state_path=state_path, n_replicates=n_replicates)


@register_adapter("http")
def _make_http(*, base_url: str, timeout_s: float = 30.0, base_path: str = "/",
               retries: int = 3, backoff_s: float = 0.5,
               headers: Mapping[str, str] | None = None) -> HttpLab:
    """Make an `HttpLab` with its own `httpx.Client` (closed by `HttpLab.close`)."""
    client = httpx.Client(base_url=base_url, timeout=timeout_s, headers=dict(headers or {}))
    return HttpLab(client, base_path=base_path, retries=retries, backoff_s=backoff_s)
