"""The Opentrons robot-server's HTTP API, as far as a plate needs it.

Endpoints (robot-server, port 31950; every request carries the
``Opentrons-Version`` header; bodies are ``{"data": ...}`` envelopes)::

    GET  /protocols                      {"data": [protocol, ...], "meta": {...}}
    POST /protocols  (multipart: files, key)
                                         201 {"data": protocol}; 200 with the existing
                                         protocol when the same files were uploaded before
    GET  /runs                           {"data": [run, ...], "links": {...}, "meta": {...}}
    POST /runs  {"data": {"protocolId": id}}
                                         201 {"data": run}  (409 while another run is active)
    GET  /runs/{id}                      {"data": run}; run["status"] is one of idle,
                                         running, paused, stop-requested, stopped, finishing,
                                         failed, succeeded, blocked-by-open-door,
                                         awaiting-recovery...
    POST /runs/{id}/actions  {"data": {"actionType": "play" | "pause" | "stop"}}
                                         201 {"data": action}
    GET  /runs/{id}/commands?pageLength=n
                                         {"data": [command, ...], "meta": {"cursor",
                                         "totalLength"}}; without a cursor, the page of the
                                         current (or last) command
    errors: 4xx/5xx {"errors": [{"id", "title", "detail", "errorCode"}]}

Retries follow the one policy of `adapters._retry` (connection errors,
timeouts, 429 and 5xx; backoff with jitter; Retry-After honoured), but only
for reads: a POST that creates something (a protocol, a run, an action) is
sent once, because a timeout does not say whether the robot acted on it. The
adapter reconciles instead: before creating, it looks for what it would
create (a protocol by its ``key``, a run by its protocol id, a play in the
run's actions), so a call that fails half-way is completed, never repeated,
by the next one.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from adapters._retry import (
    MAX_RETRY_AFTER_S,
    Exhausted,
    Transient,
    is_transient_error,
    is_transient_status,
    retry_after_s,
    with_retries,
)
from adapters._text import clip
from adapters.base import LabError, LabRejected, LabUnavailable

#: run statuses after which a run does nothing more
TERMINAL = frozenset({"succeeded", "failed", "stopped"})


class RobotClient:
    """Speak to one robot-server through an injected `httpx.Client`.

    Args:
        client: Client with the robot's `base_url` and timeouts.
        api_version: Value of the ``Opentrons-Version`` header (``"3"``, or ``"*"``
            for the newest the robot speaks).
        retries: How often a transient failure of a read is retried.
        backoff_s: Wait before the first retry (doubles, jittered).
        sleep: Injectable wait, so tests need not wait.
        jitter: Returns a fraction in [0, 1] per wait.
    """

    def __init__(self, client: httpx.Client, *, api_version: str = "3", retries: int = 3,
                 backoff_s: float = 0.5, sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random) -> None:
        self.client = client
        self.api_version = api_version
        self.retries = retries
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._jitter = jitter

    # -- protocols -----------------------------------------------------------

    def find_protocol(self, key: str) -> str | None:
        """Return the id of the last protocol uploaded with `key`, if any."""
        found = [p for p in self._list("/protocols") if p.get("key") == key]
        return str(found[-1]["id"]) if found else None

    def upload_protocol(self, name: str, text: str, *, key: str) -> str:
        """Upload a Python protocol file; return its id (sent once, not retried)."""
        files = {"files": (name, text.encode(), "text/x-python")}
        body = self._send("POST", "/protocols", files=files, data={"key": key}, retry=False)
        return str(_data(body, "POST /protocols")["id"])

    # -- runs ----------------------------------------------------------------

    def find_run(self, protocol_id: str) -> dict[str, Any] | None:
        """Return the last run made of a protocol, if any."""
        found = [r for r in self._list("/runs") if r.get("protocolId") == protocol_id]
        return found[-1] if found else None

    def create_run(self, protocol_id: str) -> dict[str, Any]:
        """Create a run of a protocol (sent once); return it."""
        body = self._send("POST", "/runs", json={"data": {"protocolId": protocol_id}},
                          retry=False)
        return _data(body, "POST /runs")

    def run(self, run_id: str) -> dict[str, Any]:
        """Return a run (its status, actions and errors)."""
        return _data(self._send("GET", f"/runs/{run_id}"), f"GET /runs/{run_id}")

    def act(self, run_id: str, action: str) -> None:
        """Post an action (``play``, ``pause``, ``stop``) to a run (sent once)."""
        self._send("POST", f"/runs/{run_id}/actions", json={"data": {"actionType": action}},
                   retry=False)

    def commands(self, run_id: str, *, page_length: int = 20) -> tuple[list[dict], int]:
        """Return the page of the run's current (or last) commands, and how many it has run."""
        body = self._send("GET", f"/runs/{run_id}/commands",
                          params={"pageLength": page_length})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise LabError(f"GET /runs/{run_id}/commands: the robot's answer has no list "
                           "'data'; is base_url an Opentrons robot (port 31950)?")
        total = body.get("meta", {}).get("totalLength", len(data))
        return data, int(total)

    # -- I/O -------------------------------------------------------------------

    def _list(self, path: str) -> list[dict[str, Any]]:
        body = self._send("GET", path)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise LabError(f"GET {path}: the robot's answer has no list 'data'; is base_url "
                           "an Opentrons robot (port 31950)?")
        return [item for item in data if isinstance(item, dict)]

    def _send(self, method: str, path: str, *, retry: bool = True, **kwargs: Any) -> Any:
        """Send one request under the retry policy (reads only); return the decoded body.

        Raises:
            LabRejected: On a 4xx other than 429 (sent once).
            LabUnavailable: When transient trouble outlasts the retries (or a
                create fails transiently: the caller reconciles next time).
            LabError: On an answer that is not JSON, or a redirect.
        """
        what = f"{method} {path}"
        headers = {"Opentrons-Version": self.api_version, "Accept": "application/json"}
        n_tries = (self.retries + 1) if retry else 1

        def attempt(k: int) -> Any:
            try:
                response = self.client.request(method, path, headers=headers, **kwargs)
            except httpx.RequestError as error:
                problem = f"{type(error).__name__}: {clip(str(error), 200)}"
                if not is_transient_error(error):
                    raise LabError(f"{what}: {problem}; check the robot's base_url") from None
                raise Transient(problem) from None
            status = response.status_code
            if response.is_success:
                try:
                    return response.json() if response.content else {}
                except ValueError:
                    raise LabError(f"{what}: the robot's answer is not JSON; is base_url "
                                   "an Opentrons robot (port 31950)?") from None
            detail = _detail(response)
            if status < 400:
                raise LabError(f"{what}: HTTP {status}; set base_url to the robot's own "
                               "address (http://<robot-ip>:31950)")
            if not is_transient_status(status):
                raise LabRejected(f"{what}: the robot refused, HTTP {status}: {detail}",
                                  status=status, detail=detail)
            problem = f"HTTP {status}: {detail}"
            wait_s = retry_after_s(response)
            if wait_s is not None and wait_s > MAX_RETRY_AFTER_S:
                raise LabUnavailable(f"{what}: {problem}; the robot asks to retry after "
                                     f"{wait_s:.0f} s", n_attempts=k + 1, retry_after_s=wait_s)
            raise Transient(problem, wait_s)

        try:
            return with_retries(attempt, tries=n_tries, backoff_s=self.backoff_s,
                                sleep=self._sleep, jitter=self._jitter)
        except Exhausted as out:
            again = "" if retry else " (a create is sent once; the next poll reconciles)"
            raise LabUnavailable(f"{what}: {out.problem} after {out.n_tries} attempt(s){again}; "
                                 "is the robot on and reachable? Try again later",
                                 n_attempts=out.n_tries) from None


def _data(body: Any, what: str) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or "id" not in data:
        raise LabError(f"{what}: the robot's answer has no 'data' object with an id; is "
                       "base_url an Opentrons robot (port 31950)?")
    return data


def _detail(response: httpx.Response) -> str:
    """Return the robot's reason: ``errors[0].detail`` (or title), else the text."""
    try:
        body = response.json()
    except ValueError:
        return clip(response.text, 300) or response.reason_phrase
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return clip(str(first.get("detail") or first.get("title") or first), 300)
        if body.get("detail"):
            return clip(str(body["detail"]), 300)
    return clip(json.dumps(body), 300)
