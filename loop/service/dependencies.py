"""What routes depend on: the service's state, the store, the caller's token and role."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from loop.campaign.records import CampaignRecord
from loop.campaign.store import SqlStore
from loop.campaign.store.base import CampaignBusy
from loop.campaign.lifecycle import writer_lock
from loop.service.cache import CampaignCache
from loop.service.tables import Role, Token, find_token, webhook_of
from loop.service.worker import Worker


@dataclass
class Service:
    """Everything the routes share: the store, built campaigns, the worker, limits."""

    store: SqlStore
    state_dir: Path
    cache: CampaignCache
    worker: Worker
    webhook_url: str | None = None
    max_body: int = 10 * 1024 * 1024
    lock_wait_s: float = 10.0
    extra: dict = field(default_factory=dict)

    def webhook_for(self, campaign: str) -> str | None:
        return webhook_of(self.store.engine, campaign) or self.webhook_url


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]
_bearer = HTTPBearer(auto_error=False, description="a token from `loopwell token create`")


def current_token(service: ServiceDep,
                  creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
                  ) -> Token:
    """Return the caller's token; 401 without a live one."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(401, "a bearer token is required (loopwell token create)",
                            headers={"WWW-Authenticate": "Bearer"})
    token = find_token(service.store.engine, creds.credentials)
    if token is None:
        raise HTTPException(401, "unknown or revoked token",
                            headers={"WWW-Authenticate": "Bearer"})
    return token


def allow(*roles: Role) -> Callable[..., Token]:
    """Return a dependency that admits tokens of `roles` only (403 for the others)."""
    names = ", ".join(str(r) for r in roles)

    def check(token: Annotated[Token, Depends(current_token)]) -> Token:
        if token.role not in roles:
            raise HTTPException(403, f"a {token.role} token may not do this; it needs: {names}")
        return token

    return check


READ = (Role.VIEWER, Role.OPERATOR)
Reader = Annotated[Token, Depends(allow(*READ))]
Operator = Annotated[Token, Depends(allow(Role.OPERATOR))]
LabOrReader = Annotated[Token, Depends(allow(*READ, Role.LAB))]
LabOrOperator = Annotated[Token, Depends(allow(Role.OPERATOR, Role.LAB))]


def known_campaign(service: Service, token: Token, name: str) -> CampaignRecord:
    """Return the campaign's record: 403 for a lab token not given it, 404 if there is none."""
    if not token.may_use(name):
        raise HTTPException(403, f"this lab token may not use campaign '{name}'")
    record = service.store.campaign(name)
    if record is None:
        raise HTTPException(404, f"no campaign '{name}'")
    return record


def built(service: Service, name: str):
    """Return the built campaign; 409 naming the reason when its spec cannot be loaded here.

    (A campaign `loopwell run` made from a file with relative paths loads only
    when the service runs in that file's folder.)
    """
    try:
        return service.cache.get(name)
    except Exception as exc:  # noqa: BLE001 - the reason goes back to the caller
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HTTPException(409, f"campaign '{name}' cannot be loaded by the service: "
                            f"{text}") from None


class holding_lock:
    """Hold the campaign's writer lock, waiting a while for a run in progress (else 409)."""

    def __init__(self, service: Service, name: str) -> None:
        self.service, self.name = service, name
        self._cm = None

    def __enter__(self):
        deadline = time.monotonic() + self.service.lock_wait_s
        while True:
            cm = writer_lock(self.service.store, self.name)
            try:
                cm.__enter__()
            except CampaignBusy as exc:
                if time.monotonic() >= deadline:
                    raise HTTPException(409, f"{exc}", headers={"Retry-After": "5"}) from None
                time.sleep(0.1)
                continue
            self._cm = cm
            return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)
