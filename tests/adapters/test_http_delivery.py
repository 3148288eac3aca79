"""Tests of how `HttpLab.collect` reads a delivery: item by item, and within limits."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from adapters import HttpLab, MeasurementResult, RejectedResult, SimulatedLab
from adapters.base import PAYLOAD_CHARS
from adapters.testing import FakeLabApp

from .conftest import LOOKUP

ALL = list(LOOKUP)


def _lab(app, **kwargs) -> HttpLab:
    client = httpx.Client(transport=httpx.MockTransport(app), base_url="http://lab.test")
    return HttpLab(client, sleep=lambda s: None, **kwargs)


def _split(delivery):
    good = [r for r in delivery if isinstance(r, MeasurementResult)]
    bad = [r for r in delivery if isinstance(r, RejectedResult)]
    assert len(good) + len(bad) == len(delivery)
    return good, bad


def _sending(body: bytes | object, **headers: str):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return lambda request: httpx.Response(200, content=content, headers=headers)


def test_one_bad_value_costs_only_itself(lookup, make_batch):
    """The incident: 8 results, one with value "high"; the 7 good ones are kept."""
    def spoil(results):
        results[3]["value"] = "high"
        return results + [results[0] | {"experiment_id": "extra"}]  # 8 in all

    app = FakeLabApp(SimulatedLab(lookup), tamper=spoil)
    lab = _lab(app)
    job = lab.submit(make_batch(ALL + ["KO:UNKNOWN"])).job_id
    good, (bad,) = _split(lab.collect(job))
    assert len(good) == 7
    assert bad.reason.startswith("value: Input should be a valid number")
    assert "\n" not in bad.reason
    assert bad.payload["value"] == "high" and bad.payload["experiment_id"].endswith("-003")


@pytest.mark.parametrize(("item", "reason"), [
    ({"experiment_id": "e", "volume_ul": 5}, "volume_ul: Extra inputs are not permitted"),
    ({"value": 1.0}, "experiment_id: Field required"),
    ({"experiment_id": "e", "status": "meh"}, "status: Input should be 'ok' or 'failed'"),
    ({"experiment_id": "e", "replicate": -1}, "replicate: Input should be greater than"),
    ({"experiment_id": 5}, "experiment_id: Input should be a valid string"),
    ("e-1", "result: a JSON string, not an object"),
    (None, "result: a JSON null, not an object"),
    ([{"experiment_id": "e"}], "result: a JSON list, not an object"),
])
def test_each_bad_item_is_rejected_naming_the_field(item, reason):
    lab = _lab(_sending([{"experiment_id": "ok", "value": 1.0}, item]))
    good, (bad,) = _split(lab.collect("j"))
    assert [r.experiment_id for r in good] == ["ok"]
    assert bad.reason.startswith(reason) and bad.payload == item


def test_several_bad_fields_share_one_line():
    lab = _lab(_sending([{"experiment_id": "e", "value": "x", "replicate": "y", "z": 1}]))
    (bad,) = lab.collect("j")
    assert bad.reason.count(";") == 2 and "\n" not in bad.reason
    assert bad.reason.startswith("value: ")


@pytest.mark.parametrize(("body", "reason"), [
    (b"<html>oops</html>", "results are not JSON"),
    (b"", "results are not JSON"),
    (b"\xff\xfe\x00garbage", "results are not JSON"),
    (b"[" * 100_000, "results are not JSON"),
    ({"results": [{"experiment_id": "e"}]}, "results are a JSON object, not a list"),
    ("done", "results are a JSON string, not a list"),
    (3, "results are a JSON number, not a list"),
])
def test_an_unreadable_body_is_one_rejection_with_its_text(body, reason):
    lab = _lab(_sending(body))
    (bad,) = lab.collect("j")
    assert isinstance(bad, RejectedResult) and bad.reason.startswith(reason)
    assert isinstance(bad.payload, str) and len(bad.payload) <= PAYLOAD_CHARS
    assert "JSON list of results" in bad.reason


def test_a_huge_item_is_kept_cut_short():
    item = {"experiment_id": "e", "value": "x" * 1_000_000}
    (bad,) = _lab(_sending([item])).collect("j")
    assert bad.reason.startswith("value: Input should be a valid number")
    assert isinstance(bad.payload, str) and len(bad.payload) == PAYLOAD_CHARS
    assert bad.payload.startswith('{"experiment_id": "e"')


def test_a_huge_field_name_does_not_make_a_huge_reason():
    (bad,) = _lab(_sending([{"experiment_id": "e", "k\n" * 50_000: 1}])).collect("j")
    assert len(bad.reason) < 600 and "\n" not in bad.reason


def test_a_delivery_past_the_size_limit_is_not_read():
    results = [{"experiment_id": f"e{i}", "value": 1.0} for i in range(2000)]
    body = json.dumps(results).encode()
    chunks_sent = []

    def streaming(request):
        def chunks():
            for start in range(0, len(body), 1000):
                chunks_sent.append(start)
                yield body[start:start + 1000]
        return httpx.Response(200, content=chunks())

    lab = _lab(streaming, max_response_bytes=10_000)
    (bad,) = lab.collect("j")
    assert bad.reason.startswith("delivery of more than 10000 bytes exceeds "
                                 "max_response_bytes=10000; not read")
    assert len(chunks_sent) == 11  # stopped just past the limit
    assert bad.payload == body[:PAYLOAD_CHARS].decode()


def test_a_declared_size_past_the_limit_is_not_read_at_all():
    results = [{"experiment_id": "e"}] * 1000
    lab = _lab(_sending(results), max_response_bytes=100)
    (bad,) = lab.collect("j")
    n_bytes = len(json.dumps(results))
    assert bad.reason.startswith(f"delivery of {n_bytes} bytes exceeds max_response_bytes=100")
    assert bad.payload == ""


def test_the_size_limit_counts_decompressed_bytes():
    body = gzip.compress(json.dumps([{"experiment_id": "e"}] * 10_000).encode())
    lab = _lab(_sending(body, **{"Content-Encoding": "gzip"}), max_response_bytes=50_000)
    (bad,) = lab.collect("j")
    assert "exceeds max_response_bytes=50000" in bad.reason


def test_a_body_that_cannot_be_decompressed_is_rejected():
    def app(request):  # streamed, so the body is decoded as it is read
        return httpx.Response(200, content=iter([b"not gzip at all"]),
                              headers={"Content-Encoding": "gzip"})

    lab = _lab(app)
    (bad,) = lab.collect("j")
    assert bad.reason.startswith("the lab's answer cannot be decoded")


def test_a_poll_past_the_size_limit_raises(make_batch):
    from adapters import LabError

    lab = _lab(_sending({"job_id": "j", "status": "done", "n_total": 1, "n_done": 1,
                         } | {"x": "y" * 500}), max_response_bytes=100)
    with pytest.raises(LabError, match=r"GET /batches/j: delivery of \d+ bytes exceeds"):
        lab.poll("j")


def test_items_past_max_results_are_one_rejection():
    results = [{"experiment_id": f"e{i}"} for i in range(25)]
    delivery = _lab(_sending(results), max_results=10).collect("j")
    good, (bad,) = _split(delivery)
    assert [r.experiment_id for r in good] == [f"e{i}" for i in range(10)]
    assert bad.reason.startswith("delivery has 25 results, more than max_results=10; "
                                 "the 15 past the cap were not read")
    assert bad.payload == results[10:]


def test_an_incident_sized_junk_delivery_is_refused_quickly():
    """100k junk results (~110 MB) once took 369 s and 983 MB; now one rejection."""
    junk = b"[" + b",".join([b'{"experiment_id": "e", "junk": "' + b"x" * 1000 + b'"}'] * 2000) \
        + b"]"
    body_parts = 50  # 50 x 2.0 MB = about 100 MB, never all in memory

    def streaming(request):
        return httpx.Response(200, content=(junk for _ in range(body_parts)))

    (bad,) = _lab(streaming).collect("j")
    assert "exceeds max_response_bytes=10000000" in bad.reason
