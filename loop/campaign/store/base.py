"""The store seam: everything a campaign knows, queried by round and by state."""

from __future__ import annotations

from typing import Any, Iterable, Protocol, runtime_checkable

from loop.campaign.records import CampaignRecord, Experiment, Measurement, Rejected
from loop.campaign.states import ExperimentState
from loop.campaign.summary import RoundSummary


class StoreError(RuntimeError):
    """An operation the store refuses (unknown ids, illegal transitions, name clashes)."""


@runtime_checkable
class Store(Protocol):
    """Persistence of campaigns, rounds, experiments, measurements and rejected inputs.

    Every write is its own transaction: a crash between two calls leaves the
    store consistent, and the campaign resumes from what it holds.
    """

    #: the store's address with any password masked, safe to print
    display_url: str

    # -- campaigns
    def create_campaign(self, name: str, spec: dict[str, Any]) -> bool: ...
    def campaign(self, name: str) -> CampaignRecord | None: ...
    def campaign_names(self) -> list[str]: ...
    def set_campaign_status(self, name: str, status: str) -> None: ...

    # -- rounds
    def start_round(self, campaign: str, idx: int) -> None: ...
    def update_round(self, campaign: str, idx: int, **fields: Any) -> RoundSummary: ...
    def rounds(self, campaign: str) -> list[RoundSummary]: ...

    # -- experiments
    def add_experiments(self, items: Iterable[Experiment]) -> int: ...
    def experiments(self, campaign: str, *, round: int | None = None,
                    states: Iterable[ExperimentState] | None = None) -> list[Experiment]: ...
    def experiment(self, experiment_id: str) -> Experiment | None: ...
    def set_state(self, experiment_ids: Iterable[str], state: ExperimentState,
                  job_id: str | None = None, note: str | None = None) -> None: ...

    # -- measurements
    def record_measurement(self, experiment_id: str, replicate: int, value: float) -> bool: ...
    def measurement_value(self, experiment_id: str, replicate: int) -> float | None: ...
    def measurements(self, campaign: str, *, round: int | None = None) -> list[Measurement]: ...
    def count_measurements(self, campaign: str) -> int: ...

    # -- rejected inputs
    def quarantine(self, campaign: str, payload: Any, reason: str) -> bool: ...
    def rejected(self, campaign: str) -> list[Rejected]: ...


class CampaignBusy(RuntimeError):
    """Another run holds the campaign's writer lock."""
