"""The maths of the simulated lab: measurements, ready times, job progress.

Pure functions over the lab's state; `simulated.py` adds the clock and the
file. Every random draw is derived from a hash of the seed and the experiment
id (and replicate), so a lab restarted mid-campaign, or asked the same thing
by another process, gives exactly the values an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from statistics import NormalDist
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from adapters.base import (
    BatchRequest,
    ExperimentRequest,
    JobProgress,
    JobStatus,
    LabRejected,
    MeasurementResult,
    ResultStatus,
    Submission,
)

_STANDARD_NORMAL = NormalDist()


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SimExperiment(_State):
    """One accepted experiment, measured at submit and released at `ready_at`."""

    request: ExperimentRequest
    ready_at: float
    is_cancelled: bool = False
    results: list[MeasurementResult]


class SimJob(_State):
    """One accepted batch."""

    job_id: str
    campaign: str
    round: int
    submitted_at: float
    experiments: list[SimExperiment]


class LabState(_State):
    """Everything the simulated lab keeps, as written to its state file."""

    version: Literal[1] = 1
    n_jobs: int = Field(default=0, ge=0)
    jobs: dict[str, SimJob] = Field(default_factory=dict)


def draw_unit(*parts: object) -> float:
    """Return a uniform number in (0, 1) fixed by `parts` (same parts, same number)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2.0**64


def draw_normal(*parts: object) -> float:
    """Return a standard normal number fixed by `parts`."""
    return _STANDARD_NORMAL.inv_cdf(draw_unit(*parts))


def ready_offset(experiment_id: str, *, seed: int, latency_s: float,
                 partial_fraction: float) -> float:
    """Return how long after submission an experiment's results are ready.

    A share `partial_fraction` of experiments (chosen by hash) waits the whole
    `latency_s`; the others are ready at times spread uniformly over
    `[0, latency_s)`, so a job delivers about `(1 - partial_fraction) * t /
    latency_s` of its results by time `t`, and the rest when it completes.
    """
    u = draw_unit(seed, "ready", experiment_id)
    early_share = 1.0 - partial_fraction
    if u >= early_share:
        return latency_s
    return latency_s * u / early_share


def measure(request: ExperimentRequest, lookup: Mapping[str, float], *, seed: int,
            noise_sd: float, failure_rate: float,
            n_replicates: int) -> list[MeasurementResult]:
    """Return what the lab measures for one experiment.

    The value is the lookup's value for the candidate plus `noise_sd` times a
    normal draw fixed by (seed, experiment id, replicate). Unknown candidates
    and simulated failures (drawn per experiment id) give one failed result.
    """
    eid, cid = request.experiment_id, request.candidate_id
    if cid not in lookup:
        return [_failed(eid, cid, f"unknown candidate '{cid}'")]
    if draw_unit(seed, "failure", eid) < failure_rate:
        return [_failed(eid, cid, f"simulated failure (failure_rate={failure_rate})")]
    truth = float(lookup[cid])
    return [
        MeasurementResult(experiment_id=eid, candidate_id=cid, replicate=replicate,
                          value=truth + _noise(noise_sd, seed, eid, replicate))
        for replicate in range(n_replicates)
    ]


def _noise(noise_sd: float, seed: int, experiment_id: str, replicate: int) -> float:
    if noise_sd == 0.0:
        return 0.0
    return noise_sd * draw_normal(seed, "noise", experiment_id, replicate)


def _failed(experiment_id: str, candidate_id: str, error: str) -> MeasurementResult:
    return MeasurementResult(experiment_id=experiment_id, candidate_id=candidate_id,
                             status=ResultStatus.FAILED, error=error)


def find_receipt(batch: BatchRequest, state: LabState) -> Submission | None:
    """Return the receipt of an earlier job holding exactly this batch, if any.

    Returns None when no experiment of the batch was submitted before.

    Raises:
        LabRejected: (409) If only part of the batch was submitted before, the parts lie
            in several jobs, or an experiment id was submitted with other content.
    """
    owners = {e.request.experiment_id: (job, e.request)
              for job in state.jobs.values() for e in job.experiments}
    seen = [e for e in batch.experiments if e.experiment_id in owners]
    if not seen:
        return None
    for request in seen:
        if owners[request.experiment_id][1] != request:
            detail = (f"experiment '{request.experiment_id}' was already submitted with "
                      "different content; ids are never reused")
            raise LabRejected(detail, status=409, detail=detail)
    job_ids = sorted({owners[e.experiment_id][0].job_id for e in seen})
    job = owners[seen[0].experiment_id][0]
    if len(job_ids) > 1 or len(seen) != len(batch.experiments) \
            or len(job.experiments) != len(batch.experiments):
        ids = sorted(e.experiment_id for e in seen)
        detail = (f"experiments {ids} were already submitted in job(s) {job_ids}; "
                  "resubmit exactly that batch or only new ids")
        raise LabRejected(detail, status=409, detail=detail)
    return Submission(job_id=job.job_id, n_accepted=len(job.experiments))


def job_progress(job: SimJob, now: float) -> JobProgress:
    """Return how far a job is at time `now`.

    `n_total` counts every accepted experiment, `n_done` those whose results
    are ready (failed ones included, cancelled ones never). The status is
    queued until the first result, running until the last live one, then
    cancelled (if any experiment was), failed (if every one failed) or done.
    """
    live = [e for e in job.experiments if not e.is_cancelled]
    n_done = sum(e.ready_at <= now for e in live)
    if n_done < len(live):
        status = JobStatus.RUNNING if n_done else JobStatus.QUEUED
    elif len(live) < len(job.experiments):
        status = JobStatus.CANCELLED
    elif all(r.status is ResultStatus.FAILED for e in live for r in e.results):
        status = JobStatus.FAILED
    else:
        status = JobStatus.DONE
    return JobProgress(job_id=job.job_id, status=status,
                       n_total=len(job.experiments), n_done=n_done)


def ready_results(job: SimJob, now: float) -> Iterable[MeasurementResult]:
    """Yield every result of a job that is ready at time `now`."""
    for experiment in job.experiments:
        if not experiment.is_cancelled and experiment.ready_at <= now:
            yield from experiment.results


def cancel_pending(job: SimJob, now: float) -> int:
    """Mark the experiments not ready at `now` cancelled; return how many were."""
    pending = [e for e in job.experiments
               if not e.is_cancelled and e.ready_at > now]
    for experiment in pending:
        experiment.is_cancelled = True
    return len(pending)
