"""Tests of the one retry policy of `HttpLab`: what is retried, how often, how long."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from adapters import HttpLab, LabError, LabRejected, LabUnavailable, SimulatedLab
from adapters._retry import MAX_BACKOFF_S, backoff_delay, retry_after_s
from adapters.testing import FakeLabApp

from .conftest import LOOKUP

CALLS = [("submit", None), ("poll", "j"), ("collect", "j"), ("cancel", "j")]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _lab(app, *, retries: int = 3, backoff_s: float = 0.5, jitter: float = 1.0):
    sleeps = Sleeps()
    client = httpx.Client(transport=httpx.MockTransport(app), base_url="http://lab.test")
    return HttpLab(client, retries=retries, backoff_s=backoff_s, sleep=sleeps,
                   jitter=lambda: jitter), sleeps


def _call(lab, method, argument, make_batch):
    return getattr(lab, method)(make_batch(["KO:CD5"]) if argument is None else argument)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422])
@pytest.mark.parametrize(("method", "argument"), CALLS)
def test_a_4xx_is_tried_exactly_once(status, method, argument, make_batch):
    app = FakeLabApp(SimulatedLab(LOOKUP), fail_next=100, fail_status=status)
    lab, sleeps = _lab(app)
    with pytest.raises(LabRejected) as raised:
        _call(lab, method, argument, make_batch)
    assert len(app.requests) == 1 and sleeps == []
    error = raised.value
    assert (error.status, error.detail) == (status, "injected failure")
    assert f"HTTP {status}: injected failure; sending it again will not help" in str(error)
    assert "\n" not in str(error)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
@pytest.mark.parametrize(("method", "argument"), CALLS)
def test_a_persistent_transient_failure_is_tried_retries_plus_one_times(
        status, method, argument, make_batch):
    app = FakeLabApp(SimulatedLab(LOOKUP), fail_next=100, fail_status=status)
    lab, sleeps = _lab(app, retries=3)
    with pytest.raises(LabUnavailable) as raised:
        _call(lab, method, argument, make_batch)
    assert len(app.requests) == 4 and raised.value.n_attempts == 4
    assert sleeps == [0.5, 1.0, 2.0]
    message = str(raised.value)
    assert "\n" not in message and "(gave up after 4 attempts over 3.5 s of backoff)" in message
    assert message.endswith("check it is up, then try again later")


def test_no_retries_means_one_try():
    app = FakeLabApp(SimulatedLab(LOOKUP), fail_next=100, fail_status=500)
    lab, sleeps = _lab(app, retries=0)
    with pytest.raises(LabUnavailable, match=r"gave up after 1 attempt "):
        lab.poll("j")
    assert len(app.requests) == 1 and sleeps == []


def test_both_kinds_are_lab_errors():
    assert issubclass(LabRejected, LabError) and issubclass(LabUnavailable, LabError)
    assert not issubclass(LabRejected, LabUnavailable)


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout,
                                   httpx.ReadTimeout, httpx.ReadError,
                                   httpx.RemoteProtocolError])
def test_connection_errors_and_timeouts_are_retried(error):
    n_calls = []

    def app(request):
        n_calls.append(request)
        raise error("down", request=request)

    lab, _ = _lab(app, retries=2)
    with pytest.raises(LabUnavailable, match=f"{error.__name__}: down"):
        lab.poll("j")
    assert len(n_calls) == 3


def test_a_bad_url_scheme_is_final():
    lab = HttpLab(httpx.Client(base_url="ftp://lab.test"), sleep=lambda s: None)
    with pytest.raises(LabError, match="UnsupportedProtocol.*check the lab's base_url") as raised:
        lab.poll("j")
    assert not isinstance(raised.value, LabUnavailable)


def test_retry_after_is_honoured_over_a_shorter_backoff(make_batch):
    app = FakeLabApp(SimulatedLab(LOOKUP), fail_next=2, fail_status=429, retry_after="3")
    lab, sleeps = _lab(app)
    assert lab.submit(make_batch(["KO:CD5"])).n_accepted == 1
    assert sleeps == [3.0, 3.0]


def test_a_long_retry_after_gives_up_at_once_saying_when():
    app = FakeLabApp(SimulatedLab(LOOKUP), fail_next=100, fail_status=503, retry_after="3600")
    lab, sleeps = _lab(app)
    with pytest.raises(LabUnavailable, match="retry after 3600 s: try again then") as raised:
        lab.poll("j")
    assert raised.value.retry_after_s == 3600.0
    assert len(app.requests) == 1 and sleeps == []


def test_retry_after_as_an_http_date():
    when = email.utils.formatdate(1_000_030.0, usegmt=True)
    response = httpx.Response(503, headers={"Retry-After": when})
    assert retry_after_s(response, now=1_000_000.0) == pytest.approx(30.0)
    assert retry_after_s(httpx.Response(503, headers={"Retry-After": "soon"})) is None
    assert retry_after_s(httpx.Response(503)) is None


def test_backoff_doubles_with_jitter_and_a_cap():
    assert [backoff_delay(0.5, k, None, 1.0) for k in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(0.5, 2, None, 0.0) == 1.0  # jitter: between half and all
    assert backoff_delay(0.5, 20, None, 1.0) == MAX_BACKOFF_S
    assert backoff_delay(0.5, 0, 7.0, 0.3) == 7.0


def test_jitter_spreads_the_waits():
    app = FakeLabApp(SimulatedLab(LOOKUP), fail_next=100, fail_status=503)
    lab, sleeps = _lab(app, retries=2, jitter=0.0)
    with pytest.raises(LabUnavailable):
        lab.poll("j")
    assert sleeps == [0.25, 0.5]


def test_a_redirect_says_to_fix_the_base_url():
    def app(request):
        return httpx.Response(301, headers={"Location": "https://new.lab/"})

    lab, _ = _lab(app)
    with pytest.raises(LabError, match=r"HTTP 301 to https://new.lab/; set the lab's base_url") \
            as raised:
        lab.poll("j")
    assert not isinstance(raised.value, LabRejected | LabUnavailable)
