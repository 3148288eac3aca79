"""The service's own tables, beside the campaign store's: tokens, the audit trail, settings.

They live in the store's database (`SqlStore.engine`) under their own
`MetaData`, created on first use, so the campaign store's schema is not
touched. Tokens are kept as their SHA-256 digest only: the token itself is
shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Column, DateTime, Integer, MetaData, String, Table, Text, select, update,
)
from sqlalchemy.engine import Engine

metadata = MetaData()

tokens = Table(
    "service_tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("campaigns", Text),  # JSON list of campaign names a lab token may use; null: all
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)
audit = Table(
    "service_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign", String(64), nullable=False, index=True),
    Column("who", String(100), nullable=False),
    Column("action", String(32), nullable=False),
    Column("details", Text, nullable=False, default="{}"),
    Column("at", DateTime(timezone=True), nullable=False),
)
settings = Table(
    "service_campaigns", metadata,
    Column("name", String(64), primary_key=True),
    Column("webhook_url", Text),
)


class Role(StrEnum):
    """What a token may do: viewers read, operators steer, labs fetch work and post results."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    LAB = "lab"


@dataclass(frozen=True)
class Token:
    """A token as the store keeps it (without the secret)."""

    id: int
    name: str
    role: Role
    campaigns: tuple[str, ...] | None
    created_at: datetime
    revoked_at: datetime | None

    def may_use(self, campaign: str) -> bool:
        return self.campaigns is None or campaign in self.campaigns


@dataclass(frozen=True)
class AuditEntry:
    id: int
    campaign: str
    who: str
    action: str
    details: dict[str, Any]
    at: datetime


def _now() -> datetime:
    return datetime.now(timezone.utc)


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_tables(engine: Engine) -> None:
    metadata.create_all(engine)


def _token(row: Any) -> Token:
    return Token(id=row.id, name=row.name, role=Role(row.role),
                 campaigns=tuple(json.loads(row.campaigns)) if row.campaigns else None,
                 created_at=utc(row.created_at), revoked_at=utc(row.revoked_at))


# -- tokens ----------------------------------------------------------------------------
def create_token(engine: Engine, role: Role | str, name: str,
                 campaigns: list[str] | None = None) -> tuple[Token, str]:
    """Create a token; return its record and the secret (shown once, stored hashed)."""
    secret = "lw_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        result = conn.execute(tokens.insert().values(
            name=name, role=str(Role(role)), digest=digest(secret),
            campaigns=json.dumps(sorted(campaigns)) if campaigns else None, created_at=_now()))
        row = conn.execute(select(tokens).where(
            tokens.c.id == result.inserted_primary_key[0])).one()
    return _token(row), secret


def find_token(engine: Engine, secret: str) -> Token | None:
    """Return the live token whose secret this is, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(tokens).where(tokens.c.digest == digest(secret),
                                                tokens.c.revoked_at.is_(None))).first()
    return None if row is None else _token(row)


def list_tokens(engine: Engine) -> list[Token]:
    with engine.connect() as conn:
        return [_token(r) for r in conn.execute(select(tokens).order_by(tokens.c.id)).all()]


def revoke_token(engine: Engine, key: str) -> int:
    """Revoke tokens by id or by name; return how many were live."""
    where = tokens.c.id == int(key) if key.isdigit() else tokens.c.name == key
    with engine.begin() as conn:
        return conn.execute(update(tokens).where(where, tokens.c.revoked_at.is_(None))
                            .values(revoked_at=_now())).rowcount


# -- the audit trail -------------------------------------------------------------------
def record(engine: Engine, campaign: str, who: str, action: str, **details: Any) -> None:
    """Write one line of a campaign's audit trail: who did what, when, with what details."""
    with engine.begin() as conn:
        conn.execute(audit.insert().values(campaign=campaign, who=who, action=action,
                                           details=json.dumps(details, default=str),
                                           at=_now()))


def audit_trail(engine: Engine, campaign: str) -> list[AuditEntry]:
    with engine.connect() as conn:
        rows = conn.execute(select(audit).where(audit.c.campaign == campaign)
                            .order_by(audit.c.id)).all()
    return [AuditEntry(id=r.id, campaign=r.campaign, who=r.who, action=r.action,
                       details=json.loads(r.details), at=utc(r.at)) for r in rows]


# -- per-campaign service settings -------------------------------------------------------
def set_webhook(engine: Engine, campaign: str, url: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(settings.delete().where(settings.c.name == campaign))
        if url:
            conn.execute(settings.insert().values(name=campaign, webhook_url=url))


def webhook_of(engine: Engine, campaign: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(settings.c.webhook_url)
                            .where(settings.c.name == campaign)).scalar()
