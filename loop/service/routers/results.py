"""Results: a lab POSTs what it measured; each result is judged on its own."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from loop.service import tables
from loop.service.dependencies import (
    LabOrOperator, Service, ServiceDep, built, known_campaign,
)
from loop.service.schemas import MAX_REPLICATE, IngestReport, ItemOutcome, ResultIn

router = APIRouter(prefix="/campaigns/{name}/results", tags=["results"])
RESULTS_BODY = {
    "required": True,
    "description": "a JSON list of results (`adapters.MeasurementResult`); idempotent by "
                   "experiment id and replicate",
    "content": {"application/json": {"schema": {
        "type": "array", "items": {"$ref": "#/components/schemas/ResultIn"}}}},
}


def _out_of_range(item: Any) -> str | None:
    """Say why an item's replicate cannot be stored at all (too large for the database)."""
    replicate = item.get("replicate") if isinstance(item, dict) else None
    if isinstance(replicate, int) and not isinstance(replicate, bool) and \
            not 0 <= replicate <= MAX_REPLICATE:
        return f"malformed result: replicate: must be between 0 and {MAX_REPLICATE}"
    return None


def _ingest(service: Service, name: str, items: list[Any], who: str) -> IngestReport:
    campaign = built(service, name)
    outcomes: list[Any] = [None] * len(items)
    fine = []
    for k, item in enumerate(items):
        if (why := _out_of_range(item)) is not None:
            service.store.quarantine(name, item, why)
            eid = item.get("experiment_id")
            outcomes[k] = (eid if isinstance(eid, str) else None, "rejected", why)
        else:
            fine.append(k)
    for k, outcome in zip(fine, campaign.ingest_each([items[k] for k in fine])):
        outcomes[k] = outcome
    n = Counter(outcome for _, outcome, _ in outcomes)
    if n["stored"] or n["failed"]:
        tables.record(service.store.engine, name, who, "results", stored=n["stored"],
                      duplicate=n["duplicate"], failed=n["failed"], rejected=n["rejected"])
        service.worker.enqueue(name)  # a round may be complete: the worker goes on
    detail = (f"{n['rejected']} of {len(items)} result(s) rejected and quarantined with the "
              f"reason; the other {len(items) - n['rejected']} were taken"
              if n["rejected"] else f"{len(items)} result(s) taken")
    return IngestReport(
        detail=detail, n_stored=n["stored"], n_duplicate=n["duplicate"], n_failed=n["failed"],
        n_rejected=n["rejected"],
        items=[ItemOutcome(index=k, experiment_id=eid, outcome=outcome, reason=reason)
               for k, (eid, outcome, reason) in enumerate(outcomes)])


@router.post("", response_model=IngestReport, openapi_extra={"requestBody": RESULTS_BODY},
             responses={422: {"model": IngestReport,
                              "description": "some results were rejected (and quarantined); "
                                             "the others were taken"}})
async def post_results(name: str, request: Request, service: ServiceDep,
                       token: LabOrOperator) -> Any:
    """Take a lab's results: 200 when all are stored (or already were), 422 naming the bad ones.

    Good results beside bad ones are stored all the same; bad ones are
    quarantined with the reason (`loopwell status` shows them).
    """
    await run_in_threadpool(known_campaign, service, token, name)
    body = await request.body()
    try:
        items = json.loads(body)
        why = None if isinstance(items, list) else \
            f"the body must be a JSON list of results, got {type(items).__name__}"
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        items, why = None, f"the body is not JSON: {exc}"
    if why is not None:
        payload = items if items is not None else body.decode("utf-8", "replace")[:100_000]
        await run_in_threadpool(service.store.quarantine, name, payload, why)
        report = IngestReport(detail=f"{why}; kept in quarantine", n_stored=0, n_duplicate=0,
                              n_failed=0, n_rejected=1, items=[])
        return JSONResponse(report.model_dump(mode="json"), status_code=422)
    report = await run_in_threadpool(_ingest, service, name, items, token.name)
    if report.n_rejected:
        return JSONResponse(report.model_dump(mode="json"), status_code=422)
    return report


__all__ = ["ResultIn", "router"]
