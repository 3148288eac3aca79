"""Store records to HTTP bodies: pure-ish functions the routers share."""

from __future__ import annotations

from typing import Any

from loop.campaign.records import CampaignRecord, Experiment
from loop.service.dependencies import Service
from loop.service.tables import utc
from loop.service.schemas import (
    CampaignBrief, CampaignDetail, Counts, Proposal, RoundOut, WorkerState, finite,
)


def counts(service: Service, name: str) -> Counts:
    """Count a campaign's experiments by state, its measurements and its rejected inputs."""
    store = service.store
    return Counts(experiments=store.count_experiments(name),
                  measurements=store.count_measurements(name),
                  rejected=store.count_rejected(name))


def rounds(service: Service, name: str) -> list[Any]:
    return [RoundOut(**finite(s.to_json())) for s in service.store.rounds(name)]


def detail(service: Service, record: CampaignRecord) -> CampaignDetail:
    queued, running, error = service.worker.state(record.name)
    return CampaignDetail(
        name=record.name, status=record.status, spec=finite(record.spec),
        rounds=rounds(service, record.name), counts=counts(service, record.name),
        webhook=service.webhook_for(record.name) is not None,
        worker=WorkerState(queued=queued, running=running, last_error=error),
        created_at=record.created_at, updated_at=record.updated_at)


def briefs(service: Service) -> list[CampaignBrief]:
    """Every campaign in brief, oldest first, in three queries (not three per campaign)."""
    counted = service.store.campaign_counts()
    return [CampaignBrief(name=r.name, status=r.status,
                          n_rounds=counted.get(r.name, (0, 0))[0],
                          n_measurements=counted.get(r.name, (0, 0))[1],
                          created_at=utc(r.created_at), updated_at=utc(r.updated_at))
            for r in service.store.campaigns()]


def proposal(e: Experiment, campaign: Any | None) -> Proposal:
    """Show an experiment, with its candidate's parameters when the campaign is built."""
    params: dict[str, Any] = {}
    if campaign is not None and e.candidate_id in campaign._index:
        params = finite(campaign.design.params(campaign._index[e.candidate_id]))
    return Proposal(experiment_id=e.id, round=e.round, candidate_id=e.candidate_id,
                    state=str(e.state), job_id=e.job_id,
                    predicted_mean=finite(e.predicted_mean), predicted_sd=finite(e.predicted_sd),
                    acquisition=finite(e.acquisition), note=e.note, parameters=params)
