"""Store records to HTTP bodies: pure-ish functions the routers share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from loop.campaign.records import CampaignRecord, Experiment
from loop.campaign.store.sql import campaigns as campaigns_table
from loop.campaign.store.sql import experiments as experiments_table
from loop.campaign.store.sql import measurements as measurements_table
from loop.campaign.store.sql import rejected as rejected_table
from loop.campaign.store.sql import rounds as rounds_table
from loop.service.dependencies import Service
from loop.service.tables import utc
from loop.service.schemas import (
    CampaignBrief, CampaignDetail, Counts, Proposal, RoundOut, WorkerState, finite,
)


def counts(service: Service, name: str) -> Counts:
    """Count a campaign's experiments by state, its measurements and its rejected inputs."""
    with service.store.engine.connect() as conn:
        by_state = dict(conn.execute(
            select(experiments_table.c.state, func.count())
            .where(experiments_table.c.campaign == name)
            .group_by(experiments_table.c.state)).all())
        n_rejected = conn.execute(select(func.count()).select_from(rejected_table)
                                  .where(rejected_table.c.campaign == name)).scalar_one()
    return Counts(experiments={str(k): int(v) for k, v in by_state.items()},
                  measurements=service.store.count_measurements(name), rejected=n_rejected)


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
    with service.store.engine.connect() as conn:
        rows = conn.execute(select(campaigns_table.c.name, campaigns_table.c.status,
                                   campaigns_table.c.created_at, campaigns_table.c.updated_at)
                            .order_by(campaigns_table.c.created_at)).all()
        n_rounds = dict(conn.execute(select(rounds_table.c.campaign, func.count())
                                     .group_by(rounds_table.c.campaign)).all())
        n_measured = dict(conn.execute(select(measurements_table.c.campaign, func.count())
                                       .group_by(measurements_table.c.campaign)).all())
    return [CampaignBrief(name=r.name, status=r.status, n_rounds=n_rounds.get(r.name, 0),
                          n_measurements=n_measured.get(r.name, 0),
                          created_at=utc(r.created_at), updated_at=utc(r.updated_at))
            for r in rows]


def proposal(e: Experiment, campaign: Any | None) -> Proposal:
    """Show an experiment, with its candidate's parameters when the campaign is built."""
    params: dict[str, Any] = {}
    if campaign is not None and e.candidate_id in campaign._index:
        params = finite(campaign.design.params(campaign._index[e.candidate_id]))
    return Proposal(experiment_id=e.id, round=e.round, candidate_id=e.candidate_id,
                    state=str(e.state), job_id=e.job_id,
                    predicted_mean=finite(e.predicted_mean), predicted_sd=finite(e.predicted_sd),
                    acquisition=finite(e.acquisition), note=e.note, parameters=params)
