"""Fixtures for the adapters tests: a lookup table, a fake clock, batches, a scratch registry."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters import BatchRequest, ExperimentRequest, registry

# A handful of real screen-style readouts (candidate id -> value measured).
LOOKUP = {
    "KO:ZAP70": -2.31,
    "KO:LCP2": -1.87,
    "KO:CD247": -1.52,
    "KO:CBLB": 1.94,
    "KO:CD5": 0.88,
    "KO:AAVS1": 0.02,
}


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def lookup() -> dict[str, float]:
    return dict(LOOKUP)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_batch() -> Callable[..., BatchRequest]:
    """Return a maker of batches: `make_batch(["KO:ZAP70", ...], round=0)`."""

    def make(candidates: list[str], *, round: int = 0, campaign: str = "ifng",
             prefix: str | None = None) -> BatchRequest:
        prefix = prefix if prefix is not None else f"{campaign}-r{round}"
        return BatchRequest(campaign=campaign, round=round, experiments=[
            ExperimentRequest(experiment_id=f"{prefix}-{i:03d}", candidate_id=c)
            for i, c in enumerate(candidates)
        ])

    return make


@pytest.fixture
def scratch_registry(monkeypatch):
    """Let a test register kinds and plug-ins without leaving them behind.

    It starts from the kinds the registry itself registers: plug-ins another
    test loaded already (loopwell's own plate_folder and opentrons are
    entry points too) are not there.
    """
    built_in = {kind: entry for kind, entry in registry._KINDS.items()
                if entry.factory.__module__ == registry.__name__}
    monkeypatch.setattr(registry, "_KINDS", built_in)
    monkeypatch.setattr(registry, "_BROKEN_PLUGINS", None)
