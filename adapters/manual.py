"""A lab that is people: batches are handed out, results come back later by other routes.

For campaigns driven from Python (`Campaign.ask` / `tell`) or through the
service (a lab POSTs results): `submit` only gives the batch a job id, `poll`
says it is running, `collect` has nothing, and the results arrive through
`tell` or the service's results endpoint.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from adapters.base import BatchRequest, JobProgress, JobStatus, MeasurementResult, Submission


class ManualLabSettings(BaseModel):
    """No settings: the lab's people read the batch from loopwell."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ManualLab:
    """Hand batches out; results are told, not collected."""

    def submit(self, batch: BatchRequest) -> Submission:
        return Submission(job_id=f"manual-{batch.campaign}-r{batch.round}",
                          n_accepted=len(batch.experiments))

    def poll(self, job_id: str) -> JobProgress:
        return JobProgress(job_id=job_id, status=JobStatus.RUNNING, n_total=0, n_done=0)

    def collect(self, job_id: str) -> list[MeasurementResult]:
        return []

    def cancel(self, job_id: str) -> None:
        return None
