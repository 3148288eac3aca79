# One concept past 300 lines: the wire protocol's documentation and its one client.
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
    experiments, failed ones included. An optional ``"detail"`` (a string)
    tells people more (``"1 of 2 plates read"``).

``GET /batches/{job_id}/results``
    Answer 200 with a JSON list of `MeasurementResult`: every result available
    so far (all of them, or only those not sent before; repeats are fine, the
    client keys results by experiment id and replicate). Send at most
    `max_results` items (50,000 by default) in at most `max_response_bytes`
    (10 MB): a node with more sends only those not sent before, so the rest
    come with the next calls (one that resends everything would never get
    past the caps)::

        [{"experiment_id": "ifng-r3-0007", "candidate_id": "KO:ZAP70",
          "value": 1.73, "replicate": 0, "status": "ok", "error": null},
         {"experiment_id": "ifng-r3-0008", "candidate_id": "KO:FOO",
          "value": null, "replicate": 0, "status": "failed",
          "error": "well B4 empty"}]

    Only `experiment_id` is required; a failed experiment is a result with
    ``"status": "failed"`` and a reason in `error`, not an HTTP error. The
    client reads the list item by item: an item that does not validate (a
    wrong type, a missing or unknown field) is returned as a `RejectedResult`
    with the reason and the others are kept; a body that is not a JSON list,
    or is larger than `max_response_bytes`, is returned as one
    `RejectedResult`. Bad results never raise.

``DELETE /batches/{job_id}``
    Cancel what has not run yet. Answer 200, 202 or 204 (any body is ignored).
    Cancelling a finished job is not an error.

Errors: answer 4xx or 5xx with ``{"detail": "<human-readable reason>"}``;
404 for an unknown job. Connection errors, timeouts, 429 and every 5xx are
transient: the client retries them (`retries` times, exponential backoff with
jitter, never sooner than a ``Retry-After`` header in seconds or as an HTTP
date) and then raises `LabUnavailable`; a ``Retry-After`` beyond a minute
makes it give up at once, saying when to come back. Any other 4xx is final:
the request is sent once and the client raises `LabRejected` with the status
and the node's `detail`. A 2xx answer that is not the expected shape raises
`LabError` (except for results, above), and so does a 3xx: redirects are not
followed (the token would go with them), the client's `base_url` is wrong.

Authentication: a bearer token (``Authorization: Bearer <token>``) read from
an environment variable or a file (`HttpLabSettings.token_env`,
`token_file`), and/or a TLS client certificate (`cert`).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from adapters._delivery import preview_text, read_results, too_large
from adapters._retry import (
    MAX_RETRY_AFTER_S,
    Exhausted,
    Transient,
    is_transient_error,
    is_transient_status,
    retry_after_s,
    with_retries,
)
from adapters._text import clip, field_errors
from adapters.base import (
    BatchRequest,
    JobProgress,
    LabError,
    LabRejected,
    LabUnavailable,
    MeasurementResult,
    RejectedResult,
    Submission,
)
from adapters.http_settings import HttpLabSettings, make_client, read_token

_M = TypeVar("_M", bound=BaseModel)
_JSON = {"Content-Type": "application/json", "Accept": "application/json"}
_ERROR_BODY_BYTES = 64_000


class _Unreadable(Exception):
    """A 2xx body that cannot be read: too large, or undecodable. Never retried."""

    def __init__(self, rejected: RejectedResult) -> None:
        super().__init__(rejected.reason)
        self.rejected = rejected


class HttpLab:
    """Drive a lab node over HTTP (see the module docstring for the protocol).

    Build it from settings with `HttpLab.from_settings`, or around a client.

    Args:
        client: The HTTP client, with the node's `base_url`, timeouts and auth.
            `close` closes it.
        base_path: Path of the node's API under the client's `base_url`.
        retries: How often a transient failure (a connection or timeout
            error, 429 or 5xx) is retried; a request is tried `retries + 1`
            times at most. The only retries of a lab call: callers must not
            add their own.
        backoff_s: Delay before the first retry; it doubles on each retry, up
            to 30 s, scaled by a jitter between 1/2 and 1.
        max_response_bytes: Largest response body read (streamed; reading stops
            past it).
        max_results: Most results validated from one delivery.
        sleep: Waits the given seconds; injectable so tests need not wait.
        jitter: Returns a fraction in [0, 1] drawn for each wait.
        secrets: Strings never to show in an error (the token), if the node echoes them.
    """

    def __init__(self, client: httpx.Client, *, base_path: str = "/", retries: int = 3,
                 backoff_s: float = 0.5, max_response_bytes: int = 10_000_000,
                 max_results: int = 50_000,
                 sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random,
                 secrets: tuple[str, ...] = ()) -> None:
        if retries < 0 or backoff_s < 0 or max_response_bytes < 1 or max_results < 1:
            raise ValueError("retries and backoff_s must be >= 0, max_response_bytes and "
                             f"max_results >= 1; got {retries}, {backoff_s}, "
                             f"{max_response_bytes}, {max_results}")
        self.client = client
        self.base_path = "/" + base_path.strip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_response_bytes = max_response_bytes
        self.max_results = max_results
        self._sleep = sleep
        self._jitter = jitter
        self._secrets = tuple(s for s in secrets if s)

    @classmethod
    def from_settings(cls, settings: HttpLabSettings, *,
                      transport: httpx.BaseTransport | None = None,
                      sleep: Callable[[float], None] = time.sleep) -> HttpLab:
        """Make an `HttpLab` with its own client (closed by `close`).

        The token is read now, from `token_env` or `token_file`.

        Raises:
            ValueError: If the token cannot be read or the TLS files loaded
                (one line naming the setting).
        """
        token = read_token(settings)
        client = make_client(settings, token, transport=transport)
        return cls(client, base_path=settings.base_path, retries=settings.retries,
                   backoff_s=settings.backoff_s,
                   max_response_bytes=settings.max_response_bytes,
                   max_results=settings.max_results, sleep=sleep,
                   secrets=(token,) if token else ())

    # -- the LabAdapter protocol ------------------------------------------

    def submit(self, batch: BatchRequest) -> Submission:
        """Hand a batch to the node and return its receipt.

        Raises:
            LabRejected: If the node refuses the batch (4xx).
            LabUnavailable: If the node stays unreachable or busy through the retries.
            LabError: If it answers something other than a `Submission`.
        """
        what, body = self._answer("POST", "batches", content=batch.model_dump_json())
        return self._parse(Submission, body, what)

    def poll(self, job_id: str) -> JobProgress:
        """Return how far a job is.

        Raises:
            LabRejected: If the job is unknown (404) or the node refuses (4xx).
            LabUnavailable: If the node stays unreachable or busy through the retries.
            LabError: If it answers something other than this job's `JobProgress`.
        """
        what, body = self._answer("GET", _job_path(job_id))
        progress = self._parse(JobProgress, body, what)
        if progress.job_id != job_id:
            raise LabError(self._redact(f"{what}: the lab answered for job "
                                        f"'{progress.job_id}', not '{job_id}'; "
                                        "report this to the lab's maintainers"))
        return progress

    def collect(self, job_id: str) -> list[MeasurementResult | RejectedResult]:
        """Return the job's results available so far (repeats possible).

        Each item is validated on its own: one that does not validate comes
        back as a `RejectedResult` with a one-line reason, beside the good
        ones. A body that is not a JSON list or is too large comes back as one
        `RejectedResult`, and items past `max_results` as one more.

        Raises:
            LabRejected: If the job is unknown (404) or the node refuses (4xx).
            LabUnavailable: If the node stays unreachable or busy through the retries.
        """
        try:
            _, body = self._call("GET", _job_path(job_id) + "/results")
        except _Unreadable as error:
            return [error.rejected]
        return read_results(body, max_results=self.max_results)

    def cancel(self, job_id: str) -> None:
        """Withdraw what has not run yet of a job.

        Raises:
            LabRejected: If the job is unknown (404) or the node refuses (4xx).
            LabUnavailable: If the node stays unreachable or busy through the retries.
        """
        self._call("DELETE", _job_path(job_id), read_body=False)

    # -- lifetime ---------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def __enter__(self) -> HttpLab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- I/O --------------------------------------------------------------

    def _answer(self, method: str, path: str, *,
                content: str | None = None) -> tuple[str, bytes]:
        """Like `_call`, for answers that must be read whole (raises `LabError` if not)."""
        try:
            return self._call(method, path, content=content)
        except _Unreadable as error:
            raise LabError(self._redact(f"{method} {self._url(path)}: {error}")) from None

    def _call(self, method: str, path: str, *, content: str | None = None,
              read_body: bool = True) -> tuple[str, bytes]:
        """Send one request under the retry policy; return (label, body).

        Raises:
            _Unreadable: If a 2xx body passes `max_response_bytes` or cannot
                be decoded (not retried).
        """
        url = self._url(path)
        what = f"{method} {url}"

        def attempt(k: int) -> tuple[str, bytes]:
            try:
                request = self.client.build_request(method, url, content=content,
                                                    headers=_JSON)
                response = self.client.send(request, stream=True)
                try:
                    if response.is_success:
                        body = self._read(response) if read_body else b""
                        return what, body
                    status = response.status_code
                    detail = _detail(_read_some(response), response.reason_phrase)
                    wait_s = retry_after_s(response)
                    location = response.headers.get("Location", "")
                finally:
                    response.close()
            except httpx.RequestError as error:
                problem = f"{type(error).__name__}: {clip(str(error), 200)}"
                if not is_transient_error(error):
                    raise LabError(self._redact(f"{what}: {problem}; check the lab's "
                                                "base_url")) from None
                raise Transient(problem) from None
            problem = f"HTTP {status}: {detail}"
            if status < 400:  # redirects are not followed: a lab node does not send them
                raise LabError(self._redact(
                    f"{what}: HTTP {status} to {location or 'nowhere'}; set the lab's "
                    "base_url to the node's own address")) from None
            if not is_transient_status(status):
                raise LabRejected(self._redact(
                    f"{what}: the lab refused the request, HTTP {status}: {detail}; "
                    "sending it again will not help, fix the request or the job id"),
                    status=status, detail=self._redact(detail)) from None
            if wait_s is not None and wait_s > MAX_RETRY_AFTER_S:
                raise LabUnavailable(self._redact(
                    f"{what}: {problem}; the lab asks to retry after {wait_s:.0f} s: "
                    "try again then"), n_attempts=k + 1, retry_after_s=wait_s)
            raise Transient(problem, wait_s)

        try:
            return with_retries(attempt, tries=self.retries + 1, backoff_s=self.backoff_s,
                                sleep=self._sleep, jitter=self._jitter)
        except Exhausted as out:
            raise LabUnavailable(self._redact(
                f"{what}: {out.summary}; the lab is unreachable or overloaded: "
                "check it is up, then try again later"), n_attempts=out.n_tries) from None

    def _url(self, path: str) -> str:
        return f"{self.base_path.rstrip('/')}/{path}"

    def _read(self, response: httpx.Response) -> bytes:
        """Read a body, stopping as soon as it passes `max_response_bytes`."""
        limit = self.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _Unreadable(too_large(b"", limit=limit, n_declared=int(declared)))
        chunks: list[bytes] = []
        n_bytes = 0
        try:
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                n_bytes += len(chunk)
                if n_bytes > limit:
                    raise _Unreadable(too_large(b"".join(chunks)[:limit], limit=limit))
        except httpx.DecodingError as error:
            raise _Unreadable(RejectedResult(
                payload=preview_text(b"".join(chunks)),
                reason=f"the lab's answer cannot be decoded ({clip(str(error), 120)}); "
                       "ask the lab's maintainers to fix its Content-Encoding")) from None
        return b"".join(chunks)

    def _parse(self, model: type[_M], body: bytes, what: str) -> _M:
        try:
            return model.model_validate_json(body)
        except ValidationError as error:
            problem = "; ".join(field_errors(error))
            raise LabError(self._redact(
                f"{what}: the lab's answer is not a valid {model.__name__} ({clip(problem, 300)}); "
                "report this to the lab's maintainers")) from None

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


# -- pure helpers -----------------------------------------------------------

def _job_path(job_id: str) -> str:
    return f"batches/{quote(job_id, safe='')}"


def _read_some(response: httpx.Response) -> bytes:
    """Read at most `_ERROR_BODY_BYTES` of an error body (enough for its detail)."""
    chunks, n_bytes = [], 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        n_bytes += len(chunk)
        if n_bytes >= _ERROR_BODY_BYTES:
            break
    return b"".join(chunks)[:_ERROR_BODY_BYTES]


def _detail(body: bytes, fallback: str) -> str:
    """Return the node's reason for an error, on one line: `detail` of a JSON body, or the text."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        for key in ("detail", "error", "message"):
            if data.get(key):
                value = data[key]
                return clip(value if isinstance(value, str) else json.dumps(value), 300)
    return clip(body.decode("utf-8", errors="replace"), 300) or fallback
