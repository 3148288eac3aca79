"""One-line messages: clip text, and say what a validation error found, field by field."""

from __future__ import annotations

import re

from pydantic import ValidationError

_SPACE = re.compile(r"\s+")


def clip(text: str, n_chars: int) -> str:
    """Return `text` on one line (runs of whitespace made one space), at most `n_chars` long."""
    line = _SPACE.sub(" ", text).strip()
    return line if len(line) <= n_chars else line[:n_chars - 3] + "..."


def field_errors(error: ValidationError, *, root: str = "body") -> list[str]:
    """Return one ``field: what is wrong`` line per failing field, first error of each.

    pydantic reports a union once per member; only the first message of a
    field is kept, so each field gets one line. Neither the input nor any part
    of it appears, except the names of the fields (clipped), so a secret given
    in a wrong place is not echoed.
    """
    lines: dict[str, str] = {}
    for entry in error.errors(include_input=False, include_url=False):
        where = ".".join(clip(str(part), 60) for part in entry["loc"][:1]) or root
        lines.setdefault(where, f"{where}: {clip(entry['msg'], 200)}")
    return list(lines.values())


def check_http_url(value: str, example: str, *, credentials: str | None = None) -> str:
    """Check a lab's address: an http(s) URL with a host and no user:password in it.

    Args:
        value: the URL as given.
        example: a URL to show when `value` is not one.
        credentials: what to say instead when the URL holds credentials (None:
            credentials are not checked).

    Raises:
        ValueError: one line saying what is wrong (pydantic names the field).
    """
    import httpx

    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        raise ValueError(f"not a URL; give e.g. {example}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"must be an http:// or https:// URL with a host, e.g. {example}")
    if credentials is not None and url.userinfo:
        raise ValueError(f"must not hold credentials{credentials}")
    return value
