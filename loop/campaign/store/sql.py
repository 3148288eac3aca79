"""The store over SQLAlchemy Core: a SQLite file by default, PostgreSQL by URL.

Measurements are keyed by (experiment id, replicate), so a repeated delivery
is a no-op and nothing is counted twice; every write is its own transaction,
so a crash at any point leaves the store consistent and the campaign resumes
from it. Columns added since a store was created are added on open.

(About 380 lines, kept whole on purpose: the tables and every query on them,
one concept, the SQL store.)
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import (
    Column, DateTime, Float, ForeignKey, Integer, MetaData, String, Table, Text,
    UniqueConstraint, create_engine, func, inspect, or_, select, text, update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from loop.campaign.records import CampaignRecord, Experiment, Measurement, Rejected
from loop.campaign.states import TRANSITIONS, ExperimentState
from loop.campaign.store.base import StoreError
from loop.campaign.summary import RoundSummary

metadata = MetaData()

campaigns = Table(
    "campaigns", metadata,
    Column("name", String(64), primary_key=True),
    Column("spec", Text, nullable=False),
    Column("status", String(32), nullable=False, default="created"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("lock_owner", String(200)),
    Column("lock_until", DateTime(timezone=True)),
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
    Column("acquisition", Float),
    Column("note", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("campaign", "round", "candidate_id", name="uq_experiment_candidate"),
)
measurements = Table(
    "measurements", metadata,
    Column("experiment_id", String(200), ForeignKey("experiments.id"), primary_key=True),
    Column("replicate", Integer, primary_key=True),
    Column("campaign", String(64), nullable=False, index=True),
    Column("round", Integer),
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
    Column("digest", String(64), index=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def _experiment(r: Any) -> Experiment:
    return Experiment(id=r.id, campaign=r.campaign, round=r.round, candidate_id=r.candidate_id,
                      state=r.state, job_id=r.job_id, predicted_mean=r.predicted_mean,
                      predicted_sd=r.predicted_sd, acquisition=r.acquisition, note=r.note,
                      updated_at=_aware(r.updated_at))


class SqlStore:
    """A `Store` over any SQLAlchemy URL (`sqlite:///file.db`, `postgresql+psycopg://...`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.display_url = parsed.render_as_string(hide_password=True)
        kwargs: dict[str, Any] = {}
        identity = self.display_url
        if parsed.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"timeout": 30}
            database = parsed.database
            if database and database.startswith("file:"):  # an SQLite URI names its file
                database = database[len("file:"):].split("?", 1)[0]
            if database and database != ":memory:":
                path = Path(database).expanduser().resolve()
                path.parent.mkdir(parents=True, exist_ok=True)
                identity = f"sqlite:///{path}"
        #: the same for every spelling of one database (e.g. relative and absolute paths)
        self.identity = identity
        self.engine = create_engine(url, **kwargs)
        metadata.create_all(self.engine)
        self._add_missing_columns()

    def close(self) -> None:
        self.engine.dispose()

    def _add_missing_columns(self) -> None:
        """Add columns introduced after a store was created (nullable ones only)."""
        inspector = inspect(self.engine)
        with self.engine.begin() as conn:
            for table in metadata.sorted_tables:
                have = {c["name"] for c in inspector.get_columns(table.name)}
                for column in table.columns:
                    if column.name in have:
                        continue
                    kind = column.type.compile(dialect=self.engine.dialect)
                    conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
                    if table is measurements and column.name == "round":
                        conn.execute(text(
                            "UPDATE measurements SET round = (SELECT e.round FROM experiments e "
                            "WHERE e.id = measurements.experiment_id)"))

    # -- campaigns --------------------------------------------------------
    def create_campaign(self, name: str, spec: dict[str, Any]) -> bool:
        """Record a campaign; return False if it exists with the same spec.

        Raises:
            StoreError: if a campaign of that name exists with a different spec.
        """
        body = json.dumps(spec, sort_keys=True)
        with self.engine.begin() as conn:
            row = conn.execute(select(campaigns.c.spec).where(campaigns.c.name == name)).first()
            if row is not None:
                if row.spec != body:
                    raise StoreError(
                        f"campaign '{name}' already exists with a different spec; "
                        "choose another name or delete the old campaign")
                return False
            conn.execute(campaigns.insert().values(
                name=name, spec=body, status="created", created_at=_now(), updated_at=_now()))
        return True

    def replace_spec(self, name: str, spec: dict[str, Any]) -> None:
        """Store a new spec for an existing campaign (the caller checks it is compatible)."""
        with self.engine.begin() as conn:
            conn.execute(update(campaigns).where(campaigns.c.name == name).values(
                spec=json.dumps(spec, sort_keys=True), updated_at=_now()))

    def campaign(self, name: str) -> CampaignRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(campaigns).where(campaigns.c.name == name)).first()
        if row is None:
            return None
        return CampaignRecord(name=row.name, spec=json.loads(row.spec), status=row.status,
                              created_at=_aware(row.created_at),
                              updated_at=_aware(row.updated_at))

    def campaigns(self) -> list[CampaignRecord]:
        """Every campaign, oldest first, in one query."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(campaigns).order_by(campaigns.c.created_at)).all()
        return [CampaignRecord(name=r.name, spec=json.loads(r.spec), status=r.status,
                               created_at=_aware(r.created_at),
                               updated_at=_aware(r.updated_at)) for r in rows]

    def campaign_counts(self) -> dict[str, tuple[int, int]]:
        """Return campaign -> (rounds started, measurements), for every campaign, in two queries."""
        with self.engine.connect() as conn:
            n_rounds = dict(conn.execute(select(rounds.c.campaign, func.count())
                                         .group_by(rounds.c.campaign)).all())
            n_measured = dict(conn.execute(select(measurements.c.campaign, func.count())
                                           .group_by(measurements.c.campaign)).all())
        return {name: (int(n_rounds.get(name, 0)), int(n_measured.get(name, 0)))
                for name in set(n_rounds) | set(n_measured)}

    def campaign_names(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(campaigns.c.name)
                                     .order_by(campaigns.c.created_at)).scalars())

    def set_campaign_status(self, name: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(campaigns).where(campaigns.c.name == name)
                         .values(status=str(status), updated_at=_now()))

    def delete_campaign(self, name: str) -> bool:
        """Delete a campaign and everything recorded for it; return whether it existed."""
        with self.engine.begin() as conn:
            ids = select(experiments.c.id).where(experiments.c.campaign == name)
            conn.execute(measurements.delete().where(measurements.c.experiment_id.in_(ids)))
            conn.execute(experiments.delete().where(experiments.c.campaign == name))
            conn.execute(rounds.delete().where(rounds.c.campaign == name))
            conn.execute(rejected.delete().where(rejected.c.campaign == name))
            return conn.execute(campaigns.delete().where(campaigns.c.name == name)).rowcount > 0

    # -- one writer at a time --------------------------------------------------
    def acquire_lock(self, name: str, owner: str, ttl_s: float,
                     is_stale=lambda holder: False) -> str | None:
        """Take the campaign's writer lock for `ttl_s` seconds (renewing our own).

        Returns None when taken, else the holder's name. A lock whose time ran
        out, or whose holder `is_stale(holder)` says is gone, is taken over.
        """
        now = _now()
        with self.engine.begin() as conn:
            row = conn.execute(select(campaigns.c.lock_owner, campaigns.c.lock_until)
                               .where(campaigns.c.name == name)).first()
            if row is None:
                raise StoreError(f"no campaign '{name}'")
            holder, until = row.lock_owner, _aware(row.lock_until)
            if holder and holder != owner and until and until > now and not is_stale(holder):
                return holder
            result = conn.execute(update(campaigns).where(
                campaigns.c.name == name,
                or_(campaigns.c.lock_owner.is_(None), campaigns.c.lock_owner == holder),
            ).values(lock_owner=owner, lock_until=now + timedelta(seconds=ttl_s)))
            return None if result.rowcount == 1 else (holder or "another run")

    def release_lock(self, name: str, owner: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(campaigns).where(campaigns.c.name == name,
                                                 campaigns.c.lock_owner == owner)
                         .values(lock_owner=None, lock_until=None))

    # -- rounds -----------------------------------------------------------
    def start_round(self, campaign: str, idx: int) -> None:
        """Record that round `idx` started (a no-op if it already has)."""
        with self.engine.begin() as conn:
            exists = conn.execute(select(rounds.c.idx).where(
                rounds.c.campaign == campaign, rounds.c.idx == idx)).first()
            if exists is None:
                conn.execute(rounds.insert().values(
                    campaign=campaign, idx=idx, status="open",
                    info=json.dumps(RoundSummary(round=idx).to_json()), started_at=_now()))

    def update_round(self, campaign: str, idx: int, **fields: Any) -> RoundSummary:
        """Set fields of a round's summary (None leaves a field as it is); return it."""
        with self.engine.begin() as conn:
            row = conn.execute(select(rounds.c.info).where(
                rounds.c.campaign == campaign, rounds.c.idx == idx)).first()
            if row is None:
                raise StoreError(f"round {idx} of '{campaign}' was never started")
            summary = RoundSummary.from_json({**json.loads(row.info), "round": idx}).update(**fields)
            values: dict[str, Any] = {"info": json.dumps(summary.to_json()),
                                      "status": str(summary.status)}
            if summary.status == "done":
                values["finished_at"] = _now()
            conn.execute(update(rounds).where(
                rounds.c.campaign == campaign, rounds.c.idx == idx).values(**values))
        return summary

    def rounds(self, campaign: str) -> list[RoundSummary]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(rounds).where(rounds.c.campaign == campaign)
                                .order_by(rounds.c.idx)).all()
        return [RoundSummary.from_json({**json.loads(r.info), "round": r.idx,
                                        "status": "done" if r.status == "done" else "open"})
                for r in rows]

    # -- experiments --------------------------------------------------------
    def add_experiments(self, items: Iterable[Experiment]) -> int:
        """Insert experiments in one transaction; ids already present are skipped."""
        items = list(items)
        with self.engine.begin() as conn:
            have = set(conn.execute(select(experiments.c.id).where(
                experiments.c.id.in_([e.id for e in items]))).scalars()) if items else set()
            new = [e for e in items if e.id not in have]
            if new:
                conn.execute(experiments.insert(), [
                    {"id": e.id, "campaign": e.campaign, "round": e.round,
                     "candidate_id": e.candidate_id, "state": str(e.state), "job_id": e.job_id,
                     "predicted_mean": e.predicted_mean, "predicted_sd": e.predicted_sd,
                     "acquisition": e.acquisition, "note": e.note, "updated_at": _now()}
                    for e in new])
        return len(new)

    def experiments(self, campaign: str, *, round: int | None = None,
                    states: Iterable[ExperimentState] | None = None) -> list[Experiment]:
        query = select(experiments).where(experiments.c.campaign == campaign)
        if round is not None:
            query = query.where(experiments.c.round == round)
        if states is not None:
            query = query.where(experiments.c.state.in_([str(s) for s in states]))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(experiments.c.round, experiments.c.id)).all()
        return [_experiment(r) for r in rows]

    def count_experiments(self, campaign: str) -> dict[str, int]:
        """Return the campaign's experiments counted by state."""
        with self.engine.connect() as conn:
            by_state = conn.execute(select(experiments.c.state, func.count())
                                    .where(experiments.c.campaign == campaign)
                                    .group_by(experiments.c.state)).all()
        return {str(state): int(n) for state, n in by_state}

    def experiment(self, experiment_id: str) -> Experiment | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(experiments).where(experiments.c.id == experiment_id)).first()
        return None if r is None else _experiment(r)

    def set_state(self, experiment_ids: Iterable[str], state: ExperimentState,
                  job_id: str | None = None, note: str | None = None) -> None:
        """Move experiments to `state`; illegal transitions raise `StoreError`."""
        ids = list(experiment_ids)
        if not ids:
            return
        state = ExperimentState(state)
        with self.engine.begin() as conn:
            current = dict(conn.execute(select(experiments.c.id, experiments.c.state)
                                        .where(experiments.c.id.in_(ids))).all())
            missing = set(ids) - set(current)
            if missing:
                raise StoreError(f"unknown experiments: {sorted(missing)[:5]}")
            for eid, old in current.items():
                if old != state and state not in TRANSITIONS[ExperimentState(old)]:
                    raise StoreError(f"experiment {eid}: cannot go from {old} to {state}")
            values: dict[str, Any] = {"state": str(state), "updated_at": _now()}
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
                    round=exp.round, candidate_id=exp.candidate_id, value=float(value),
                    received_at=_now()))
        except IntegrityError:
            return False
        return True

    def measurement_value(self, experiment_id: str, replicate: int) -> float | None:
        """Return the value stored for (experiment, replicate), if any."""
        with self.engine.connect() as conn:
            return conn.execute(select(measurements.c.value).where(
                measurements.c.experiment_id == experiment_id,
                measurements.c.replicate == replicate)).scalar()

    def measurements(self, campaign: str, *, round: int | None = None) -> list[Measurement]:
        query = select(measurements).where(measurements.c.campaign == campaign)
        if round is not None:
            query = query.where(measurements.c.round == round)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(measurements.c.experiment_id,
                                               measurements.c.replicate)).all()
        return [Measurement(r.experiment_id, r.candidate_id, r.round, r.replicate, r.value)
                for r in rows]

    def count_measurements(self, campaign: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(measurements)
                                .where(measurements.c.campaign == campaign)).scalar_one()

    # -- rejected inputs ----------------------------------------------------
    def quarantine(self, campaign: str, payload: Any, reason: str) -> bool:
        """Keep an input that could not be used, with the reason; return False if kept already."""
        body = json.dumps(payload, default=str, sort_keys=True)
        digest = hashlib.sha256(f"{body}\n{reason}".encode()).hexdigest()
        with self.engine.begin() as conn:
            if conn.execute(select(rejected.c.id).where(
                    rejected.c.campaign == campaign, rejected.c.digest == digest)).first():
                return False
            conn.execute(rejected.insert().values(
                campaign=campaign, payload=body, reason=reason, digest=digest,
                received_at=_now()))
        return True

    def count_rejected(self, campaign: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(rejected)
                                .where(rejected.c.campaign == campaign)).scalar_one()

    def rejected(self, campaign: str) -> list[Rejected]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(rejected).where(rejected.c.campaign == campaign)
                                .order_by(rejected.c.id)).all()
        return [Rejected(json.loads(r.payload), r.reason, _aware(r.received_at)) for r in rows]
