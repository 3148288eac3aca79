"""Property test: whatever a lab delivers, `HttpLab.collect` never raises and loses nothing.

Thousands of generated deliveries (wrong types, extra or missing fields, huge
strings, nested junk, non-lists, bytes that are not JSON) go through
`httpx.MockTransport` into `HttpLab.collect`. Each item of a JSON list comes
back as exactly one `MeasurementResult` or `RejectedResult`, in order; valid
items are never rejected; anything else is one `RejectedResult`.
"""

from __future__ import annotations

import json

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import HttpLab, MeasurementResult, RejectedResult
from adapters.base import PAYLOAD_CHARS

FIELDS = ["experiment_id", "candidate_id", "value", "replicate", "status", "error"]

texts = st.text(max_size=30)
huge_texts = st.integers(5_000, 300_000).map(lambda n: "x" * n)
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**6, 10**6)
scalars = st.none() | st.booleans() | numbers | texts | huge_texts \
    | st.integers(-10**40, 10**40)
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(texts, inner, max_size=4), max_leaves=12)

valid_items = st.fixed_dictionaries(
    {"experiment_id": texts},
    optional={"candidate_id": st.none() | texts,
              "value": st.none() | numbers,
              "replicate": st.integers(0, 10**6),
              "status": st.sampled_from(["ok", "failed"]),
              "error": st.none() | texts | huge_texts})


@st.composite
def malformed_items(draw):
    """A valid item spoiled one way, or junk that is not an item at all."""
    item = draw(valid_items)
    how = draw(st.sampled_from(["wrong type", "extra field", "missing id", "junk"]))
    if how == "wrong type":
        field = draw(st.sampled_from(FIELDS))
        item[field] = draw(junk)
    elif how == "extra field":
        item[draw(texts.filter(lambda k: k not in FIELDS))] = draw(junk)
    elif how == "missing id":
        item.pop("experiment_id")
    else:
        return draw(junk)
    return item


deliveries = st.lists(st.tuples(st.booleans(), valid_items) | st.tuples(st.just(False),
                                                                          malformed_items()),
                      max_size=12)
unreadable_bodies = (
    st.binary(max_size=300).map(lambda b: b"<" + b)  # never JSON
    | st.binary(max_size=300)
    | junk.filter(lambda value: not isinstance(value, list)).map(
        lambda value: json.dumps(value).encode())
    | st.integers(1, 5_000).map(lambda n: b"[" * n + b"{")
)


def _collect(body: bytes, **kwargs) -> list[MeasurementResult | RejectedResult]:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    lab = HttpLab(httpx.Client(transport=transport, base_url="http://lab.test"),
                  sleep=lambda s: None, **kwargs)
    return lab.collect("j")


def _check_rejected(rejected: RejectedResult) -> None:
    assert rejected.reason and "\n" not in rejected.reason and len(rejected.reason) < 1000
    if isinstance(rejected.payload, str):
        assert len(rejected.payload) <= PAYLOAD_CHARS
    json.dumps(rejected.payload)  # JSON-able


@settings(max_examples=1000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(items=deliveries)
def test_every_item_comes_back_once_and_valid_ones_are_kept(items):
    body = json.dumps([item for _, item in items]).encode()
    delivery = _collect(body)
    assert len(delivery) == len(items)
    for (is_valid, item), result in zip(items, delivery):
        assert isinstance(result, MeasurementResult | RejectedResult)
        if is_valid:
            assert isinstance(result, MeasurementResult)
            expected = MeasurementResult.model_validate(item)
            assert result.model_dump_json() == expected.model_dump_json()
        if isinstance(result, RejectedResult):
            _check_rejected(result)
            if len(json.dumps(item)) <= PAYLOAD_CHARS:
                assert json.dumps(result.payload) == json.dumps(item)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=unreadable_bodies)
def test_a_body_that_is_not_a_list_is_one_rejection(body):
    try:
        is_list = isinstance(json.loads(body), list)
    except (ValueError, RecursionError):
        is_list = False
    delivery = _collect(body)
    if not is_list:
        (rejected,) = delivery
        assert isinstance(rejected, RejectedResult)
        _check_rejected(rejected)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(valid_items | malformed_items(), max_size=30),
       max_results=st.integers(1, 10), max_response_bytes=st.integers(1, 20_000))
def test_the_caps_give_one_rejection_each(items, max_results, max_response_bytes):
    body = json.dumps(items).encode()
    delivery = _collect(body, max_results=max_results, max_response_bytes=max_response_bytes)
    if len(body) > max_response_bytes:
        (rejected,) = delivery
        assert "exceeds max_response_bytes" in rejected.reason
        return
    n_read = min(len(items), max_results)
    assert len(delivery) == n_read + (len(items) > max_results)
    if len(items) > max_results:
        assert delivery[-1].reason.startswith(f"delivery has {len(items)} results")
    for result in delivery:
        if isinstance(result, RejectedResult):
            _check_rejected(result)
