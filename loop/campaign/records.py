"""What the store hands back: frozen records of experiments and measurements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loop.campaign.states import ExperimentState


@dataclass(frozen=True)
class Experiment:
    """One requested measurement of one candidate, in one round."""

    id: str
    campaign: str
    round: int
    candidate_id: str
    state: ExperimentState
    job_id: str | None = None
    predicted_mean: float | None = None
    predicted_sd: float | None = None
    acquisition: float | None = None
    note: str | None = None
    #: when its state last changed (for a pending experiment: when it was dispatched)
    updated_at: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", ExperimentState(self.state))


@dataclass(frozen=True)
class Measurement:
    """One value the lab sent back for an experiment (replicates allowed)."""

    experiment_id: str
    candidate_id: str
    round: int
    replicate: int
    value: float


@dataclass(frozen=True)
class CampaignRecord:
    """A campaign as the store knows it."""

    name: str
    spec: dict[str, Any]
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Rejected:
    """An input that could not be used, kept with the reason."""

    payload: Any
    reason: str
    received_at: datetime
