"""What a plate-folder lab keeps on disk, so that a restart (even kill -9) loses nothing.

One JSON file holds every job: its experiments (the idempotency keys), its
plate maps, each plate's reads (accepted or rejected), and the content hash
of every file taken from the inbox. It is written atomically (a crash leaves
the old file or the new one) under a lock file, so two processes driving the
same lab (a run and the service) never interleave their updates.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters._files import write_atomically

from adapters._text import clip
from adapters.base import ExperimentRequest, LabError, MeasurementResult
from adapters.plates.layout import PlateMap

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: one process per lab
    fcntl = None  # type: ignore[assignment]


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PlateState(_State):
    """One plate of a job and what became of its reads."""

    plate: PlateMap
    read_file: str | None = None     # the export ingested (None: not read yet)
    read_hash: str | None = None
    z_prime: float | None = None
    n_read: int = 0                  # filled wells the ingested export had a number for
    rejections: list[str] = Field(default_factory=list)   # reasons of reads not ingested
    failure: str | None = None       # the plate was lost (e.g. its robot run failed)
    results: list[MeasurementResult] = Field(default_factory=list)

    @property
    def is_over(self) -> bool:
        return self.read_file is not None or self.failure is not None


class FolderJob(_State):
    """One submitted batch: its experiments and its plates."""

    job_id: str
    campaign: str
    round: int
    submitted_at: float
    experiments: list[ExperimentRequest]
    plates: list[PlateState]
    is_cancelled: bool = False


class Rejection(_State):
    """A file that was not ingested, to hand to the loop once (it is kept in quarantine)."""

    file: str
    reason: str
    is_delivered: bool = False


class FolderState(_State):
    """Everything the adapter keeps."""

    version: Literal[1] = 1
    n_jobs: int = 0
    jobs: dict[str, FolderJob] = Field(default_factory=dict)
    seen: dict[str, str] = Field(default_factory=dict)   # content hash -> what became of it
    rejections: list[Rejection] = Field(default_factory=list)


def load_state(path: Path) -> FolderState:
    """Return the state saved at `path` (an empty one if there is none).

    Raises:
        LabError: If the file exists but cannot be read (it is left as it is).
    """
    if not path.exists():
        return FolderState()
    try:
        return FolderState.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError) as error:
        raise LabError(f"cannot read the plate lab's state file {path} "
                       f"({clip(str(error), 200)}); restore it from a backup, or move it "
                       "away to start afresh (jobs in it are then forgotten)") from None


def save_state(path: Path, state: FolderState) -> None:
    """Write the state atomically."""
    write_atomically(path, json.dumps(state.model_dump(mode="json"), indent=1))


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the lab's lock file for the duration (other processes wait)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


class LabLock:
    """The adapter's thread lock, then its lock file (other processes): one holder at a time."""

    def __init__(self, lock: threading.RLock, folder: Path) -> None:
        self._lock, self._folder = lock, folder
        self._held: contextlib.AbstractContextManager[None] | None = None

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._held = locked(self._folder)
            self._held.__enter__()
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._held is not None:
                self._held.__exit__(*exc_info)
        finally:
            self._lock.release()
