"""The store: campaigns, rounds, experiments, measurements and rejected inputs.

SQLAlchemy Core over any URL (a SQLite file by default, PostgreSQL when a
campaign outgrows one machine). Measurements are keyed by
(experiment id, replicate): a repeated delivery is a no-op, so nothing is
counted twice, and every write is its own transaction, so a crash at any
point leaves the store consistent and the campaign resumes from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import (
    Column, DateTime, Float, ForeignKey, Integer, MetaData, String, Table, Text,
    UniqueConstraint, create_engine, func, select, update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from loop.base import EXPERIMENT_STATES, TRANSITIONS, StoreError

metadata = MetaData()

campaigns = Table(
    "campaigns", metadata,
    Column("name", String(64), primary_key=True),
    Column("spec", Text, nullable=False),
    Column("status", String(16), nullable=False, default="created"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
rounds = Table(
    "rounds", metadata,
    Column("campaign", String(64), ForeignKey("campaigns.name"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("info", Text, nullable=False, default="{}"),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)
experiments = Table(
    "experiments", metadata,
    Column("id", String(200), primary_key=True),
    Column("campaign", String(64), ForeignKey("campaigns.name"), nullable=False, index=True),
    Column("round", Integer, nullable=False),
    Column("candidate_id", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    Column("job_id", String(200)),
    Column("predicted_mean", Float),
    Column("predicted_sd", Float),
    Column("note", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("campaign", "round", "candidate_id", name="uq_experiment_candidate"),
)
measurements = Table(
    "measurements", metadata,
    Column("experiment_id", String(200), ForeignKey("experiments.id"), primary_key=True),
    Column("replicate", Integer, primary_key=True),
    Column("campaign", String(64), nullable=False, index=True),
    Column("candidate_id", String(200), nullable=False),
    Column("value", Float, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
rejected = Table(
    "rejected", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign", String(64), nullable=False, index=True),
    Column("payload", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Experiment:
    id: str
    campaign: str
    round: int
    candidate_id: str
    state: str
    job_id: str | None = None
    predicted_mean: float | None = None
    predicted_sd: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class Measurement:
    experiment_id: str
    candidate_id: str
    replicate: int
    value: float


class SqlStore:
    """A `Store` over any SQLAlchemy URL (`sqlite:///file.db`, `postgresql+psycopg://...`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
            database = make_url(url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(url, **kwargs)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- campaigns --------------------------------------------------------
    def create_campaign(self, name: str, spec: dict[str, Any]) -> bool:
        """Record a campaign; return False if it exists with the same spec.

        Raises:
            StoreError: if a campaign of that name exists with a different spec.
        """
        text = json.dumps(spec, sort_keys=True)
        with self.engine.begin() as conn:
            row = conn.execute(select(campaigns.c.spec).where(campaigns.c.name == name)).first()
            if row is not None:
                if row.spec != text:
                    raise StoreError(
                        f"campaign '{name}' already exists with a different spec; "
                        "choose another name or delete the old campaign"
                    )
                return False
            conn.execute(campaigns.insert().values(
                name=name, spec=text, status="created", created_at=_now(), updated_at=_now()))
        return True

    def campaign(self, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(campaigns).where(campaigns.c.name == name)).first()
        if row is None:
            return None
        return {"name": row.name, "spec": json.loads(row.spec), "status": row.status,
                "created_at": row.created_at, "updated_at": row.updated_at}

    def campaign_names(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(campaigns.c.name).order_by(campaigns.c.created_at)).scalars())

    def set_campaign_status(self, name: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(campaigns).where(campaigns.c.name == name)
                         .values(status=status, updated_at=_now()))

    # -- rounds -----------------------------------------------------------
    def start_round(self, campaign: str, idx: int, info: dict[str, Any] | None = None) -> None:
        """Record that round `idx` started (a no-op if it already has)."""
        with self.engine.begin() as conn:
            exists = conn.execute(select(rounds.c.idx).where(
                rounds.c.campaign == campaign, rounds.c.idx == idx)).first()
            if exists is None:
                conn.execute(rounds.insert().values(
                    campaign=campaign, idx=idx, status="running",
                    info=json.dumps(info or {}), started_at=_now()))

    def update_round(self, campaign: str, idx: int, info: dict[str, Any],
                     status: str | None = None) -> None:
        """Merge `info` into a round's record, optionally setting its status."""
        with self.engine.begin() as conn:
            row = conn.execute(select(rounds.c.info).where(
                rounds.c.campaign == campaign, rounds.c.idx == idx)).first()
            if row is None:
                raise StoreError(f"round {idx} of '{campaign}' was never started")
            merged = {**json.loads(row.info), **info}
            values: dict[str, Any] = {"info": json.dumps(merged)}
            if status is not None:
                values["status"] = status
                if status == "done":
                    values["finished_at"] = _now()
            conn.execute(update(rounds).where(
                rounds.c.campaign == campaign, rounds.c.idx == idx).values(**values))

    def rounds(self, campaign: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(rounds).where(rounds.c.campaign == campaign)
                                .order_by(rounds.c.idx)).all()
        return [{"idx": r.idx, "status": r.status, "info": json.loads(r.info),
                 "started_at": r.started_at, "finished_at": r.finished_at} for r in rows]

    # -- experiments --------------------------------------------------------
    def add_experiments(self, items: Iterable[Experiment]) -> int:
        """Insert experiments in one transaction; ids already present are skipped."""
        items = list(items)
        with self.engine.begin() as conn:
            have = set(conn.execute(select(experiments.c.id).where(
                experiments.c.id.in_([e.id for e in items]))).scalars()) if items else set()
            new = [e for e in items if e.id not in have]
            for e in new:
                if e.state not in EXPERIMENT_STATES:
                    raise StoreError(f"unknown experiment state '{e.state}'")
            if new:
                conn.execute(experiments.insert(), [
                    {"id": e.id, "campaign": e.campaign, "round": e.round,
                     "candidate_id": e.candidate_id, "state": e.state, "job_id": e.job_id,
                     "predicted_mean": e.predicted_mean, "predicted_sd": e.predicted_sd,
                     "updated_at": _now()} for e in new])
        return len(new)

    def experiments(self, campaign: str, *, round: int | None = None,
                    states: Iterable[str] | None = None) -> list[Experiment]:
        query = select(experiments).where(experiments.c.campaign == campaign)
        if round is not None:
            query = query.where(experiments.c.round == round)
        if states is not None:
            query = query.where(experiments.c.state.in_(list(states)))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(experiments.c.round, experiments.c.id)).all()
        return [Experiment(id=r.id, campaign=r.campaign, round=r.round,
                           candidate_id=r.candidate_id, state=r.state, job_id=r.job_id,
                           predicted_mean=r.predicted_mean, predicted_sd=r.predicted_sd,
                          note=r.note)
                for r in rows]

    def experiment(self, experiment_id: str) -> Experiment | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(experiments).where(experiments.c.id == experiment_id)).first()
        if r is None:
            return None
        return Experiment(id=r.id, campaign=r.campaign, round=r.round,
                          candidate_id=r.candidate_id, state=r.state, job_id=r.job_id,
                          predicted_mean=r.predicted_mean, predicted_sd=r.predicted_sd,
                          note=r.note)

    def set_state(self, experiment_ids: Iterable[str], state: str,
                  job_id: str | None = None, note: str | None = None) -> None:
        """Move experiments to `state`; illegal transitions raise `StoreError`."""
        ids = list(experiment_ids)
        if not ids:
            return
        with self.engine.begin() as conn:
            current = dict(conn.execute(select(experiments.c.id, experiments.c.state)
                                        .where(experiments.c.id.in_(ids))).all())
            missing = set(ids) - set(current)
            if missing:
                raise StoreError(f"unknown experiments: {sorted(missing)[:5]}")
            for eid, old in current.items():
                if old != state and state not in TRANSITIONS[old]:
                    raise StoreError(f"experiment {eid}: cannot go from {old} to {state}")
            values: dict[str, Any] = {"state": state, "updated_at": _now()}
            if job_id is not None:
                values["job_id"] = job_id
            if note is not None:
                values["note"] = note
            conn.execute(update(experiments).where(experiments.c.id.in_(ids)).values(**values))

    # -- measurements -------------------------------------------------------
    def record_measurement(self, experiment_id: str, replicate: int, value: float) -> bool:
        """Store one measurement; return False if it was already stored (a no-op)."""
        exp = self.experiment(experiment_id)
        if exp is None:
            raise StoreError(f"no experiment '{experiment_id}'")
        try:
            with self.engine.begin() as conn:
                have = conn.execute(select(measurements.c.value).where(
                    measurements.c.experiment_id == experiment_id,
                    measurements.c.replicate == replicate)).first()
                if have is not None:
                    return False
                conn.execute(measurements.insert().values(
                    experiment_id=experiment_id, replicate=replicate, campaign=exp.campaign,
                    candidate_id=exp.candidate_id, value=float(value), received_at=_now()))
        except IntegrityError:
            return False
        return True

    def measurements(self, campaign: str) -> list[Measurement]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(measurements).where(measurements.c.campaign == campaign)
                                .order_by(measurements.c.experiment_id,
                                          measurements.c.replicate)).all()
        return [Measurement(r.experiment_id, r.candidate_id, r.replicate, r.value) for r in rows]

    def count_measurements(self, campaign: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(measurements)
                                .where(measurements.c.campaign == campaign)).scalar_one()

    # -- rejected inputs ----------------------------------------------------
    def quarantine(self, campaign: str, payload: dict[str, Any], reason: str) -> None:
        """Keep an input that could not be used, with the reason."""
        with self.engine.begin() as conn:
            conn.execute(rejected.insert().values(
                campaign=campaign, payload=json.dumps(payload, default=str),
                reason=reason, received_at=_now()))

    def rejected(self, campaign: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(rejected).where(rejected.c.campaign == campaign)
                                .order_by(rejected.c.id)).all()
        return [{"payload": json.loads(r.payload), "reason": r.reason,
                 "received_at": r.received_at} for r in rows]
