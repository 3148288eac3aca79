"""Campaigns: create from a spec, list, read, pause, resume, cancel; rounds and audit trail."""

from __future__ import annotations

import json
import logging

import yaml
from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import AnyHttpUrl
from starlette.concurrency import run_in_threadpool

from loop.campaign.spec import CampaignSpec, SpecError, _UniqueKeyLoader, parse_spec
from loop.campaign.states import CampaignStatus, ExperimentState
from loop.service import tables
from loop.service.dependencies import (
    Operator, Reader, Service, ServiceDep, holding_lock, known_campaign,
)
from loop.service.schemas import AuditOut, CampaignBrief, CampaignDetail, RoundOut
from loop.service.views import briefs, detail, rounds

router = APIRouter(prefix="/campaigns", tags=["campaigns"])
log = logging.getLogger("loopwell.service")
_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
SPEC_BODY = {
    "required": True,
    "description": "a campaign spec (the YAML of `loopwell run`), as JSON or YAML",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/CampaignSpec"}},
        "application/yaml": {"schema": {"type": "string"}},
    },
}


def read_spec(body: bytes, content_type: str) -> CampaignSpec:
    """Parse a spec body (JSON, or YAML by content type); SpecError names what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"body: not UTF-8 text ({exc.reason})") from None
    if content_type.split(";")[0].strip().lower() in _YAML_TYPES:
        try:
            raw = yaml.load(text, Loader=_UniqueKeyLoader)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" (line {where.line + 1})" if where is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise SpecError(f"body: not valid YAML{line}: {problem}") from None
    else:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"body: not valid JSON (line {exc.lineno}): {exc.msg}") from None
    return parse_spec(raw, source="body")


def _create(service: Service, spec: CampaignSpec, who: str,
            webhook_url: str | None) -> tuple[CampaignDetail, bool]:
    existing = service.store.campaign(spec.name)
    if existing is not None:
        if existing.spec == spec.model_dump(mode="json"):
            return detail(service, existing), False
        raise HTTPException(409, f"campaign '{spec.name}' already exists with a different "
                            "spec; choose another name")
    try:
        service.cache.get(spec.name, spec)
    except Exception as exc:  # noqa: BLE001 - a spec whose files cannot be read is bad input
        log.info("campaign %s: cannot be built: %s", spec.name, exc)
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HTTPException(422, f"campaign '{spec.name}' cannot be built: {text}") from None
    tables.set_webhook(service.store.engine, spec.name, webhook_url)
    tables.record(service.store.engine, spec.name, who, "create",
                  webhook=webhook_url is not None)
    service.worker.enqueue(spec.name)
    return detail(service, service.store.campaign(spec.name)), True


@router.post("", response_model=CampaignDetail, status_code=201,
             openapi_extra={"requestBody": SPEC_BODY},
             responses={200: {"model": CampaignDetail,
                              "description": "the campaign exists with this very spec"}})
async def create_campaign(request: Request, response: Response, service: ServiceDep,
                          token: Operator,
                          webhook_url: AnyHttpUrl | None = Query(
                              None, description="POSTed (signed) when a batch is ready")
                          ) -> CampaignDetail:
    """Create a campaign from its spec; the worker proposes its first batch."""
    try:
        spec = read_spec(await request.body(), request.headers.get("content-type", ""))
    except SpecError as exc:
        raise HTTPException(422, str(exc)) from None
    out, created = await run_in_threadpool(
        _create, service, spec, token.name, str(webhook_url) if webhook_url else None)
    if not created:
        response.status_code = 200
    return out


@router.get("", response_model=list[CampaignBrief])
def list_campaigns(service: ServiceDep, token: Reader) -> list[CampaignBrief]:
    """List every campaign of the store, oldest first."""
    return briefs(service)


@router.get("/{name}", response_model=CampaignDetail)
def get_campaign(name: str, service: ServiceDep, token: Reader) -> CampaignDetail:
    """A campaign: its status, spec, rounds, counts and what the worker is doing with it."""
    return detail(service, known_campaign(service, token, name))


@router.get("/{name}/rounds", response_model=list[RoundOut])
def list_rounds(name: str, service: ServiceDep, token: Reader) -> list[RoundOut]:
    """The summary of every round started so far."""
    known_campaign(service, token, name)
    return rounds(service, name)


@router.post("/{name}/pause", response_model=CampaignDetail)
def pause(name: str, service: ServiceDep, token: Operator) -> CampaignDetail:
    """Stop proposing and dispatching (results are still taken); `resume` goes on."""
    record = known_campaign(service, token, name)
    if record.status in (CampaignStatus.DONE, CampaignStatus.CANCELLED):
        raise HTTPException(409, f"campaign '{name}' is {record.status}; it cannot be paused")
    service.worker.hold(name, CampaignStatus.PAUSED)
    service.store.set_campaign_status(name, CampaignStatus.PAUSED)
    tables.record(service.store.engine, name, token.name, "pause", was=record.status)
    return detail(service, service.store.campaign(name))


@router.post("/{name}/resume", response_model=CampaignDetail)
def resume(name: str, service: ServiceDep, token: Operator) -> CampaignDetail:
    """Go on with a paused campaign: the worker runs it."""
    record = known_campaign(service, token, name)
    if record.status != CampaignStatus.PAUSED:
        raise HTTPException(409, f"campaign '{name}' is {record.status}, not paused")
    service.worker.release(name)
    service.store.set_campaign_status(name, CampaignStatus.RUNNING)
    tables.record(service.store.engine, name, token.name, "resume")
    service.worker.enqueue(name)
    return detail(service, service.store.campaign(name))


@router.post("/{name}/cancel", response_model=CampaignDetail)
def cancel(name: str, service: ServiceDep, token: Operator) -> CampaignDetail:
    """End a campaign: proposals not yet dispatched are cancelled; results still count."""
    record = known_campaign(service, token, name)
    if record.status == CampaignStatus.CANCELLED:
        return detail(service, record)
    if record.status == CampaignStatus.DONE:
        raise HTTPException(409, f"campaign '{name}' is done; there is nothing to cancel")
    service.worker.hold(name, CampaignStatus.CANCELLED)
    store = service.store
    with holding_lock(service, name):
        todo = [e.id for e in store.experiments(
            name, states=[ExperimentState.PROPOSED, ExperimentState.APPROVED])]
        store.set_state(todo, ExperimentState.CANCELLED,
                        note=f"campaign cancelled by {token.name}")
        store.set_campaign_status(name, CampaignStatus.CANCELLED)
    tables.record(store.engine, name, token.name, "cancel", was=record.status,
                  experiments_cancelled=todo)
    return detail(service, store.campaign(name))


@router.get("/{name}/audit", response_model=list[AuditOut])
def audit(name: str, service: ServiceDep, token: Reader) -> list[AuditOut]:
    """Who did what to the campaign, and when (creation, approvals, rejections, edits, ...)."""
    known_campaign(service, token, name)
    return [AuditOut(id=a.id, campaign=a.campaign, who=a.who, action=a.action,
                     details=a.details, at=a.at)
            for a in tables.audit_trail(service.store.engine, name)]
