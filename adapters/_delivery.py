"""Read a delivery of results item by item: what validates is kept, the rest rejected.

Pure functions from the bytes a lab sent to `MeasurementResult` and
`RejectedResult`; `http_lab.py` does the I/O. Nothing here raises on bad
input: whatever a lab sends comes back as values.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from adapters._text import clip, field_errors
from adapters.base import PAYLOAD_CHARS, MeasurementResult, RejectedResult

Delivery = list[MeasurementResult | RejectedResult]


def read_results(body: bytes, *, max_results: int) -> Delivery:
    """Return one result per item of a JSON list body, rejecting what does not validate.

    The first `max_results` items are validated one by one; the items past
    them come back as one `RejectedResult` that counts them. A body that is
    not JSON or not a list comes back as one `RejectedResult` holding its text.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:  # RecursionError: nesting too deep
        return [RejectedResult(payload=preview_text(body),
                               reason=f"results are not JSON ({clip(str(error), 120)}); "
                                      "the lab must send a JSON list of results")]
    if not isinstance(data, list):
        return [RejectedResult(payload=preview_text(body),
                               reason=f"results are a JSON {_json_type(data)}, not a list; "
                                      "the lab must send a JSON list of results")]
    delivery: Delivery = [read_result(item) for item in data[:max_results]]
    if len(data) > max_results:
        n_over = len(data) - max_results
        delivery.append(RejectedResult(
            payload=preview(data[max_results:]),
            reason=f"delivery has {len(data)} results, more than max_results={max_results}; "
                   f"the {n_over} past the cap were not read: ask the lab to deliver in "
                   "parts, or raise max_results"))
    return delivery


def read_result(item: Any) -> MeasurementResult | RejectedResult:
    """Return the item as a `MeasurementResult`, or rejected with a one-line reason."""
    if not isinstance(item, dict):
        return RejectedResult(payload=preview(item),
                              reason=f"result: a JSON {_json_type(item)}, not an object")
    try:
        return MeasurementResult.model_validate(item)
    except ValidationError as error:
        return RejectedResult(payload=preview(item),
                              reason=clip("; ".join(field_errors(error, root="result")), 500))


def too_large(head: bytes, *, limit: int, n_declared: int | None = None) -> RejectedResult:
    """Return the rejection of a delivery larger than `limit` bytes (not parsed).

    Args:
        head: What was read before stopping (its start is kept as the payload).
        limit: The `max_response_bytes` passed.
        n_declared: The size the lab declared (Content-Length), if it did.
    """
    size = f"of {n_declared} bytes" if n_declared is not None else f"of more than {limit} bytes"
    return RejectedResult(
        payload=preview_text(head),
        reason=f"delivery {size} exceeds max_response_bytes={limit}; not read: ask the "
               "lab to deliver in parts, or raise max_response_bytes")


def preview(item: Any) -> Any:
    """Return the item itself if its JSON is short, else its JSON text cut short."""
    try:
        text = json.dumps(item)
    except (ValueError, TypeError, RecursionError):
        text = repr(item)
    return item if len(text) <= PAYLOAD_CHARS else text[:PAYLOAD_CHARS]


def preview_text(body: bytes) -> str:
    """Return the start of a body as text (undecodable bytes replaced)."""
    return body[:4 * PAYLOAD_CHARS].decode("utf-8", errors="replace")[:PAYLOAD_CHARS]


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean",
             int: "number", float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
