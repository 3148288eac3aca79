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
