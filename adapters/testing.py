"""Fakes for tests of code that talks to labs.

`FakeLabApp` is a lab node in one callable: hand it to
`httpx.MockTransport` and an `HttpLab` over that transport runs the whole wire
protocol of `adapters.http_lab` against a `SimulatedLab`, without a network::

    app = FakeLabApp(SimulatedLab({"KO:ZAP70": 1.7}))
    lab = HttpLab(httpx.Client(transport=httpx.MockTransport(app),
                               base_url="http://lab"), sleep=lambda s: None)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httpx
from pydantic import TypeAdapter, ValidationError

from adapters.base import BatchRequest, LabRejected, MeasurementResult
from adapters.simulated import SimulatedLab

_RESULTS = TypeAdapter(list[MeasurementResult])
_ROUTE = re.compile(r"^/batches(?:/(?P<job_id>[^/]+)(?P<results>/results)?)?/?$")


class FakeLabApp:
    """Serve the HTTP lab protocol from a `SimulatedLab`, with injectable trouble.

    The knobs are plain attributes, so a test may set them between calls.

    Args:
        lab: The lab that answers.
        base_path: Path the protocol is served under.
        fail_next: How many of the next requests are answered `fail_status`
            (with a JSON `detail`) without reaching the lab.
        fail_status: Status of those answers (503 by default: transient).
        disconnect_next: How many of the next requests (after the failing
            ones) raise `httpx.ConnectError`, as a node that is down would.
        garble_next: How many of the next requests reaching the lab are
            answered 200 with a body that is not JSON.
        retry_after: A ``Retry-After`` header value sent with the failing
            answers, if any.
        tamper: Rewrites each delivery of results before it is sent: takes
            the results as JSON-able dicts, returns what to send instead (a
            JSON-able value, or bytes sent as they are). E.g. ``lambda rs: rs
            + [{"experiment_id": "x", "value": "high"}]``.

    Attributes:
        requests: Every request received, in order (failed ones included).
    """

    def __init__(self, lab: SimulatedLab, *, base_path: str = "/", fail_next: int = 0,
                 fail_status: int = 503, disconnect_next: int = 0,
                 garble_next: int = 0, retry_after: str | None = None,
                 tamper: Callable[[list[dict[str, Any]]], Any] | None = None) -> None:
        self.lab = lab
        self.base_path = "/" + base_path.strip("/")
        self.fail_next = fail_next
        self.fail_status = fail_status
        self.disconnect_next = disconnect_next
        self.garble_next = garble_next
        self.retry_after = retry_after
        self.tamper = tamper
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        self.requests.append(request)
        if self.fail_next > 0:
            self.fail_next -= 1
            response = _error(self.fail_status, "injected failure")
            if self.retry_after is not None:
                response.headers["Retry-After"] = self.retry_after
            return response
        if self.disconnect_next > 0:
            self.disconnect_next -= 1
            raise httpx.ConnectError("injected disconnect", request=request)
        path = request.url.path
        prefix = self.base_path.rstrip("/")
        if not path.startswith(prefix + "/"):
            return _error(404, f"no route for {path}")
        match = _ROUTE.match(path[len(prefix):])
        if match is None:
            return _error(404, f"no route for {path}")
        if self.garble_next > 0:
            self.garble_next -= 1
            return httpx.Response(200, content=b"<html>oops</html>")
        job_id = unquote(match["job_id"]) if match["job_id"] else None
        if job_id is not None and job_id not in self.lab.job_ids():
            return _error(404, f"unknown job '{job_id}'")
        try:
            return self._route(request, job_id, is_results=bool(match["results"]))
        except LabRejected as error:
            return _error(error.status, error.detail)

    def _route(self, request: httpx.Request, job_id: str | None,
               is_results: bool) -> httpx.Response:
        method = request.method
        if job_id is None:
            if method != "POST":
                return _error(405, f"{method} not allowed on /batches")
            try:
                batch = BatchRequest.model_validate_json(request.content)
            except ValidationError as error:
                return _error(422, str(error))
            receipt = self.lab.submit(batch)
            return _json(201, receipt.model_dump_json())
        if is_results:
            if method != "GET":
                return _error(405, f"{method} not allowed on results")
            results = self.lab.collect(job_id)
            if self.tamper is None:
                return _json(200, _RESULTS.dump_json(results))
            sent = self.tamper(json.loads(_RESULTS.dump_json(results)))
            return _json(200, sent if isinstance(sent, bytes) else json.dumps(sent))
        if method == "GET":
            return _json(200, self.lab.poll(job_id).model_dump_json())
        if method == "DELETE":
            self.lab.cancel(job_id)
            return httpx.Response(204)
        return _error(405, f"{method} not allowed on a job")


def _json(status: int, body: str | bytes) -> httpx.Response:
    return httpx.Response(status, content=body,
                          headers={"Content-Type": "application/json"})


def _error(status: int, detail: str) -> httpx.Response:
    return _json(status, json.dumps({"detail": detail}))
