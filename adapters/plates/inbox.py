"""The inbox: which files are ready to read, where they go after, and which plate a name names.

Files whose name starts with ``.`` or ends like a download in progress
(``.tmp``, ``.part``, ``.crdownload``, ``~``) are never taken, nor are files
younger than the settle time: a reader may still be writing them. A file
taken leaves the inbox for ``done/`` or ``quarantine/`` under a name not
taken yet, so nothing is overwritten.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

DONE, QUARANTINE = "done", "quarantine"
_PARTIAL = (".tmp", ".part", ".partial", ".crdownload", "~", ".lock")


def settled_files(inbox: Path, *, settle_s: float) -> Iterator[tuple[Path, int]]:
    """Yield (path, size) of each file of the inbox ready to be read, by name."""
    if not inbox.is_dir():
        return
    now = time.time()  # file times are wall-clock times
    for path in sorted(inbox.iterdir()):
        if path.name.startswith(".") or path.name.lower().endswith(_PARTIAL):
            continue
        try:
            if not path.is_file():
                continue
            info = path.stat()
        except OSError:
            continue  # gone meanwhile
        if now - info.st_mtime >= settle_s:
            yield path, info.st_size


def plate_in_name(name: str, plates: dict[str, object]) -> str | None:
    """Return the longest plate id the file name holds as a whole token."""
    hits = [pid for pid in plates
            if re.search(rf"(?<![A-Za-z0-9]){re.escape(pid)}(?![A-Za-z0-9])", name)]
    return max(hits, key=len, default=None)


def move_into(path: Path, folder: Path, suffix: str = "") -> Path | None:
    """Move a file into `folder` under a name not taken yet; return where it went."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / (path.name + suffix)
        k = 1
        while target.exists():
            k += 1
            target = folder / f"{path.stem}-{k}{path.suffix}{suffix}"
        path.replace(target)
        return target
    except OSError:
        return None
