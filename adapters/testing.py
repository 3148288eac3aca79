"""Fakes for tests of code that talks to labs.

`FakeLabApp` is a lab node in one callable: hand it to
`httpx.MockTransport` and an `HttpLab` over that transport runs the whole wire
protocol of `adapters.http_lab` against a `SimulatedLab`, without a network::

    app = FakeLabApp(SimulatedLab({"KO:ZAP70": 1.7}))
    lab = HttpLab(httpx.Client(transport=httpx.MockTransport(app),
                               base_url="http://lab"), sleep=lambda s: None)

`FakeRobotServer` is an Opentrons robot-server the same way, for `OpentronsLab`.
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


# -- an Opentrons robot-server --------------------------------------------------

_RUN_ROUTE = re.compile(r"^/runs/(?P<run_id>[^/]+)(?P<rest>/actions|/commands)?/?$")


class FakeRobotServer:
    """An Opentrons robot-server in one callable, for `httpx.MockTransport`.

    Follows the documented HTTP API: the ``Opentrons-Version`` header is
    required on every request (400 without it), bodies are ``{"data": ...}``
    envelopes, errors ``{"errors": [{"id", "title", "detail"}]}``. A
    protocol upload is multipart (``files``, optional ``key``); the same files
    uploaded again give the existing protocol with 200. One run at a time:
    creating a run while another is active is 409 ``RunAlreadyActive``. A
    played run executes `commands_per_poll` of its commands (four per
    transfer of the protocol's ``TRANSFERS``) each time it is read, and
    succeeds after the last.

    Args:
        commands_per_poll: Commands a running run advances per GET of it.
        fail_at_command: Index of the command at which every run fails
            (None: runs succeed).
        fail_next: How many of the next requests are answered 503.
        disconnect_next: How many of the next requests (after those) raise
            `httpx.ConnectError`.

    Attributes:
        requests: Every request received, in order.
        protocols: Uploaded protocols by id (the files' text under ``"text"``).
        runs: Runs by id.
    """

    def __init__(self, *, commands_per_poll: int = 10_000, fail_at_command: int | None = None,
                 fail_next: int = 0, disconnect_next: int = 0) -> None:
        self.commands_per_poll = commands_per_poll
        self.fail_at_command = fail_at_command
        self.fail_next = fail_next
        self.disconnect_next = disconnect_next
        self.requests: list[httpx.Request] = []
        self.protocols: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self._n = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        self.requests.append(request)
        if self.fail_next > 0:
            self.fail_next -= 1
            return _robot_error(503, "InjectedFailure", "injected failure")
        if self.disconnect_next > 0:
            self.disconnect_next -= 1
            raise httpx.ConnectError("injected disconnect", request=request)
        if "Opentrons-Version" not in request.headers:
            return _robot_error(400, "OpentronsVersionHeaderMissing",
                                "Missing header Opentrons-Version")
        path, method = request.url.path, request.method
        if path == "/protocols":
            if method == "GET":
                return _robot_json(200, {"data": [self._public(p) for p in
                                                  self.protocols.values()],
                                         "meta": {"cursor": 0,
                                                  "totalLength": len(self.protocols)}})
            if method == "POST":
                return self._upload(request)
        if path == "/runs":
            if method == "GET":
                return _robot_json(200, {"data": list(self.runs.values()), "links": {},
                                         "meta": {"cursor": 0, "totalLength": len(self.runs)}})
            if method == "POST":
                return self._create_run(request)
        match = _RUN_ROUTE.match(path)
        if match is None:
            return _robot_error(404, "RouteNotFound", f"no route for {method} {path}")
        run = self.runs.get(match["run_id"])
        if run is None:
            return _robot_error(404, "RunNotFound", f"Run {match['run_id']} was not found.")
        if match["rest"] == "/actions" and method == "POST":
            return self._act(run, request)
        if match["rest"] == "/commands" and method == "GET":
            executed = run["_commands"][:run["_done"]]
            size = int(request.url.params.get("pageLength", 20))
            page = executed[-size:]
            return _robot_json(200, {"data": page, "links": {},
                                     "meta": {"cursor": len(executed) - len(page),
                                              "totalLength": len(executed)}})
        if match["rest"] is None and method == "GET":
            self._step(run)
            return _robot_json(200, {"data": _public_run(run)})
        return _robot_error(405, "MethodNotAllowed", f"{method} not allowed on {path}")

    # -- the routes ---------------------------------------------------------

    def _upload(self, request: httpx.Request) -> httpx.Response:
        fields = _multipart(request)
        files = [f for f in fields if f[0] == "files" and f[1]]
        if not files:
            return _robot_error(422, "InvalidRequest", "files: field required")
        key = next((value.decode() for name, _, value in fields if name == "key"), None)
        text = files[0][2].decode()
        for protocol in self.protocols.values():
            if protocol["text"] == text:
                return _robot_json(200, {"data": self._public(protocol)})
        try:
            n_transfers = len(_transfers(text))
        except ValueError as error:
            return _robot_error(422, "ProtocolFilesInvalid", str(error))
        protocol_id = self._new_id("protocol")
        self.protocols[protocol_id] = {
            "id": protocol_id, "createdAt": "2026-12-02T12:00:00Z", "protocolType": "python",
            "protocolKind": "standard", "robotType": "OT-3 Standard", "key": key,
            "metadata": {}, "analysisSummaries": [{"id": self._new_id("analysis"),
                                                   "status": "completed"}],
            "files": [{"name": files[0][1], "role": "main"}], "text": text,
            "_n_commands": 4 * n_transfers}
        return _robot_json(201, {"data": self._public(self.protocols[protocol_id])})

    def _create_run(self, request: httpx.Request) -> httpx.Response:
        try:
            protocol_id = json.loads(request.content)["data"]["protocolId"]
        except (ValueError, KeyError, TypeError):
            return _robot_error(422, "InvalidRequest", "body: expected {'data': {'protocolId'}}")
        if protocol_id not in self.protocols:
            return _robot_error(404, "ProtocolNotFound", f"Protocol {protocol_id} not found.")
        active = [r for r in self.runs.values() if r["current"] and r["status"] not in
                  ("succeeded", "failed", "stopped")]
        if active:
            return _robot_error(409, "RunAlreadyActive",
                                f"Run {active[0]['id']} is active; stop it first.")
        for other in self.runs.values():
            other["current"] = False
        run_id = self._new_id("run")
        n = self.protocols[protocol_id]["_n_commands"]
        kinds = ("pickUpTip", "aspirate", "dispense", "dropTip")
        self.runs[run_id] = {
            "id": run_id, "createdAt": "2026-12-02T12:00:00Z", "status": "idle",
            "current": True, "protocolId": protocol_id, "actions": [], "errors": [],
            "pipettes": [], "labware": [], "modules": [], "liquids": [],
            "_done": 0,
            "_commands": [{"id": f"{run_id}-c{k}", "key": f"c{k}", "commandType": kinds[k % 4],
                           "status": "queued", "params": {}, "intent": "protocol",
                           "createdAt": "2026-12-02T12:00:00Z"} for k in range(n)]}
        return _robot_json(201, {"data": _public_run(self.runs[run_id])})

    def _act(self, run: dict[str, Any], request: httpx.Request) -> httpx.Response:
        try:
            action = json.loads(request.content)["data"]["actionType"]
        except (ValueError, KeyError, TypeError):
            return _robot_error(422, "InvalidRequest", "body: expected {'data': {'actionType'}}")
        if run["status"] in ("succeeded", "failed", "stopped") or not run["current"]:
            return _robot_error(409, "RunActionNotAllowed",
                                f"Cannot {action} run {run['id']}: it is {run['status']}.")
        if action == "play":
            run["status"] = "running"
        elif action == "pause":
            run["status"] = "paused"
        elif action == "stop":
            run["status"] = "stopped"
        else:
            return _robot_error(422, "InvalidRequest", f"unknown actionType '{action}'")
        record = {"id": self._new_id("action"), "createdAt": "2026-12-02T12:00:01Z",
                  "actionType": action}
        run["actions"].append(record)
        return _robot_json(201, {"data": record})

    def _step(self, run: dict[str, Any]) -> None:
        if run["status"] != "running":
            return
        commands = run["_commands"]
        for _ in range(self.commands_per_poll):
            k = run["_done"]
            if k >= len(commands):
                break
            if self.fail_at_command is not None and k == self.fail_at_command:
                commands[k].update(status="failed", error={
                    "id": self._new_id("error"), "errorType": "TipNotAttachedError",
                    "detail": "No tip attached after pickUpTip", "errorCode": "3005"})
                run["_done"] = k + 1
                run["status"] = "failed"
                run["errors"] = [{"id": self._new_id("error"), "errorType": "PythonException",
                                  "detail": "TipNotAttachedError [line 27]",
                                  "createdAt": "2026-12-02T12:00:02Z", "errorCode": "4000"}]
                return
            commands[k]["status"] = "succeeded"
            run["_done"] = k + 1
        if run["_done"] >= len(commands):
            run["status"] = "succeeded"

    def _public(self, protocol: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in protocol.items() if k != "text" and not k.startswith("_")}

    def _new_id(self, kind: str) -> str:
        self._n += 1
        return f"{kind}-{self._n:04d}"


def _public_run(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if not k.startswith("_")}


def _transfers(text: str) -> list[Any]:
    """Return the TRANSFERS literal of a generated protocol (ValueError if it has none)."""
    import ast

    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "TRANSFERS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    if "def run(" in text:
        return []
    raise ValueError("not a Python protocol: no run() function")


def _multipart(request: httpx.Request) -> list[tuple[str, str | None, bytes]]:
    """Return (field name, file name, bytes) of each part of a multipart body."""
    from email.parser import BytesParser
    from email.policy import HTTP

    head = f"Content-Type: {request.headers.get('Content-Type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.read())
    if not message.is_multipart():
        return []
    return [(part.get_param("name", header="content-disposition"), part.get_filename(),
             part.get_payload(decode=True) or b"") for part in message.iter_parts()]


def _robot_json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body),
                          headers={"Content-Type": "application/json"})


def _robot_error(status: int, error_id: str, detail: str) -> httpx.Response:
    return _robot_json(status, {"errors": [{"id": error_id, "title": error_id,
                                            "detail": detail, "errorCode": "4000"}]})
