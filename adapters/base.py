"""The lab protocol: request and result types and the `LabAdapter` seam.

A lab may take minutes or days and answer in parts: `submit` hands over a
batch and returns at once, `poll` says how far the job is, `collect` returns
every result available so far (repeated deliveries are expected; the caller
keys them by experiment id and replicate), and `cancel` withdraws what has not
run yet. What a lab sends that is not a valid result comes back from `collect`
as a `RejectedResult` beside the good ones, so one bad item never costs the
others. Nothing here imports the rest of loopwell.

Errors: every adapter raises `LabError` or one of its two kinds,
`LabUnavailable` (transient trouble outlasted the retries: try later) and
`LabRejected` (the lab refuses this request: sending it again will not help).
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
    """How far a job is.

    `detail` is for people: what the lab can say beyond the counts (e.g. a
    plate lab's "1 of 2 plates read, 96 of 192 wells").
    """

    job_id: str
    status: JobStatus
    n_total: int = Field(ge=0)
    n_done: int = Field(ge=0)
    detail: str | None = None


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


class RejectedResult(_Frozen):
    """Something a lab delivered as a result that is not one, kept with the reason.

    One item of a delivery that does not validate gives one `RejectedResult`;
    a delivery that cannot be read at all (not JSON, not a list, too large)
    gives one for the whole of it.

    Attributes:
        payload: What the lab sent: the item itself (JSON-able), or, for an
            item or body too large or not JSON, its text cut to
            `PAYLOAD_CHARS` characters.
        reason: One line saying what is wrong, naming the field
            (``value: Input should be a valid number``).
    """

    payload: Any
    reason: str = Field(min_length=1)


#: How many characters of an unreadable body (or of a huge item) a `RejectedResult` keeps.
PAYLOAD_CHARS = 2000


@runtime_checkable
class LabAdapter(Protocol):
    """What speaks to a real or simulated lab."""

    def submit(self, batch: BatchRequest) -> Submission:
        """Hand a batch to the lab; return its receipt (idempotent by experiment id)."""
        ...

    def poll(self, job_id: str) -> JobProgress:
        """Return how far a job is."""
        ...

    def collect(self, job_id: str) -> list[MeasurementResult | RejectedResult]:
        """Return the job's results available so far, repeats possible.

        Each item the lab delivered comes back as exactly one
        `MeasurementResult` (valid) or `RejectedResult` (with the reason); a
        delivery that cannot be read at all comes back as one `RejectedResult`.
        Bad data never raises: only a lab that cannot be reached or refuses
        the request does.
        """
        ...

    def cancel(self, job_id: str) -> None:
        """Withdraw what has not run yet of a job."""
        ...


class LabError(RuntimeError):
    """A lab could not be reached, refused a request, or broke the protocol.

    Messages are one line, say what to do, and never carry secrets.
    """


class LabUnavailable(LabError):
    """The lab could not be reached or stayed busy through every retry: try later.

    Attributes:
        n_attempts: How many times the request was sent.
        retry_after_s: How long the lab asked to wait, if it said so.
    """

    def __init__(self, message: str, *, n_attempts: int = 1,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.n_attempts = n_attempts
        self.retry_after_s = retry_after_s


class LabRejected(LabError):
    """The lab refused the request (an HTTP 4xx): sending it again will not help.

    Every adapter uses the HTTP statuses, so a caller handles them alike:
    404 an unknown job, 409 a batch reusing experiment ids, 422 an invalid request.

    Attributes:
        status: The HTTP status (e.g. 404 unknown job, 409 conflict, 422 invalid).
        detail: The lab's one-line reason.
    """

    def __init__(self, message: str, *, status: int, detail: str) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
