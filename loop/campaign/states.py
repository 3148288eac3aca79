"""The life of an experiment: its states and the moves between them."""

from __future__ import annotations

from enum import StrEnum


class ExperimentState(StrEnum):
    """proposed -> approved -> dispatched -> running -> done | failed | cancelled."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    DISPATCHED = "dispatched"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


S = ExperimentState

#: the moves an experiment may make; a state not listed as a key's value is refused
TRANSITIONS: dict[ExperimentState, frozenset[ExperimentState]] = {
    S.PROPOSED: frozenset({S.APPROVED, S.CANCELLED}),
    S.APPROVED: frozenset({S.DISPATCHED, S.CANCELLED}),
    S.DISPATCHED: frozenset({S.RUNNING, S.DONE, S.FAILED, S.CANCELLED}),
    S.RUNNING: frozenset({S.DONE, S.FAILED, S.CANCELLED}),
    S.DONE: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}
#: experiments the lab owes us an answer for
PENDING_STATES: tuple[ExperimentState, ...] = (S.DISPATCHED, S.RUNNING)
#: experiments whose life is over
CLOSED_STATES: tuple[ExperimentState, ...] = (S.DONE, S.FAILED, S.CANCELLED)


class CampaignStatus(StrEnum):
    """Where a campaign is, as `loopwell status` shows it."""

    CREATED = "created"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting-approval"
    WAITING_FOR_LAB = "waiting-for-lab"
    PAUSED = "paused"          # set by a person: nothing is proposed or dispatched
    CANCELLED = "cancelled"    # set by a person: over, results still accepted
    DONE = "done"


class RoundStatus(StrEnum):
    """A round is open until each of its experiments is done, failed or cancelled."""

    OPEN = "open"
    DONE = "done"
