"""The store seam and the life of an experiment."""

from __future__ import annotations

from typing import Any, Iterable, Protocol, runtime_checkable

#: proposed -> approved -> dispatched -> running -> done | failed | cancelled
TRANSITIONS: dict[str, set[str]] = {
    "proposed": {"approved", "cancelled"},
    "approved": {"dispatched", "cancelled"},
    "dispatched": {"running", "done", "failed", "cancelled"},
    "running": {"done", "failed", "cancelled"},
    "done": set(),
    "failed": set(),
    "cancelled": set(),
}
EXPERIMENT_STATES = frozenset(TRANSITIONS)
#: experiments the lab owes us an answer for
PENDING_STATES = ("dispatched", "running")


class StoreError(RuntimeError):
    """An operation the store refuses (unknown ids, illegal transitions, name clashes)."""


@runtime_checkable
class Store(Protocol):
    """Persistence of everything a campaign knows."""

    def create_campaign(self, name: str, spec: dict[str, Any]) -> bool: ...

    def add_experiments(self, items: Iterable[Any]) -> int: ...

    def set_state(self, experiment_ids: Iterable[str], state: str,
                  job_id: str | None = None, note: str | None = None) -> None: ...

    def record_measurement(self, experiment_id: str, replicate: int, value: float) -> bool: ...
