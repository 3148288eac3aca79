"""A lab that is a liquid handler (or a person) and a plate reader, joined by two folders.

``submit`` lays a batch out on plates and writes, per plate, a worklist CSV
and the plate map (JSON) into the outbox; someone fills the plates, reads
them, and drops the reader's exports into the inbox. ``poll`` and
``collect`` look at the inbox: each export is matched to its plate (by the
plate id in the file or its name), quality-checked by the plate's Z', mapped
back through the plate map and normalised against the plate's controls.

Files leave the inbox once looked at: ingested ones to ``inbox/done/``, the
others to ``inbox/quarantine/`` beside a ``<name>.reason.txt``. What becomes
of each file's content is kept by its SHA-256, so a file dropped twice is
ingested once.

Behaviours chosen:

- Submitting a batch already accepted (the same experiment ids and
  candidates, e.g. resent after a crash) returns that job's receipt and
  rewrites its outbox files identically: never a second plate. A batch that
  overlaps an earlier job in any other way is refused (`LabRejected`, 409).
- A plate below `min_z_prime` is rejected and NOT ingested: the export goes
  to quarantine with the reason, `collect` returns one `RejectedResult`, and
  the plate's experiments stay pending. A Z' failure is the assay's, not the
  perturbations': failing them would close experiments whose re-read plate
  could then not be taken. Re-read or re-run the plate and drop the new
  export; it is ingested like any other. `job_timeout_s` (or a cancel)
  bounds the wait.
- A file that cannot be read, names no plate of this lab, or names a plate
  already read, cancelled or timed out, is quarantined with the reason and
  comes back once as a `RejectedResult`.
- `collect` returns each result once per adapter instance (a new one, e.g.
  after a restart, delivers them all again; the loop keys them by experiment
  and replicate). Rejections are handed out once, ever: the quarantine
  folder keeps the file and its reason in any case.
- One inbox per lab: a file for another lab's plate is foreign here.
- No retries: the folders are local or a mounted share; one that cannot be
  written raises `LabUnavailable` and the loop's next run tries again.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from adapters._text import clip
from adapters.base import (
    BatchRequest,
    JobProgress,
    JobStatus,
    LabRejected,
    LabUnavailable,
    MeasurementResult,
    RejectedResult,
    Submission,
)
from adapters.plates.inbox import DONE, QUARANTINE, move_into, plate_in_name, settled_files
from adapters.plates.layout import PlateMap, Sample, plan_plates, plates_needed
from adapters.plates.readers import ReaderFile, UnreadableFile, read_export
from adapters.plates.readout import evaluate_plate
from adapters.plates.settings import PlateFolderSettings
from adapters.plates.state import (
    FolderJob,
    FolderState,
    LabLock,
    PlateState,
    Rejection,
    load_state,
    save_state,
    write_atomically,
)
from adapters.plates.worklist import worklist_csv

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class PlateFolderLab:
    """Plates out through the outbox, reader exports in through the inbox.

    Args:
        settings: The lab's settings (folders, plate format, controls, QC).
        clock: Seconds since the epoch; injectable for tests of timeouts and settling.
    """

    def __init__(self, settings: PlateFolderSettings, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.RLock()
        self._delivered: set[tuple[str, int, str]] = set()
        self._state_path = settings.state_folder / "plates.json"
        with self._locked():
            load_state(self._state_path)  # a broken state file is said now, not mid-run

    # -- the LabAdapter protocol ------------------------------------------

    def submit(self, batch: BatchRequest) -> Submission:
        """Lay a batch out on plates, write its worklists and plate maps; return the receipt.

        Raises:
            LabRejected: If the batch overlaps an earlier job other than by being
                exactly it (409), or does not fit the plates (422).
            LabUnavailable: If the outbox or the state cannot be written.
        """
        with self._locked():
            state = load_state(self._state_path)
            job = _find_job(batch, state)
            if job is None:
                job = self._plan(batch, state.n_jobs + 1)
                self._write_outbox(job)
                state.jobs[job.job_id] = job
                state.n_jobs += 1
                self._save(state)
            else:
                self._write_outbox(job)  # a crash may have left them half written
            return Submission(job_id=job.job_id, n_accepted=len(job.experiments))

    def poll(self, job_id: str) -> JobProgress:
        """Read what the inbox holds, then say how far the job is (plates and wells read).

        Raises:
            LabRejected: If the job is unknown (404).
        """
        with self._locked():
            state = self._scan()
            return _progress(self._job(state, job_id), self._is_timed_out)

    def collect(self, job_id: str) -> list[MeasurementResult | RejectedResult]:
        """Read what the inbox holds; return the job's new results and any new rejections.

        Raises:
            LabRejected: If the job is unknown (404).
        """
        with self._locked():
            state = self._scan()
            job = self._job(state, job_id)
            out: list[MeasurementResult | RejectedResult] = []
            for plate in job.plates:
                for result in plate.results:
                    key = (result.experiment_id, result.replicate, result.status.value)
                    if key not in self._delivered:
                        self._delivered.add(key)
                        out.append(result)
            fresh = [r for r in state.rejections if not r.is_delivered]
            if fresh:
                for rejection in fresh:
                    rejection.is_delivered = True
                    out.append(RejectedResult(payload={"file": rejection.file},
                                              reason=rejection.reason))
                self._save(state)
            return out

    def cancel(self, job_id: str) -> None:
        """Withdraw the job's plates not read yet; a note says so in the outbox.

        Raises:
            LabRejected: If the job is unknown (404).
        """
        with self._locked():
            state = load_state(self._state_path)
            job = self._job(state, job_id)
            if job.is_cancelled or all(p.is_over for p in job.plates):
                return
            job.is_cancelled = True
            self._save(state)
            for plate in job.plates:
                if not plate.is_over:
                    self._write(self.settings.outbox / f"{plate.plate.plate_id}.CANCELLED.txt",
                                f"plate {plate.plate.plate_id} of job {job_id} was cancelled; "
                                "do not run it. An export of it dropped in the inbox is "
                                "quarantined.\n")

    # -- for people and for adapters built on this one ---------------------

    def plates(self, job_id: str) -> list[PlateMap]:
        """Return the plate maps of a job.

        Raises:
            LabRejected: If the job is unknown (404).
        """
        with self._locked():
            return [p.plate for p in self._job(load_state(self._state_path), job_id).plates]

    def plate_status(self, job_id: str) -> dict[str, str]:
        """Return what became of each plate of a job: open, read, failed or cancelled.

        Raises:
            LabRejected: If the job is unknown (404).
        """
        with self._locked():
            job = self._job(load_state(self._state_path), job_id)
            return {p.plate.plate_id: "read" if p.read_file else "failed" if p.failure
                    else "cancelled" if job.is_cancelled else "open" for p in job.plates}

    def fail_plate(self, job_id: str, plate_id: str, reason: str) -> None:
        """Close a plate that will never be read (e.g. its robot run failed).

        Its experiments come back from `collect` as failed results with the reason.
        A plate already read is left as it is.
        """
        with self._locked():
            state = load_state(self._state_path)
            for plate in self._job(state, job_id).plates:
                if plate.plate.plate_id == plate_id and not plate.is_over:
                    plate.failure = reason
                    plate.results = [
                        MeasurementResult(experiment_id=eid, status="failed",
                                          candidate_id=_candidate(plate.plate, eid),
                                          error=f"plate {plate_id}: {reason}")
                        for eid in plate.plate.experiment_ids()]
                    self._save(state)

    # -- planning and the outbox -------------------------------------------

    def _plan(self, batch: BatchRequest, n_job: int) -> FolderJob:
        s = self.settings
        job_id = _UNSAFE.sub("-", f"{batch.campaign}-r{batch.round}-j{n_job}")
        try:
            n_plates = plates_needed(len(batch.experiments), n_wells=s.plate_wells,
                                     n_replicates=s.n_replicates, n_positive=s.n_positive,
                                     n_negative=s.n_negative, skip_edges=s.skip_edge_wells)
            plates = plan_plates(
                [Sample(experiment_id=e.experiment_id, candidate_id=e.candidate_id)
                 for e in batch.experiments],
                plate_ids=[f"{job_id}-p{k + 1}" for k in range(n_plates)],
                n_wells=s.plate_wells, n_replicates=s.n_replicates,
                positive=s.positive_controls, n_positive=s.n_positive,
                negative=s.negative_controls, n_negative=s.n_negative,
                skip_edges=s.skip_edge_wells, seed=s.seed)
        except ValueError as error:
            raise LabRejected(f"the batch cannot be plated: {error}", status=422,
                              detail=str(error)) from None
        return FolderJob(job_id=job_id, campaign=batch.campaign, round=batch.round,
                         submitted_at=self._clock(), experiments=list(batch.experiments),
                         plates=[PlateState(plate=p) for p in plates])

    def _write_outbox(self, job: FolderJob) -> None:
        for plate in job.plates:
            pid = plate.plate.plate_id
            self._write(self.settings.outbox / f"{pid}.worklist.csv",
                        worklist_csv(plate.plate, volume_ul=self.settings.volume_ul))
            self._write(self.settings.outbox / f"{pid}.platemap.json", json.dumps(
                {"job_id": job.job_id, "campaign": job.campaign, "round": job.round,
                 "normalisation": self.settings.normalisation,
                 "read_back": f"drop the reader's export of plate {pid} in "
                              f"{self.settings.inbox}, with '{pid}' in its name or as its "
                              "'Plate ID' line",
                 **plate.plate.model_dump(mode="json")}, indent=1))

    def _write(self, path: Path, text: str) -> None:
        try:
            if not path.exists() or path.read_text() != text:
                write_atomically(path, text)
        except OSError as error:
            raise LabUnavailable(f"cannot write {path} ({type(error).__name__}: "
                                 f"{clip(str(error), 120)}); check the folder is there and "
                                 "writable, then run again") from None

    def _save(self, state: FolderState) -> None:
        try:
            save_state(self._state_path, state)
        except OSError as error:
            raise LabUnavailable(f"cannot save the plate lab's state to {self._state_path} "
                                 f"({clip(str(error), 120)}); run again when it is "
                                 "writable") from None

    # -- the inbox ----------------------------------------------------------

    def _scan(self) -> FolderState:
        """Take every settled file out of the inbox; return the state afterwards."""
        state = load_state(self._state_path)
        limit = self.settings.max_file_bytes
        for path, size in settled_files(self.settings.inbox, settle_s=self.settings.settle_s):
            if size > limit:
                self._reject(state, path, None,
                             f"{path.name} has {size} bytes, more than max_file_bytes={limit}")
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue  # gone or locked by its writer: the next look takes it
            self._take(state, path, data)
        return state

    def _take(self, state: FolderState, path: Path, data: bytes) -> None:
        digest = hashlib.sha256(data).hexdigest()
        if digest in state.seen:  # the same content again: ingested (or refused) once
            move_into(path, self.settings.inbox / DONE, suffix=".duplicate")
            return
        try:
            read = read_export(data, value_column=self.settings.value_column)
        except UnreadableFile as error:
            self._reject(state, path, digest, f"{path.name}: {error}")
            return
        found = self._plate_of(state, read, path.name)
        if isinstance(found, str):
            self._reject(state, path, digest, found)
            return
        job, plate = found
        verdict = evaluate_plate(plate.plate, read, file_name=path.name,
                                 min_z_prime=self.settings.min_z_prime,
                                 normalisation=self.settings.normalisation)
        if not verdict.is_accepted:
            plate.rejections.append(verdict.reason or "rejected")
            self._reject(state, path, digest, verdict.reason or "rejected")
            return
        plate.read_file, plate.read_hash = path.name, digest
        plate.z_prime, plate.n_read, plate.results = verdict.z_prime, verdict.n_read, \
            verdict.results
        state.seen[digest] = f"ingested as plate {plate.plate.plate_id}"
        self._save(state)  # then move: a crash between leaves a duplicate, not a loss
        move_into(path, self.settings.inbox / DONE)

    def _plate_of(self, state: FolderState, read: ReaderFile,
                  name: str) -> tuple[FolderJob, PlateState] | str:
        plates = {p.plate.plate_id: (job, p) for job in state.jobs.values() for p in job.plates}
        plate_id = read.plate_id or plate_in_name(name, plates)
        if plate_id is None or plate_id not in plates:
            named = f"names plate '{clip(plate_id, 60)}'" if plate_id else \
                "names no plate (no plate column, no 'Plate ID' line, no plate id in its name)"
            return (f"{name} {named}, not one of this lab's; foreign files are not read "
                    "(put the plate id in the file name or a 'Plate ID:' line)")
        job, plate = plates[plate_id]
        if plate.read_file is not None:
            return (f"{name}: plate {plate_id} was already read from {plate.read_file}; a "
                    "plate is ingested once")
        if job.is_cancelled or plate.failure is not None or self._is_timed_out(job):
            why = "cancelled" if job.is_cancelled else plate.failure or "timed out"
            return f"{name}: plate {plate_id} is closed ({clip(why, 120)}); not ingested"
        return job, plate

    def _reject(self, state: FolderState, path: Path, digest: str | None, reason: str) -> None:
        reason = clip(reason, 500)
        if digest is not None:
            state.seen[digest] = f"quarantined: {reason}"
        state.rejections.append(Rejection(file=path.name, reason=reason))
        self._save(state)
        moved = move_into(path, self.settings.inbox / QUARANTINE)
        if moved is not None:
            try:
                moved.with_name(moved.name + ".reason.txt").write_text(reason + "\n")
            except OSError:
                pass  # the reason is in the state and goes to the loop's quarantine too

    # -- helpers -----------------------------------------------------------

    def _is_timed_out(self, job: FolderJob) -> bool:
        limit = self.settings.job_timeout_s
        return limit is not None and self._clock() - job.submitted_at > limit

    def _job(self, state: FolderState, job_id: str) -> FolderJob:
        try:
            return state.jobs[job_id]
        except KeyError:
            detail = f"unknown job '{job_id}'"
            raise LabRejected(f"{detail}; this plate lab (state {self._state_path}) never "
                              "accepted it", status=404, detail=detail) from None

    def _locked(self) -> LabLock:
        return LabLock(self._lock, self.settings.state_folder)


def _find_job(batch: BatchRequest, state: FolderState) -> FolderJob | None:
    """Return the job this exact batch became, None if new; refuse a partial overlap (409)."""
    asked = {e.experiment_id: e for e in batch.experiments}
    for job in state.jobs.values():
        had = {e.experiment_id: e for e in job.experiments}
        shared = asked.keys() & had.keys()
        if not shared:
            continue
        if had == asked:
            return job
        detail = (f"experiment ids {sorted(shared)[:3]} were already submitted in job "
                  f"'{job.job_id}' with another batch")
        raise LabRejected(f"{detail}; resubmit exactly that batch or use new ids",
                          status=409, detail=detail)
    return None


def _progress(job: FolderJob, is_timed_out: Callable[[FolderJob], bool]) -> JobProgress:
    n_total = len(job.experiments)
    done = {r.experiment_id for p in job.plates if p.is_over for r in p.results}
    n_plates, n_over = len(job.plates), sum(p.is_over for p in job.plates)
    n_wells = sum(len(p.plate.wells) for p in job.plates)
    n_read = sum(p.n_read for p in job.plates)
    n_rejected = sum(len(p.rejections) for p in job.plates)
    if job.is_cancelled:
        status = JobStatus.CANCELLED
    elif n_over == n_plates:
        accepted = any(p.read_file for p in job.plates)
        status = JobStatus.DONE if accepted else JobStatus.FAILED
    elif is_timed_out(job):
        status = JobStatus.FAILED
    else:
        status = JobStatus.RUNNING if (n_over or n_rejected) else JobStatus.QUEUED
    detail = (f"{sum(bool(p.read_file) for p in job.plates)} of {n_plates} plates read, "
              f"{n_read} of {n_wells} wells")
    reasons = [reason for p in job.plates for reason in p.rejections]
    if reasons:
        detail += f"; {len(reasons)} read(s) rejected, the last: {reasons[-1]}"
    return JobProgress(job_id=job.job_id, status=status, n_total=n_total,
                       n_done=len(done), detail=clip(detail, 400))


def _candidate(plate: PlateMap, experiment_id: str) -> str:
    return next(w.candidate_id for w in plate.wells if w.experiment_id == experiment_id)
