"""Tests of `adapters.http_lab` against `adapters.testing.FakeLabApp`."""

from __future__ import annotations

import json

import httpx
import pytest

from adapters import (
    HttpLab,
    JobStatus,
    LabAdapter,
    LabError,
    LabRejected,
    LabUnavailable,
    ResultStatus,
    SimulatedLab,
)
from adapters.testing import FakeLabApp

from .conftest import LOOKUP

ALL = list(LOOKUP)


class Sleeps(list):
    """An injectable `sleep` that only records how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _http_lab(app, *, base_url: str = "http://lab.test", **kwargs) -> tuple[HttpLab, Sleeps]:
    sleeps = Sleeps()
    client = httpx.Client(transport=httpx.MockTransport(app), base_url=base_url)
    return HttpLab(client, sleep=sleeps, jitter=lambda: 1.0, **kwargs), sleeps


def test_full_cycle_through_the_fake_node(lookup, make_batch, clock):
    sim = SimulatedLab(lookup, latency_s=100, partial_fraction=0.0, clock=clock)
    lab, sleeps = _http_lab(FakeLabApp(sim))
    assert isinstance(lab, LabAdapter)

    batch = make_batch(ALL + ["KO:UNKNOWN"])
    receipt = lab.submit(batch)
    assert receipt.n_accepted == 7 and sim.n_submitted == 7
    assert lab.poll(receipt.job_id).status is JobStatus.QUEUED

    clock.advance(100)
    progress = lab.poll(receipt.job_id)
    assert (progress.status, progress.n_total, progress.n_done) == (JobStatus.DONE, 7, 7)
    results = lab.collect(receipt.job_id)
    ok = {r.candidate_id: r.value for r in results if r.status is ResultStatus.OK}
    assert ok == LOOKUP
    (failed,) = [r for r in results if r.status is ResultStatus.FAILED]
    assert failed.error == "unknown candidate 'KO:UNKNOWN'"

    assert lab.submit(batch) == receipt  # idempotent over the wire too
    lab.cancel(receipt.job_id)  # finished: a no-op
    assert lab.poll(receipt.job_id).status is JobStatus.DONE
    assert sleeps == []


def test_cancel_over_http(make_batch, clock):
    sim = SimulatedLab({"x": 1.0}, latency_s=10, clock=clock)
    lab, _ = _http_lab(FakeLabApp(sim))
    job = lab.submit(make_batch(["x", "x"])).job_id
    lab.cancel(job)
    clock.advance(20)
    assert lab.poll(job).status is JobStatus.CANCELLED
    assert lab.collect(job) == []


def test_base_path_under_a_base_url(lookup, make_batch):
    app = FakeLabApp(SimulatedLab(lookup), base_path="/lab/api/v1")
    lab, _ = _http_lab(app, base_url="http://node.test/lab", base_path="api/v1/")
    job = lab.submit(make_batch(["KO:CD5"])).job_id
    assert lab.collect(job)[0].value == LOOKUP["KO:CD5"]
    assert [r.url.path for r in app.requests] == [
        "/lab/api/v1/batches", f"/lab/api/v1/batches/{job}/results"]


def test_transient_failures_are_retried_then_succeed(lookup, make_batch):
    app = FakeLabApp(SimulatedLab(lookup), fail_next=2, disconnect_next=1)
    lab, sleeps = _http_lab(app, retries=3, backoff_s=0.5)
    receipt = lab.submit(make_batch(ALL))
    assert receipt.n_accepted == len(ALL)
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(app.requests) == 4


def test_retries_exhausted_raise(lookup, make_batch):
    app = FakeLabApp(SimulatedLab(lookup), fail_next=100)
    lab, sleeps = _http_lab(app, retries=2, backoff_s=0.1)
    with pytest.raises(LabUnavailable,
                       match=r"HTTP 503: injected failure \(gave up after 3 attempts"):
        lab.poll("sim-000001")
    assert len(app.requests) == 3 and len(sleeps) == 2


def test_connection_errors_exhausted_raise(lookup):
    app = FakeLabApp(SimulatedLab(lookup), disconnect_next=100)
    lab, _ = _http_lab(app, retries=1)
    with pytest.raises(LabUnavailable, match="ConnectError"):
        lab.collect("sim-000001")


def test_a_lost_answer_to_submit_does_not_measure_twice(lookup, make_batch):
    inner = FakeLabApp(SimulatedLab(lookup))
    sim = inner.lab
    n_calls = 0

    def app(request: httpx.Request) -> httpx.Response:
        nonlocal n_calls
        n_calls += 1
        response = inner(request)
        if n_calls == 1:  # the node accepted, but the answer never arrived
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    lab, _ = _http_lab(app)
    receipt = lab.submit(make_batch(ALL))
    assert n_calls == 2 and sim.n_submitted == len(ALL) and sim.job_ids() == [receipt.job_id]


def test_retry_after_is_honoured():
    answers = [httpx.Response(429, headers={"Retry-After": "7"}, json={"detail": "slow down"}),
               httpx.Response(200, json={"job_id": "j", "status": "running",
                                         "n_total": 2, "n_done": 1})]
    lab, sleeps = _http_lab(lambda request: answers.pop(0), backoff_s=0.5)
    assert lab.poll("j").n_done == 1
    assert sleeps == [7.0]


def test_unknown_job_is_a_404_without_retry(lookup):
    app = FakeLabApp(SimulatedLab(lookup))
    lab, sleeps = _http_lab(app)
    with pytest.raises(LabRejected, match=r"HTTP 404: unknown job 'nope'"):
        lab.poll("nope")
    assert len(app.requests) == 1 and sleeps == []


def test_a_refused_batch_quotes_the_node(lookup, make_batch):
    lab, _ = _http_lab(FakeLabApp(SimulatedLab(lookup)))
    lab.submit(make_batch(ALL))
    with pytest.raises(LabRejected, match="HTTP 409: .*already submitted"):
        lab.submit(make_batch(ALL + ["KO:CD5"]))


def test_the_node_refuses_extra_fields_in_requests(lookup, make_batch):
    app = FakeLabApp(SimulatedLab(lookup))
    body = json.loads(make_batch(ALL).model_dump_json())
    body["experiments"][0]["volume_ul"] = 50
    response = app(httpx.Request("POST", "http://lab.test/batches", json=body))
    assert response.status_code == 422
    assert "volume_ul" in response.json()["detail"]
    assert app.lab.n_submitted == 0


def test_a_response_that_is_not_json_raises(lookup):
    app = FakeLabApp(SimulatedLab(lookup), garble_next=1)
    lab, _ = _http_lab(app)
    with pytest.raises(LabError, match=r"GET /batches/j: the lab's answer is not a valid "
                                       r"JobProgress \(body: Invalid JSON"):
        lab.poll("j")


@pytest.mark.parametrize(("method", "body", "message"), [
    ("submit", {"job_id": "j"}, r"not a valid Submission \(n_accepted: Field required"),
    ("submit", {"job_id": "j", "n_accepted": 1, "eta": 5},
     r"not a valid Submission \(eta: Extra inputs are not permitted"),
    ("poll", {"job_id": "j", "status": "baking", "n_total": 1, "n_done": 0},
     r"not a valid JobProgress \(status: Input should be"),
    ("poll", {"job_id": "other", "status": "done", "n_total": 1, "n_done": 1},
     r"answered for job 'other', not 'j'"),
])
def test_malformed_answers_raise_naming_the_problem(make_batch, method, body, message):
    lab, _ = _http_lab(lambda request: httpx.Response(200, json=body))
    argument = make_batch(["x"]) if method == "submit" else "j"
    with pytest.raises(LabError, match=message):
        getattr(lab, method)(argument)


def test_job_ids_are_percent_encoded():
    seen = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return httpx.Response(204)

    lab, _ = _http_lab(app)
    lab.cancel("plate 3/B")
    assert seen == [b"/batches/plate%203%2FB"]


def test_close_closes_the_client():
    lab, _ = _http_lab(lambda request: httpx.Response(204))
    with lab:
        pass
    assert lab.client.is_closed


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="retries"):
        HttpLab(httpx.Client(), retries=-1)
