"""The one retry policy of a lab call: what is transient, and how long to wait.

Transient: connection errors, timeouts, HTTP 429 and every 5xx. Anything else
is final at once. The wait before retry ``k`` (from 0) is the backoff
``backoff_s * 2**k`` capped at `MAX_BACKOFF_S`, with "equal jitter" (between
half and all of it, so many clients retrying do not arrive together), and
never shorter than a ``Retry-After`` the lab sent. A lab asking for a wait
longer than `MAX_RETRY_AFTER_S` is not waited for inside one call: the call
gives up and says when to come back.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

T = TypeVar("T")
MAX_BACKOFF_S = 30.0
MAX_RETRY_AFTER_S = 60.0


def is_transient_status(status_code: int) -> bool:
    """Return whether an HTTP status is worth retrying (429 or 5xx)."""
    return status_code == 429 or status_code >= 500


def is_transient_error(error: httpx.RequestError) -> bool:
    """Return whether a transport error is worth retrying (not a bad URL or scheme)."""
    return isinstance(error, httpx.TransportError) and not isinstance(
        error, httpx.UnsupportedProtocol)


def backoff_delay(backoff_s: float, attempt: int, retry_after_s: float | None,
                  jitter: float) -> float:
    """Return the wait before retry `attempt + 1`.

    Args:
        backoff_s: The first backoff.
        attempt: Index of the attempt that just failed (0 for the first).
        retry_after_s: What the lab asked for, if anything.
        jitter: A fraction in [0, 1]; the backoff is scaled by ``0.5 + 0.5 * jitter``.
    """
    delay = min(MAX_BACKOFF_S, backoff_s * 2.0**attempt) * (0.5 + 0.5 * jitter)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return delay


def retry_after_s(response: httpx.Response, now: float | None = None) -> float | None:
    """Return the wait a ``Retry-After`` header asks for (seconds or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Transient(Exception):
    """One try failed in a way worth another: `problem` says how (one line),
    `retry_after_s` is what the lab asked to wait, if anything."""

    def __init__(self, problem: str, retry_after_s: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after_s = retry_after_s


class Exhausted(Exception):
    """Every try failed transiently; the caller says what that means for its lab."""

    def __init__(self, problem: str, n_tries: int, waited_s: float) -> None:
        super().__init__(problem)
        self.problem = problem
        self.n_tries = n_tries
        self.waited_s = waited_s

    @property
    def summary(self) -> str:
        """The last problem, and how long the policy tried."""
        s = "s" if self.n_tries > 1 else ""
        return (f"{self.problem} (gave up after {self.n_tries} attempt{s} over "
                f"{self.waited_s:.1f} s of backoff)")


def with_retries(attempt: Callable[[int], T], *, tries: int, backoff_s: float,
                 sleep: Callable[[float], None], jitter: Callable[[], float]) -> T:
    """Run `attempt(k)` for k = 0, 1, ... until it returns, at most `tries` times.

    `attempt` raises `Transient` for a failure worth another try (anything
    else passes through at once); between tries the policy waits
    `backoff_delay`. Every lab adapter's calls go through this one loop.

    Raises:
        Exhausted: when all `tries` failed transiently.
    """
    problem, waited_s = "", 0.0
    for k in range(tries):
        try:
            return attempt(k)
        except Transient as failure:
            problem, asked = failure.problem, failure.retry_after_s
        if k < tries - 1:
            delay = backoff_delay(backoff_s, k, asked, jitter())
            sleep(delay)
            waited_s += delay
    raise Exhausted(problem, tries, waited_s)
