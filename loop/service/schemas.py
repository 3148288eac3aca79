"""The HTTP bodies: pydantic models of what the service takes and answers.

Every route names its response model, so the OpenAPI schema at
`/openapi.json` is complete (a test fuzzes the service against it).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from datetime import datetime
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model

from loop.campaign.summary import RoundSummary


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorBody(BaseModel):
    """An error: `detail` says what is wrong (a list of problems for a malformed request)."""

    detail: str | list[Any]


def _round_model() -> type[BaseModel]:
    """A pydantic twin of `RoundSummary`: every field of the dataclass, the same types."""
    hints = typing.get_type_hints(RoundSummary)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(RoundSummary):
        kind = hints[f.name]
        if f.name == "pareto":
            kind = Optional[list[dict[str, Any]]]
        if f.name == "round":
            fields[f.name] = (int, ...)
        else:
            default = f.default if f.default is not dataclasses.MISSING else None
            fields[f.name] = (kind, default)
    return create_model("RoundOut", __doc__="One round's summary (fields not known are null).",
                        **fields)


RoundOut = _round_model()


class WhoAmI(_Body):
    name: str
    role: str
    campaigns: list[str] | None = Field(None, description="campaigns a lab token may use "
                                        "(null: all)")


class CampaignBrief(_Body):
    name: str
    status: str
    n_rounds: int
    n_measurements: int
    created_at: datetime
    updated_at: datetime


class Counts(_Body):
    experiments: dict[str, int] = Field(description="experiments by state")
    measurements: int
    rejected: int = Field(description="inputs quarantined with a reason")


class WorkerState(_Body):
    queued: bool
    running: bool
    last_error: str | None = None


class CampaignDetail(_Body):
    name: str
    status: str
    spec: dict[str, Any]
    rounds: list[RoundOut]  # type: ignore[valid-type]
    counts: Counts
    webhook: bool = Field(description="whether a webhook is told when a batch is ready")
    worker: WorkerState
    created_at: datetime
    updated_at: datetime


class Proposal(_Body):
    experiment_id: str
    round: int
    candidate_id: str
    state: str
    job_id: str | None = None
    predicted_mean: float | None = Field(None, description="in the instrument's target units")
    predicted_sd: float | None = None
    acquisition: float | None = None
    note: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)


class ApproveIn(_Body):
    experiment_ids: list[str] | None = Field(
        None, description="experiments to approve (default: every proposed one)")


class ApproveOut(_Body):
    approved: list[str]


class RejectIn(_Body):
    reason: str = Field(min_length=1, max_length=2000)


class EditIn(_Body):
    candidate_id: str = Field(min_length=1, max_length=200,
                              description="a candidate of the design space not yet asked for")
    reason: str | None = Field(None, max_length=2000)


class EditOut(_Body):
    old: Proposal
    new: Proposal


#: replicates are numbered below this (a database integer holds them)
MAX_REPLICATE = 2**31 - 1


class ResultIn(BaseModel):
    """One result, as `adapters.MeasurementResult` (documentation of the results body)."""

    experiment_id: str
    candidate_id: str | None = None
    value: float | None = None
    replicate: int = Field(0, ge=0, le=MAX_REPLICATE)
    status: Literal["ok", "failed"] = "ok"
    error: str | None = None


class ItemOutcome(_Body):
    index: int
    experiment_id: str | None
    outcome: Literal["stored", "duplicate", "failed", "rejected"]
    reason: str | None = None


class IngestReport(_Body):
    detail: str
    n_stored: int
    n_duplicate: int
    n_failed: int
    n_rejected: int
    items: list[ItemOutcome]


class AuditOut(_Body):
    id: int
    campaign: str
    who: str
    action: str
    details: dict[str, Any]
    at: datetime


def finite(value: Any) -> Any:
    """Return JSON-safe data: NaN and infinities become None, numpy scalars Python ones."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value
