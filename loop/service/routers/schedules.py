"""Schedules: the same operations as `loopwell schedule`, over HTTP.

They talk to the Prefect server that `loopwell serve --schedules` (or
`loopwell schedule serve`) runs for this state folder, or to `PREFECT_API_URL`;
without either, they answer 409 and say how to start one.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Callable

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from loop.service import tables
from loop.service.dependencies import Operator, Reader, ServiceDep
from loop.service.schemas import ErrorBody

router = APIRouter(prefix="/schedules", tags=["schedules"], responses={
    409: {"model": ErrorBody, "description": "no Prefect server runs the schedules here"}})


class ScheduleOut(BaseModel):
    """A scheduled campaign as the Prefect server knows it."""

    campaign: str
    schedule: str
    paused: bool
    next_run: datetime | None = None
    last_run: datetime | None = None
    last_state: str | None = None
    last_message: str | None = None


class ScheduleAction(BaseModel):
    """What an action on a schedule did."""

    campaign: str
    action: str
    flow_run_id: str | None = None


def _on_prefect(fn: Callable[[], Any]) -> Any:
    """Call `fn` with the Prefect API of the running schedules, or answer 409/404."""
    from loop.run.prefect_server import prefect_api, running_server
    from loop.run.schedules import ScheduleError

    if not os.environ.get("PREFECT_API_URL") and running_server() is None:
        raise HTTPException(409, "schedules are not served here: start `loopwell serve "
                                 "--schedules` (or `loopwell schedule serve`)")
    with prefect_api():
        try:
            return fn()
        except ScheduleError as exc:
            raise HTTPException(404, str(exc)) from None


@router.get("", response_model=list[ScheduleOut])
def list_all(token: Reader) -> list[ScheduleOut]:
    """Every scheduled campaign: its schedule, paused or not, the next and the last run."""
    from loop.run.schedules import list_schedules

    return [ScheduleOut(**{k: v for k, v in row.items() if k in ScheduleOut.model_fields})
            for row in _on_prefect(list_schedules)]


def _act(service, token, campaign: str, action: str, fn: Callable[[str], Any]) -> ScheduleAction:
    result = _on_prefect(lambda: fn(campaign))
    tables.record(service.store.engine, campaign, token.name, f"schedule-{action}")
    return ScheduleAction(campaign=campaign, action=action,
                          flow_run_id=result if isinstance(result, str) else None)


@router.post("/{campaign}/pause", response_model=ScheduleAction)
def pause(campaign: str, service: ServiceDep, token: Operator) -> ScheduleAction:
    """Pause a campaign's schedule (no runs until resumed)."""
    from loop.run.schedules import pause_schedule

    return _act(service, token, campaign, "pause", pause_schedule)


@router.post("/{campaign}/resume", response_model=ScheduleAction)
def resume(campaign: str, service: ServiceDep, token: Operator) -> ScheduleAction:
    """Resume a paused schedule."""
    from loop.run.schedules import resume_schedule

    return _act(service, token, campaign, "resume", resume_schedule)


@router.post("/{campaign}/run-now", response_model=ScheduleAction)
def run_now(campaign: str, service: ServiceDep, token: Operator) -> ScheduleAction:
    """Run a scheduled campaign now (a run already under way wins: this one is cancelled)."""
    from loop.run.schedules import run_now as start

    return _act(service, token, campaign, "run-now", start)
