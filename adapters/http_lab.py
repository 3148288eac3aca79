"""A lab node that speaks JSON over HTTP.

Wire protocol (version 1). Every body is JSON (``Content-Type:
application/json``, UTF-8); the shapes are the pydantic models of
`adapters.base`, serialised with their field names. Unknown fields are refused
both ways, so a typo fails loudly instead of being dropped. Paths are relative
to the node's base (`base_path` on the client's `base_url`); ``{job_id}`` is
percent-encoded.

``POST /batches``
    Body: a `BatchRequest`::

        {"campaign": "ifng-screen", "round": 3,
         "experiments": [{"experiment_id": "ifng-r3-0007",
                          "candidate_id": "KO:ZAP70", "parameters": {}}]}

    Answer 200, 201 or 202 with a `Submission`: ``{"job_id": "j-42",
    "n_accepted": 1}``. Submission MUST be idempotent by experiment id: the
    client retries after timeouts and dropped connections, so a node that
    receives a batch it already accepted answers with the same receipt and
    measures nothing again. A batch reusing experiment ids in any other way is
    answered 409. A body that does not validate is answered 422.

``GET /batches/{job_id}``
    Answer 200 with a `JobProgress`: ``{"job_id": "j-42", "status":
    "running", "n_total": 96, "n_done": 40}``; status is one of ``queued``,
    ``running``, ``done``, ``failed``, ``cancelled``. `n_done` counts finished
    experiments, failed ones included.

``GET /batches/{job_id}/results``
    Answer 200 with a JSON list of `MeasurementResult`: every result available
    so far (all of them, or only those not sent before; repeats are fine, the
    client keys results by experiment id and replicate)::

        [{"experiment_id": "ifng-r3-0007", "candidate_id": "KO:ZAP70",
          "value": 1.73, "replicate": 0, "status": "ok", "error": null},
         {"experiment_id": "ifng-r3-0008", "candidate_id": "KO:FOO",
          "value": null, "replicate": 0, "status": "failed",
          "error": "well B4 empty"}]

    Only `experiment_id` is required; a failed experiment is a result with
    ``"status": "failed"`` and a reason in `error`, not an HTTP error.

``DELETE /batches/{job_id}``
    Cancel what has not run yet. Answer 200, 202 or 204 (any body is ignored).
    Cancelling a finished job is not an error.

Errors: answer 4xx or 5xx with ``{"detail": "<human-readable reason>"}``;
404 for an unknown job. 429 and every 5xx are taken as transient and retried
with exponential backoff (a numeric ``Retry-After`` header, in seconds, is
honoured up to a minute); any other 4xx is final. Either way the client raises
`LabError` quoting the node's `detail`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from adapters.base import BatchRequest, JobProgress, LabError, MeasurementResult, Submission

_M = TypeVar("_M", bound=BaseModel)
_RESULTS = TypeAdapter(list[MeasurementResult])
_MAX_RETRY_AFTER_S = 60.0
_JSON = {"Content-Type": "application/json", "Accept": "application/json"}


class HttpLab:
    """Drive a lab node over HTTP (see the module docstring for the protocol).

    Args:
        client: The HTTP client, with the node's `base_url`, timeouts and auth.
            `close` closes it.
        base_path: Path of the node's API under the client's `base_url`.
        retries: How often a transient failure (a connection or timeout
            error, 429 or 5xx) is retried; a request is tried `retries + 1`
            times at most.
        backoff_s: Delay before the first retry; it doubles on each retry.
        sleep: Waits the given seconds; injectable so tests need not wait.
    """

    def __init__(self, client: httpx.Client, *, base_path: str = "/", retries: int = 3,
                 backoff_s: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if retries < 0 or backoff_s < 0:
            raise ValueError(f"retries and backoff_s must be >= 0, got {retries}, {backoff_s}")
        self.client = client
        self.base_path = "/" + base_path.strip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self._sleep = sleep

    # -- the LabAdapter protocol ------------------------------------------

    def submit(self, batch: BatchRequest) -> Submission:
        """Hand a batch to the node and return its receipt.

        Raises:
            LabError: If the node refuses the batch, cannot be reached, or
                answers something other than a `Submission`.
        """
        what, data = self._call("POST", "batches", body=batch.model_dump_json())
        return _parse(Submission, data, what)

    def poll(self, job_id: str) -> JobProgress:
        """Return how far a job is.

        Raises:
            LabError: If the job is unknown, the node cannot be reached, or it
                answers something other than this job's `JobProgress`.
        """
        what, data = self._call("GET", _job_path(job_id))
        progress = _parse(JobProgress, data, what)
        if progress.job_id != job_id:
            raise LabError(f"{what}: answered for job '{progress.job_id}', not '{job_id}'")
        return progress

    def collect(self, job_id: str) -> list[MeasurementResult]:
        """Return the job's results available so far (repeats possible).

        Raises:
            LabError: If the job is unknown, the node cannot be reached, or it
                answers something other than a list of `MeasurementResult`.
        """
        what, data = self._call("GET", _job_path(job_id) + "/results")
        if not isinstance(data, list):
            raise LabError(f"{what}: expected a JSON list of results, "
                           f"got {type(data).__name__}")
        try:
            return _RESULTS.validate_python(data)
        except ValidationError as error:
            raise LabError(f"{what}: malformed results: {_describe(error)}") from error

    def cancel(self, job_id: str) -> None:
        """Withdraw what has not run yet of a job.

        Raises:
            LabError: If the job is unknown or the node cannot be reached.
        """
        self._call("DELETE", _job_path(job_id), expect_json=False)

    # -- lifetime ---------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def __enter__(self) -> HttpLab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- I/O --------------------------------------------------------------

    def _call(self, method: str, path: str, *, body: str | None = None,
              expect_json: bool = True) -> tuple[str, Any]:
        """Send one request, retrying transient failures; return (label, JSON)."""
        url = f"{self.base_path.rstrip('/')}/{path}"
        what = f"{method} {url}"
        for attempt in range(self.retries + 1):
            try:
                response = self.client.request(method, url, content=body, headers=_JSON)
            except httpx.TransportError as error:
                problem, retry_after = f"{type(error).__name__}: {error}", None
            else:
                if response.is_success:
                    return what, _decode(response, what) if expect_json else None
                problem = f"HTTP {response.status_code}: {_server_message(response)}"
                if not _is_transient(response.status_code):
                    raise LabError(f"{what}: {problem}")
                retry_after = _retry_after(response)
            if attempt < self.retries:
                self._sleep(_delay(self.backoff_s, attempt, retry_after))
        n_tries = self.retries + 1
        raise LabError(f"{what}: {problem} (gave up after {n_tries} "
                       f"attempt{'s' if n_tries > 1 else ''})")


# -- pure helpers -----------------------------------------------------------

def _job_path(job_id: str) -> str:
    return f"batches/{quote(job_id, safe='')}"


def _is_transient(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


def _delay(backoff_s: float, attempt: int, retry_after: float | None) -> float:
    """Return the wait before retry `attempt + 1`: doubling backoff, or Retry-After."""
    delay = backoff_s * 2.0**attempt
    if retry_after is not None:
        delay = max(delay, min(retry_after, _MAX_RETRY_AFTER_S))
    return delay


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None  # absent, or an HTTP date: fall back on the backoff


def _server_message(response: httpx.Response) -> str:
    """Return the node's reason for an error: `detail` of a JSON body, or the text."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("detail", "error", "message"):
            if data.get(key):
                return str(data[key])
    return response.text[:300] or response.reason_phrase


def _decode(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError as error:
        raise LabError(f"{what}: response is not JSON ({error}): "
                       f"{response.text[:200]!r}") from error


def _parse(model: type[_M], data: Any, what: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise LabError(f"{what}: malformed {model.__name__}: {_describe(error)}") from error


def _describe(error: ValidationError) -> str:
    """Summarise a validation error as 'where: what' pairs (the first five)."""
    parts = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
             for e in error.errors()[:5]]
    if error.error_count() > 5:
        parts.append(f"... and {error.error_count() - 5} more")
    return "; ".join(parts)
