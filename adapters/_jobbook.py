"""What an adapter dispatched, by idempotency key, saved so a crash forgets nothing.

A lab that speaks someone else's protocol (SiLA 2, MADSci) does not know
loopwell's experiment ids, so the adapter keeps the book: for each batch, its
idempotency key (a hash of the campaign, round and experiments), the lab's id
for the job once it is known, and the experiments in it. The book is written
(atomically) before a batch is sent and again once the lab has answered, so a
process killed at any point finds, on the next run, either the job id (and
sends nothing) or a batch marked as being sent (and sends it again under the
same key, which a lab that honours keys recognises).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from adapters.base import BatchRequest, LabRejected


def batch_key(batch: BatchRequest) -> str:
    """Return the idempotency key of a batch: the same experiments give the same key."""
    content = json.dumps([batch.campaign, batch.round,
                          sorted((e.experiment_id, e.candidate_id) for e in batch.experiments)])
    return "lw-" + hashlib.sha256(content.encode()).hexdigest()[:32]


class JobBook:
    """The jobs one adapter dispatched, kept in memory and (with `path`) in a JSON file.

    Each entry is a dict: ``key``, ``job_id`` (None while being sent),
    ``experiments`` (``[[experiment_id, candidate_id], ...]``), ``cancelled``,
    and whatever the adapter adds under ``extra``.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.RLock()
        self._entries: dict[str, dict[str, Any]] = {}  # key -> entry
        if self.path is not None and self.path.exists():
            try:
                self._entries = json.loads(self.path.read_text())["jobs"]
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise ValueError(f"state_file: cannot read {self.path} ({type(error).__name__}); "
                                 "restore it or point state_file elsewhere (the jobs it "
                                 "listed would be sent again)") from None

    def entry_for(self, batch: BatchRequest) -> dict[str, Any] | None:
        """Return the entry of this exact batch, if it was sent (or being sent) before.

        Raises:
            LabRejected: (409) If an experiment of the batch belongs to another batch.
        """
        key = batch_key(batch)
        with self._lock:
            if key in self._entries:
                return dict(self._entries[key])
            ids = {e.experiment_id for e in batch.experiments}
            for entry in self._entries.values():
                reused = sorted(ids & {eid for eid, _ in entry["experiments"]})
                if reused:
                    detail = (f"experiment ids already sent in another batch "
                              f"(job {entry['job_id']}): {', '.join(reused[:5])}")
                    raise LabRejected(f"{detail}; a batch is sent again only whole and unchanged",
                                      status=409, detail=detail)
        return None

    def reserve(self, batch: BatchRequest) -> dict[str, Any]:
        """Record that `batch` is about to be sent (no job id yet); return its entry."""
        entry = {"key": batch_key(batch), "job_id": None, "cancelled": False, "extra": {},
                 "experiments": [[e.experiment_id, e.candidate_id] for e in batch.experiments]}
        with self._lock:
            self._entries[entry["key"]] = entry
            self._save()
        return dict(entry)

    def settle(self, key: str, job_id: str, **extra: Any) -> None:
        """Record the lab's job id for the batch with `key` (and any extra facts)."""
        with self._lock:
            entry = self._entries[key]
            entry["job_id"] = job_id
            entry["extra"].update(extra)
            self._save()

    def job(self, job_id: str) -> dict[str, Any] | None:
        """Return the entry of a job, or None if this book never saw it."""
        with self._lock:
            for entry in self._entries.values():
                if entry["job_id"] == job_id:
                    return dict(entry)
        return None

    def note(self, job_id: str, **extra: Any) -> None:
        """Record extra facts about a job (saved)."""
        with self._lock:
            for entry in self._entries.values():
                if entry["job_id"] == job_id:
                    entry["extra"].update(extra)
            self._save()

    def mark_cancelled(self, job_id: str) -> None:
        """Record that a job was cancelled."""
        with self._lock:
            for entry in self._entries.values():
                if entry["job_id"] == job_id:
                    entry["cancelled"] = True
            self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump({"version": 1, "jobs": self._entries}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
