"""Built campaigns, kept per name: building one loads its design space (seconds)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from loop.campaign.store import SqlStore


class CampaignCache:
    """`Campaign` objects of one store, built on first use and then kept.

    Built with `compute="local"`: the service's worker fits instruments in
    its own process. A run in the service never waits for a lab (its
    `lab.timeout_s` is taken as 0 here, the stored spec unchanged): it collects
    what has arrived and returns, and the worker polls again later. Two
    threads asking for the same campaign build it once.
    """

    def __init__(self, store: SqlStore, state_dir: Path, base_dir: Path | None = None) -> None:
        self.store = store
        self.state_dir = state_dir
        self.base_dir = base_dir
        self._built: dict[str, Any] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, name: str, spec: Any = None):
        """Return the campaign `name` (from its stored spec, or `spec` when given)."""
        from loop.campaign import Campaign
        from loop.campaign.spec import parse_spec

        if name in self._built:
            return self._built[name]
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if name not in self._built:
                if spec is None:
                    record = self.store.campaign(name)
                    if record is None:
                        raise KeyError(name)
                    spec = parse_spec(record.spec, source=f"campaign '{name}' in the store")
                campaign = Campaign(spec, self.store, state_dir=self.state_dir,
                                    base_dir=self.base_dir, compute="local")
                campaign.spec = spec.model_copy(update={
                    "lab": spec.lab.model_copy(update={"timeout_s": 0.0})})
                self._built[name] = campaign
            return self._built[name]

    def cached(self, name: str):
        """Return the campaign if it is built already, else None (never builds)."""
        return self._built.get(name)

    def close(self) -> None:
        for campaign in list(self._built.values()):
            campaign.close()
        self._built.clear()
