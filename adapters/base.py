"""The lab protocol: request and result types and the `LabAdapter` seam.

A lab may take minutes or days and answer in parts: `submit` hands over a
batch and returns at once, `poll` says how far the job is, `collect` returns
every result available so far (repeated deliveries are expected; the caller
keys them by experiment id and replicate), and `cancel` withdraws what has not
run yet. Nothing here imports the rest of loopwell.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExperimentRequest(_Frozen):
    """One measurement asked of the lab."""

    experiment_id: str = Field(min_length=1)
    candidate_id: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)


class BatchRequest(_Frozen):
    """A batch of experiments from one round of one campaign."""

    campaign: str = Field(min_length=1)
    round: int = Field(ge=0)
    experiments: list[ExperimentRequest] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_unique_ids(self) -> BatchRequest:
        counts = Counter(e.experiment_id for e in self.experiments)
        repeated = sorted(i for i, n in counts.items() if n > 1)
        if repeated:
            raise ValueError(f"experiment ids repeated within the batch: {repeated}")
        return self


class JobStatus(StrEnum):
    """Where a job is: queued, running, or over (done, failed, cancelled)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Submission(_Frozen):
    """The lab's receipt for a batch."""

    job_id: str = Field(min_length=1)
    n_accepted: int = Field(ge=0)


class JobProgress(_Frozen):
    """How far a job is."""

    job_id: str
    status: JobStatus
    n_total: int = Field(ge=0)
    n_done: int = Field(ge=0)


class ResultStatus(StrEnum):
    """Whether one experiment gave a value (ok) or not (failed, with an error)."""

    OK = "ok"
    FAILED = "failed"


class MeasurementResult(_Frozen):
    """One value the lab sent back (or a failure of one experiment).

    `value` is deliberately loose (NaN and None pass): the loop validates what a
    lab sends and quarantines what it cannot use, with the reason.
    """

    experiment_id: str
    candidate_id: str | None = None
    value: float | None = None
    replicate: int = Field(default=0, ge=0)
    status: ResultStatus = ResultStatus.OK
    error: str | None = None


@runtime_checkable
class LabAdapter(Protocol):
    """What speaks to a real or simulated lab."""

    def submit(self, batch: BatchRequest) -> Submission: ...

    def poll(self, job_id: str) -> JobProgress: ...

    def collect(self, job_id: str) -> list[MeasurementResult]: ...

    def cancel(self, job_id: str) -> None: ...


class LabError(RuntimeError):
    """A lab could not be reached or refused a request; may be transient."""
