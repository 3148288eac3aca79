"""The service assembled: routers, auth, the worker in the lifespan, the OpenAPI schema."""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from loop.campaign.states import CampaignStatus
from loop.campaign.store import SqlStore
from loop.campaign.store.base import CampaignBusy, StoreError
from loop.service.cache import CampaignCache
from loop.service.dependencies import Service
from loop.service.limits import BodyLimit
from loop.service.routers import campaigns, dashboard, proposals, results, schedules, tokens
from loop.service.schemas import ErrorBody, ResultIn
from loop.service.tables import create_tables, webhook_of
from loop.service.worker import Worker

log = logging.getLogger("loopwell.service")
#: every route may answer these; each names its own successes
ERRORS = {code: {"model": ErrorBody, "description": text} for code, text in [
    (400, "the body cannot be parsed"), (401, "no token, or an unknown or revoked one"), (403, "the token's role may not do this"),
    (404, "no such campaign or experiment"), (409, "the campaign's state forbids it now"),
    (413, "the body is too large"), (422, "the request is malformed; `detail` says why")]}
#: campaigns a (re)started service runs at once: new, or interrupted during a run
_RESUME = (CampaignStatus.CREATED, CampaignStatus.RUNNING)
WEBHOOK_SECRET_VARIABLE = "LOOPWELL_WEBHOOK_SECRET"


def create_app(store: SqlStore | str | None = None, state_dir: Path | str | None = None, *,
               webhook_url: str | None = None, webhook_secret: str | None = None,
               start_worker: bool = True, max_body: int = 10 * 1024 * 1024,
               lock_wait_s: float = 10.0, poll_s: float = 30.0) -> FastAPI:
    """Build the service over a store (a `SqlStore`, a URL, or None for the default).

    Args:
        store: the campaign store the CLI uses too.
        state_dir: the state folder (default `$LOOPWELL_HOME` or `./.loopwell`).
        webhook_url: told when a batch is ready, for campaigns created without their own.
        webhook_secret: HMAC key of the webhook signature (default
            `$LOOPWELL_WEBHOOK_SECRET`).
        start_worker: start the worker thread in the lifespan (tests may drive it).
        max_body: the largest request body, in bytes (larger: 413).
        lock_wait_s: how long a change waits for a run holding the campaign (then 409).
        poll_s: how often campaigns waiting for a lab that is not `manual` are run again.
    """
    from loop.run.settings import default_store_url
    from loop.run.settings import state_dir as default_state_dir

    if not isinstance(store, SqlStore):
        store = SqlStore(store or default_store_url())
    create_tables(store.engine)
    folder = Path(state_dir) if state_dir else default_state_dir()
    cache = CampaignCache(store, folder)
    secret = webhook_secret if webhook_secret is not None else \
        os.environ.get(WEBHOOK_SECRET_VARIABLE)
    worker = Worker(cache, lambda name: webhook_of(store.engine, name) or webhook_url, secret,
                    poll_s=poll_s)
    service = Service(store=store, state_dir=folder, cache=cache, worker=worker,
                      webhook_url=webhook_url, max_body=max_body, lock_wait_s=lock_wait_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if start_worker:
            worker.start()
            for name in store.campaign_names():
                record = store.campaign(name)
                if record is not None and record.status in _RESUME:
                    worker.enqueue(name)
        try:
            yield
        finally:
            worker.stop()
            cache.close()

    app = FastAPI(title="loopwell", version="0.1.0", lifespan=lifespan, responses=ERRORS,
                  description="Active-learning campaigns for biology labs: create campaigns, "
                  "approve their batches, post a lab's results. Every call needs a bearer "
                  "token (`loopwell token create`).")
    app.state.service = service
    for module in (campaigns, proposals, results, schedules, tokens, dashboard):
        app.include_router(module.router)
    app.add_exception_handler(StoreError, _conflict)
    app.add_exception_handler(CampaignBusy, _conflict)
    app.add_middleware(BodyLimit, max_bytes=max_body)
    _complete_schema(app)
    return app


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


def _complete_schema(app: FastAPI) -> None:
    """Add the models of bodies that routes read themselves (the spec, results) to the schema."""
    from fastapi.openapi.utils import get_openapi

    from loop.campaign.spec import CampaignSpec

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (CampaignSpec, ResultIn):
                found = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(found.pop("$defs", {}))
                components[model.__name__] = found
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
