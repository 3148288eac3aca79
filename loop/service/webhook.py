"""The outgoing webhook: tell a URL that a batch is ready, signed with HMAC-SHA256.

The body is JSON; the header `X-Loopwell-Signature: sha256=<hex>` is the
HMAC-SHA256 of the exact body bytes under the shared secret, so a receiver
checks `hmac.compare_digest(header, sign(secret, body))`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

HEADER = "X-Loopwell-Signature"


def sign(secret: str, body: bytes) -> str:
    """Return the signature header value of `body`: `sha256=<hex digest>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_signed(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` under `secret` (for receivers)."""
    return header is not None and hmac.compare_digest(header, sign(secret, body))


def send(url: str, event: dict[str, Any], secret: str | None,
         client: httpx.Client | None = None, timeout_s: float = 10.0) -> int:
    """POST `event` as JSON to `url`, signed when a secret is set; return the status code."""
    body = json.dumps(event, sort_keys=True).encode()
    headers = {"Content-Type": "application/json"}
    if secret:
        headers[HEADER] = sign(secret, body)
    if client is not None:
        return client.post(url, content=body, headers=headers).status_code
    with httpx.Client(timeout=timeout_s) as own:
        return own.post(url, content=body, headers=headers).status_code
