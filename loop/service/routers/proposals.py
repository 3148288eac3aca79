"""Proposals: a campaign's experiments; approve, reject or edit them before dispatch."""

from __future__ import annotations

from fastapi import APIRouter, Body, HTTPException, Query

from loop.campaign.objective import allowed_candidates
from loop.campaign.records import Experiment
from loop.campaign.states import ExperimentState
from loop.service import tables
from loop.service.dependencies import (
    LabOrReader, Operator, Service, ServiceDep, built, holding_lock, known_campaign,
)
from loop.service.schemas import (
    ApproveIn, ApproveOut, EditIn, EditOut, Proposal, RejectIn,
)
from loop.service.views import proposal

S = ExperimentState
router = APIRouter(prefix="/campaigns/{name}/proposals", tags=["proposals"])
_BEFORE_DISPATCH = (S.PROPOSED, S.APPROVED)
#: rounds are numbered below the spec's largest budget (1,000)
MAX_ROUND = 999


def _experiment(service: Service, name: str, experiment_id: str) -> Experiment:
    e = service.store.experiment(experiment_id)
    if e is None or e.campaign != name or e.round < 0:
        raise HTTPException(404, f"campaign '{name}' has no experiment '{experiment_id}'")
    return e


def _before_dispatch(e: Experiment) -> None:
    if e.state not in _BEFORE_DISPATCH:
        raise HTTPException(409, f"experiment '{e.id}' is {e.state}; only proposed or "
                            "approved experiments can be changed")


@router.get("", response_model=list[Proposal])
def list_proposals(name: str, service: ServiceDep, token: LabOrReader,
                   state: list[S] | None = Query(None, description="only these states"),
                   round: int | None = Query(None, ge=0, le=MAX_ROUND,
                                             description="only this round")
                   ) -> list[Proposal]:
    """The campaign's experiments, with their predictions and candidates' parameters.

    A lab fetches its work with `?state=dispatched`.
    """
    known_campaign(service, token, name)
    items = [e for e in service.store.experiments(name, round=round, states=state or None)
             if e.round >= 0]
    campaign = None
    if items:
        try:  # the candidates' parameters, when the campaign loads here
            campaign = service.cache.get(name)
        except Exception:  # noqa: BLE001 - the experiments are worth showing without them
            campaign = None
    return [proposal(e, campaign) for e in items]


@router.post("/approve", response_model=ApproveOut)
def approve_all(name: str, service: ServiceDep, token: Operator,
                body: ApproveIn | None = Body(None)) -> ApproveOut:
    """Approve the proposed experiments (all, or those named); the worker dispatches them."""
    known_campaign(service, token, name)
    store = service.store
    with holding_lock(service, name):
        proposed = {e.id: e for e in store.experiments(name, states=[S.PROPOSED])}
        if body is None or body.experiment_ids is None:
            ids = sorted(proposed)
        else:
            ids = list(dict.fromkeys(body.experiment_ids))
            for eid in ids:
                if eid not in proposed:
                    e = _experiment(service, name, eid)
                    raise HTTPException(409, f"experiment '{eid}' is {e.state}, not proposed")
        store.set_state(ids, S.APPROVED)
    if ids:
        tables.record(store.engine, name, token.name, "approve", experiments=ids)
        service.worker.enqueue(name)
    return ApproveOut(approved=ids)


@router.post("/{experiment_id}/approve", response_model=Proposal)
def approve_one(name: str, experiment_id: str, service: ServiceDep,
                token: Operator) -> Proposal:
    """Approve one proposed experiment."""
    known_campaign(service, token, name)
    with holding_lock(service, name):
        e = _experiment(service, name, experiment_id)
        if e.state != S.PROPOSED:
            raise HTTPException(409, f"experiment '{e.id}' is {e.state}, not proposed")
        service.store.set_state([e.id], S.APPROVED)
    tables.record(service.store.engine, name, token.name, "approve", experiments=[e.id])
    service.worker.enqueue(name)
    return proposal(service.store.experiment(e.id), service.cache.cached(name))


@router.post("/{experiment_id}/reject", response_model=Proposal)
def reject(name: str, experiment_id: str, body: RejectIn, service: ServiceDep,
           token: Operator) -> Proposal:
    """Reject an experiment before dispatch: it is cancelled, the reason kept as its note."""
    known_campaign(service, token, name)
    with holding_lock(service, name):
        e = _experiment(service, name, experiment_id)
        _before_dispatch(e)
        service.store.set_state([e.id], S.CANCELLED, note=f"rejected by {token.name}: "
                                f"{body.reason}")
    tables.record(service.store.engine, name, token.name, "reject", experiment=e.id,
                  candidate=e.candidate_id, reason=body.reason)
    service.worker.enqueue(name)
    return proposal(service.store.experiment(e.id), service.cache.cached(name))


@router.post("/{experiment_id}/edit", response_model=EditOut)
def edit(name: str, experiment_id: str, body: EditIn, service: ServiceDep,
         token: Operator) -> EditOut:
    """Swap an experiment's candidate for another not yet asked for, before dispatch.

    The old experiment is cancelled; a new one of the same round is proposed.
    """
    known_campaign(service, token, name)
    campaign = built(service, name)
    index = campaign.design.index()
    row = index.get(body.candidate_id)
    if row is None:
        raise HTTPException(422, f"candidate_id: '{body.candidate_id}' is not a candidate "
                            f"of campaign '{name}'")
    allowed = allowed_candidates(campaign.spec.objective, campaign.design.attributes,
                                 campaign.design.n)
    if not allowed[row]:
        raise HTTPException(422, f"candidate_id: '{body.candidate_id}' is excluded by the "
                            "campaign's constraints")
    store = service.store
    with holding_lock(service, name):
        old = _experiment(service, name, experiment_id)
        _before_dispatch(old)
        if any(e.candidate_id == body.candidate_id for e in store.experiments(name)):
            raise HTTPException(409, f"candidate '{body.candidate_id}' was already asked for "
                                f"in campaign '{name}'")
        new = Experiment(id=f"{name}-r{old.round}-{body.candidate_id}", campaign=name,
                         round=old.round, candidate_id=body.candidate_id, state=S.PROPOSED,
                         note=f"edited by {token.name}: replaces {old.id}")
        note = f"replaced by {new.id} ({token.name})"
        if body.reason:
            note += f": {body.reason}"
        store.set_state([old.id], S.CANCELLED, note=note)
        store.add_experiments([new])
    tables.record(store.engine, name, token.name, "edit", experiment=old.id,
                  old_candidate=old.candidate_id, new_experiment=new.id,
                  new_candidate=new.candidate_id, reason=body.reason)
    service.worker.enqueue(name)
    return EditOut(old=proposal(store.experiment(old.id), campaign),
                   new=proposal(store.experiment(new.id), campaign))
