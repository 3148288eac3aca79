"""A simulated lab that answers from a lookup table of real measurements.

The caller builds the lookup from a published dataset (candidate id -> the
value really measured); the lab answers each experiment with that value, plus
optional noise, after an optional latency, sometimes only in part, sometimes
twice, sometimes not at all, the way a real lab does. Every draw is fixed by
the seed and the experiment id, so an interrupted campaign resumed against a
new `SimulatedLab` sees exactly what an uninterrupted one would.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters._simulation import (
    LabState,
    SimExperiment,
    SimJob,
    cancel_pending,
    find_receipt,
    job_progress,
    measure,
    ready_offset,
    ready_results,
)
from adapters._text import clip, field_errors
from adapters._files import write_atomically
from adapters.base import (
    BatchRequest,
    ExperimentRequest,
    JobProgress,
    LabError,
    LabRejected,
    MeasurementResult,
    RejectedResult,
    Submission,
)


class SimulatedLabSettings(BaseModel):
    """The knobs of a simulated lab a user may set (see `SimulatedLab`).

    The lookup table and the state file are not settings: the loop gives them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    noise_sd: float = Field(0.0, ge=0)
    latency_s: float = Field(0.0, ge=0)
    failure_rate: float = Field(0.0, ge=0, le=1)
    partial_fraction: float = Field(1.0, ge=0, le=1)
    duplicate_deliveries: bool = False
    seed: int = 0
    n_replicates: int = Field(1, ge=1)


class SimulatedLab:
    """A lab whose measurements are looked up, not made.

    Each experiment is measured once, when it is submitted: its results are
    fixed then (and persisted with `state_path`) and released at their ready
    time. Behaviours chosen:

    - Unknown candidate ids are accepted; each comes back as one failed result
      with error ``unknown candidate '<id>'``.
    - Re-submission is idempotent: submitting exactly a batch already accepted
      returns that job's receipt and measures nothing again. A batch that
      overlaps earlier jobs in any other way raises `LabRejected` (409), and so does an
      experiment id reused with different content.
    - `collect` returns each ready result once per `SimulatedLab` instance (a
      new instance, e.g. after a crash, delivers them all again), or on every
      call with `duplicate_deliveries=True`.
    - `cancel` withdraws the experiments not ready yet; they never return.
      Cancelling a finished job is a no-op.
    - A job is reported done (or failed) only once every experiment of it has
      its results ready: values, or one failed result with an `error` (an
      unknown candidate, a simulated failure). `partial_fraction` changes when
      results arrive, never whether: a done job's experiments all have a
      result, so a caller that collects after seeing done gets every one. Only
      a cancelled job has experiments without results (n_total - n_done of
      them), and it is reported cancelled.
    - `collect` never rejects anything: it returns `MeasurementResult`s only.

    Args:
        lookup: The value really measured for each candidate id.
        noise_sd: Standard deviation of Gaussian noise added to each value.
        latency_s: Seconds (by `clock`) from submission until a job is done.
        failure_rate: Probability that an experiment fails (drawn per id).
        partial_fraction: Share of a job's experiments held back until the job
            is done; the others are ready at times spread over `[0,
            latency_s)`. 1.0 delivers a job all at once.
        duplicate_deliveries: Whether `collect` repeats results already given.
        seed: Seed of every draw (noise, failures, ready times).
        state_path: JSON file the jobs are saved to after each submit and
            cancel, and loaded from when it exists.
        clock: Seconds since some epoch; wall-clock time by default, so ready
            times survive a restart.
        n_replicates: Results (replicates 0..n-1) per successful experiment.
    """

    def __init__(
        self,
        lookup: Mapping[str, float],
        *,
        noise_sd: float = 0.0,
        latency_s: float = 0.0,
        failure_rate: float = 0.0,
        partial_fraction: float = 1.0,
        duplicate_deliveries: bool = False,
        seed: int = 0,
        state_path: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        n_replicates: int = 1,
    ) -> None:
        try:
            SimulatedLabSettings(noise_sd=noise_sd, latency_s=latency_s,
                                 failure_rate=failure_rate, partial_fraction=partial_fraction,
                                 duplicate_deliveries=duplicate_deliveries, seed=seed,
                                 n_replicates=n_replicates)
        except ValidationError as error:
            raise ValueError("; ".join(field_errors(error))) from None
        self._lookup = lookup  # by reference: the caller's table, not a copy
        self.noise_sd = float(noise_sd)
        self.latency_s = float(latency_s)
        self.failure_rate = float(failure_rate)
        self.partial_fraction = float(partial_fraction)
        self.is_duplicating = bool(duplicate_deliveries)
        self.seed = int(seed)
        self.n_replicates = int(n_replicates)
        self.state_path = Path(state_path) if state_path is not None else None
        self._clock = clock
        self._lock = threading.RLock()
        self._delivered: set[tuple[str, int]] = set()
        self._state = _load_state(self.state_path)

    @classmethod
    def from_settings(cls, settings: SimulatedLabSettings, *, lookup: Mapping[str, float],
                      state_path: str | Path | None = None,
                      clock: Callable[[], float] = time.time) -> SimulatedLab:
        """Make a lab from its settings, over `lookup`, persisted at `state_path`."""
        return cls(lookup, state_path=state_path, clock=clock, **settings.model_dump())

    # -- the LabAdapter protocol ------------------------------------------

    def submit(self, batch: BatchRequest) -> Submission:
        """Accept a batch, measure it, and return the receipt.

        Raises:
            LabRejected: If the batch overlaps earlier jobs other than by being
                exactly one of them (see the class docstring).
        """
        with self._lock:
            receipt = find_receipt(batch, self._state)
            if receipt is not None:
                return receipt
            now = self._clock()
            job_id = f"sim-{self._state.n_jobs + 1:06d}"
            self._state.jobs[job_id] = SimJob(
                job_id=job_id, campaign=batch.campaign, round=batch.round,
                submitted_at=now,
                experiments=[self._accept(request, now) for request in batch.experiments],
            )
            self._state.n_jobs += 1
            self._save()
            return Submission(job_id=job_id, n_accepted=len(batch.experiments))

    def poll(self, job_id: str) -> JobProgress:
        """Return how far a job is.

        Raises:
            LabRejected: If the job is unknown (status 404).
        """
        with self._lock:
            return job_progress(self._job(job_id), self._clock())

    def collect(self, job_id: str) -> list[MeasurementResult | RejectedResult]:
        """Return the job's results ready now (new ones only, unless duplicating).

        Every item is a `MeasurementResult`: a simulated lab sends nothing malformed.

        Raises:
            LabRejected: If the job is unknown (status 404).
        """
        with self._lock:
            ready = list(ready_results(self._job(job_id), self._clock()))
            if self.is_duplicating:
                return ready
            fresh = [r for r in ready if (r.experiment_id, r.replicate) not in self._delivered]
            self._delivered.update((r.experiment_id, r.replicate) for r in fresh)
            return fresh

    def cancel(self, job_id: str) -> None:
        """Withdraw the job's experiments that are not ready yet.

        Raises:
            LabRejected: If the job is unknown (status 404).
        """
        with self._lock:
            if cancel_pending(self._job(job_id), self._clock()):
                self._save()

    # -- what tests check -------------------------------------------------

    @property
    def lookup(self) -> Mapping[str, float]:
        """Return the table the lab answers from (the caller's own mapping)."""
        return self._lookup

    @property
    def n_submitted(self) -> int:
        """Count the experiments accepted so far, over every process."""
        return len(self.submitted_ids())

    def submitted_ids(self) -> list[str]:
        """List the accepted experiment ids, in submission order."""
        with self._lock:
            return [e.request.experiment_id for job in self._state.jobs.values()
                    for e in job.experiments]

    def job_ids(self) -> list[str]:
        """List the ids of the jobs accepted so far, in submission order."""
        with self._lock:
            return list(self._state.jobs)

    # -- internals --------------------------------------------------------

    def _accept(self, request: ExperimentRequest, now: float) -> SimExperiment:
        offset = ready_offset(request.experiment_id, seed=self.seed,
                              latency_s=self.latency_s,
                              partial_fraction=self.partial_fraction)
        results = measure(request, self._lookup, seed=self.seed, noise_sd=self.noise_sd,
                          failure_rate=self.failure_rate, n_replicates=self.n_replicates)
        return SimExperiment(request=request, ready_at=now + offset, results=results)

    def _job(self, job_id: str) -> SimJob:
        try:
            return self._state.jobs[job_id]
        except KeyError:
            detail = f"unknown job '{job_id}'"
            raise LabRejected(f"{detail}; this simulated lab never accepted it (is its "
                              "state file the one the job was submitted with?)",
                              status=404, detail=detail) from None

    def _save(self) -> None:
        if self.state_path is not None:
            write_atomically(self.state_path,
                              json.dumps(self._state.model_dump(mode="json"), indent=1))


def _load_state(path: Path | None) -> LabState:
    if path is None or not path.exists():
        return LabState()
    try:
        return LabState.model_validate(json.loads(path.read_text()))
    except (ValueError, ValidationError) as error:
        raise LabError(f"cannot read the simulated lab's state file {path} "
                       f"({clip(str(error), 200)}); move it away to start the lab afresh") \
            from error

