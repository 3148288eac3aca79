# One concept past 300 lines: the adapter and its mapping of every MADSci action state.
"""A lab adapter that drives a MADSci REST node: one action per batch.

`submit` creates the node's measuring action (``measure`` by default) with the
batch's experiment ids and candidates, then starts it; the node's action id is
the job id. `poll` maps the action's status; `collect` reads the action's
result (``json_result["values"]``, one value per experiment id) into
`MeasurementResult`s, and a failed or not-ready action into one failed result
per experiment carrying the node's errors. `cancel` sends the node's
``cancel`` admin command (MADSci cancels what the node is running: there is no
per-action cancel in its REST API).

States: ``not_started`` -> queued; ``running`` and ``paused`` -> running (a
paused action resumes); ``succeeded`` -> done; ``failed`` and ``not_ready`` ->
failed; ``cancelled`` -> cancelled; ``unknown`` (the node forgot the action,
e.g. it restarted) -> running for up to `max_unknown_polls` polls in a row,
then failed with that reason.

No double dispatch: the `JobBook` (saved to `state_file`) is written before
the action is created, once the node gave its id, and once it is started. A
process killed in between finds the action id on the next run and asks the
node whether it started (its status is no longer ``unknown``) before starting
it, so an action is never started twice. Starting is split from creating for
this reason (`RestNodeClient.send_action` does both in one call).

The madsci client (`madsci.client.node.RestNodeClient`) is used with its own
retries turned off; the one retry policy is `adapters._retry`'s, after which
`LabUnavailable` is raised. madsci is imported when the adapter first talks to
the node, never by importing `adapters`.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from adapters._delivery import read_result
from adapters._jobbook import JobBook, batch_key
from adapters._retry import (
    Exhausted, Transient, is_transient_error, is_transient_status, with_retries,
)
from adapters._text import clip
from adapters.base import (
    BatchRequest,
    JobProgress,
    JobStatus,
    LabError,
    LabRejected,
    LabUnavailable,
    MeasurementResult,
    RejectedResult,
    ResultStatus,
    Submission,
)
from adapters.madsci.settings import MadsciLabSettings

_T = TypeVar("_T")

#: MADSci action status -> job status ("unknown" is handled apart)
STATUS_MAP = {
    "not_started": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "paused": JobStatus.RUNNING,
    "succeeded": JobStatus.DONE,
    "failed": JobStatus.FAILED,
    "not_ready": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
}


class MadsciLab:
    """Drive a MADSci node's measuring action (see the module docstring).

    Args:
        settings: Where the node is and how to talk to it.
        sleep: Waits the given seconds; injectable so tests need not wait.
        jitter: Returns a fraction in [0, 1] drawn for each wait.
    """

    def __init__(self, settings: MadsciLabSettings, *,
                 sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random) -> None:
        self.settings = settings
        self.book = JobBook(settings.state_file)
        self._sleep = sleep
        self._jitter = jitter
        self._client: Any = None

    # -- the LabAdapter protocol ------------------------------------------

    def submit(self, batch: BatchRequest) -> Submission:
        """Create and start the measuring action for a batch; return its action id as job id.

        A batch sent before (same experiments) returns its first receipt and
        starts nothing; one whose action was created but maybe not started
        when a process died is started only if the node says it has not been.

        Raises:
            LabRejected: (409) If experiments of the batch were sent in another
                batch; the node's 4xx (e.g. 422 for arguments it refuses).
            LabUnavailable: If the node stays unreachable through the retries.
        """
        entry = self.book.entry_for(batch)
        n = len(batch.experiments)
        if entry is not None and entry["job_id"] is not None:
            action_id = entry["job_id"]
            if not entry["extra"].get("started"):
                action_id = self._start(entry["key"], action_id, batch)
            return Submission(job_id=action_id, n_accepted=n)
        if entry is None:
            self.book.reserve(batch)
        key = batch_key(batch)
        action_id = self._create(batch)
        self.book.settle(key, action_id, started=False)
        action_id = self._start(key, action_id, batch)
        return Submission(job_id=action_id, n_accepted=n)

    def poll(self, job_id: str) -> JobProgress:
        """Return how far the action is (n_done is all or nothing: MADSci reports no progress).

        Raises:
            LabRejected: (404) If neither the node nor the job book knows the action.
            LabUnavailable: If the node stays unreachable through the retries.
        """
        entry = self.book.job(job_id)
        n_total = len(entry["experiments"]) if entry else 0
        status = self._job_status(job_id, self._status(job_id))
        n_done = n_total if status in (JobStatus.DONE, JobStatus.FAILED) else 0
        return JobProgress(job_id=job_id, status=status, n_total=n_total, n_done=n_done)

    def collect(self, job_id: str) -> list[MeasurementResult | RejectedResult]:
        """Return the action's results once it has ended (nothing while it runs).

        Raises:
            LabRejected: (404) If neither the node nor the job book knows the action.
            LabUnavailable: If the node stays unreachable through the retries.
        """
        result = self._retrying(f"read action {job_id}",
                                lambda: self._connect().get_action_result(job_id))
        status = _status_text(result.status)
        entry = self.book.job(job_id)
        experiments = dict(map(tuple, entry["experiments"])) if entry else {}
        if status == "unknown":
            if self._job_status(job_id, status, count=False) is not JobStatus.FAILED:
                return []
            return _failed(experiments, self._unknown_reason(job_id))
        job = STATUS_MAP.get(status)
        if job in (None, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLED):
            return []
        if job is JobStatus.FAILED:
            return _failed(experiments, f"MADSci action {status}: {_errors(result.errors)}")
        return _values(result.json_result, experiments)

    def cancel(self, job_id: str) -> None:
        """Send the node's ``cancel`` admin command if the action has not ended.

        Raises:
            LabRejected: (405) If the node does not implement cancelling.
            LabUnavailable: If the node stays unreachable through the retries.
        """
        status = self._status(job_id)
        if STATUS_MAP.get(status) in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED):
            return

        def send() -> Any:
            # the plain value, not AdminCommands.CANCEL: madsci-client 0.8.1 puts the
            # command in the URL with an f-string, which on Python 3.11 spells an enum
            # member "AdminCommands.CANCEL" (the node answers 422)
            return self._connect().send_admin_command("cancel", timeout=self.settings.timeout_s)

        answer = self._retrying(f"cancel action {job_id}", send)
        if not answer.success:
            detail = f"the MADSci node did not cancel: {_errors(answer.errors)}"
            raise LabRejected(f"{detail}; cancel the run on the instrument itself",
                              status=405, detail=detail)
        self.book.mark_cancelled(job_id)

    # -- lifetime ---------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            close = getattr(self._client, "close", None) or self._client.session.close
            close()
            self._client = None

    def __enter__(self) -> MadsciLab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the action -------------------------------------------------------

    def _create(self, batch: BatchRequest) -> str:
        from madsci.common.types.action_types import ActionRequest

        request = ActionRequest(action_name=self.settings.action, args={
            "sample_ids": [e.experiment_id for e in batch.experiments],
            "candidates": [e.candidate_id for e in batch.experiments]})
        return self._retrying(f"create action {self.settings.action}",
                              lambda: self._connect()._create_action(
                                  request, timeout=self.settings.timeout_s))

    def _start(self, key: str, action_id: str, batch: BatchRequest) -> str:
        """Start a created action unless the node says it started; return the action id.

        A node that forgot the created action (it restarted) gets a new one.
        """
        def start() -> Any:
            if self._status(action_id) != "unknown":  # started before (a retry, a crash)
                return None
            return self._connect()._start_action(self.settings.action, action_id,
                                                 timeout=self.settings.timeout_s)

        answer = self._retrying(f"start action {action_id}", start)
        if answer is not None and any(getattr(e, "error_type", None) == "NotFound"
                                      for e in answer.errors):
            action_id = self._create(batch)  # the node forgot it before it started
            self.book.settle(key, action_id, started=False)
            return self._start(key, action_id, batch)
        self.book.settle(key, action_id, started=True)
        return action_id

    def _status(self, job_id: str) -> str:
        status = self._retrying(f"poll action {job_id}",
                                lambda: self._connect().get_action_status(
                                    job_id, timeout=self.settings.timeout_s))
        return _status_text(status)

    def _job_status(self, job_id: str, status: str, *, count: bool = True) -> JobStatus:
        """Map a node status; `unknown` is running until `max_unknown_polls` in a row."""
        if status != "unknown":
            if count and self.book.job(job_id) and self.book.job(job_id)["extra"].get(
                    "unknown_polls"):
                self.book.note(job_id, unknown_polls=0)
            return STATUS_MAP.get(status, JobStatus.RUNNING)
        entry = self.book.job(job_id)
        if entry is None:
            detail = f"unknown action '{job_id}'"
            raise LabRejected(f"{detail}: neither the MADSci node nor this adapter's "
                              "state_file knows it", status=404, detail=detail)
        n_unknown = entry["extra"].get("unknown_polls", 0) + int(count)
        if count:
            self.book.note(job_id, unknown_polls=n_unknown)
        if n_unknown >= self.settings.max_unknown_polls:
            return JobStatus.FAILED
        return JobStatus.RUNNING

    def _unknown_reason(self, job_id: str) -> str:
        return (f"the MADSci node does not know action {job_id} (polled "
                f"{self.settings.max_unknown_polls} times; did it restart?); its results are lost")

    # -- I/O --------------------------------------------------------------

    def _retrying(self, what: str, call: Callable[[], _T]) -> _T:
        """Run `call` under the one retry policy; map the node's errors."""
        def attempt(k: int) -> _T:
            try:
                return call()
            except httpx.HTTPStatusError as error:
                status = error.response.status_code
                detail = clip(error.response.text or error.response.reason_phrase, 300)
                if not is_transient_status(status):
                    raise LabRejected(f"{what} at {self.settings.node_url}: the node refused, "
                                      f"HTTP {status}: {detail}", status=status,
                                      detail=detail) from None
                raise Transient(f"HTTP {status}: {detail}") from None
            except httpx.RequestError as error:
                if not is_transient_error(error):
                    raise LabError(f"{what} at {self.settings.node_url}: "
                                   f"{type(error).__name__}: {clip(str(error), 200)}; "
                                   "check the lab's node_url") from None
                raise Transient(f"{type(error).__name__}: {clip(str(error), 200)}") from None

        try:
            return with_retries(attempt, tries=self.settings.retries + 1,
                                backoff_s=self.settings.backoff_s, sleep=self._sleep,
                                jitter=self._jitter)
        except Exhausted as out:
            raise LabUnavailable(
                f"{what} at {self.settings.node_url}: {out.summary}; the MADSci node is "
                "unreachable or overloaded: check it runs, then try again later",
                n_attempts=out.n_tries) from None

    def _connect(self) -> Any:
        if self._client is None:
            from madsci.client.event_client import EventClient
            from madsci.client.node.rest_node_client import RestNodeClient
            from madsci.common.types.client_types import RestNodeClientConfig
            from madsci.common.types.event_types import EventClientConfig

            timeout = self.settings.timeout_s
            config = RestNodeClientConfig(retry_enabled=False, timeout_default=timeout,
                                          timeout_data_operations=timeout,
                                          timeout_long_operations=timeout)
            # madsci's client logs to ./.madsci/logs unless told: keep the user's folder clean
            events = EventClient(config=EventClientConfig(
                name="loopwell.madsci", log_dir=str(self._log_dir())))
            self._client = RestNodeClient(self.settings.node_url, config=config,
                                          event_client=events)
        return self._client

    def _log_dir(self) -> Path:
        """Return where the madsci client logs: beside the job book, else in the temp folder."""
        if self.settings.state_file is not None:
            return self.settings.state_file.parent / "madsci-logs"
        return Path(tempfile.gettempdir()) / "loopwell-madsci-logs"


# -- pure helpers -----------------------------------------------------------

def _status_text(status: Any) -> str:
    return str(getattr(status, "value", status))


def _errors(errors: Any) -> str:
    """Return a node's errors on one line (``SampleNotFound: ...; ...``)."""
    parts = []
    for error in errors or []:
        kind = getattr(error, "error_type", None)
        message = getattr(error, "message", None) or str(error)
        parts.append(f"{kind}: {message}" if kind else message)
    return clip("; ".join(parts) or "no reason given", 400)


def _failed(experiments: dict[str, str], reason: str) -> list[MeasurementResult | RejectedResult]:
    return [MeasurementResult(experiment_id=eid, candidate_id=cid, value=None,
                              status=ResultStatus.FAILED, error=reason)
            for eid, cid in experiments.items()]


def _values(json_result: Any,
            experiments: dict[str, str]) -> list[MeasurementResult | RejectedResult]:
    """Read ``{"values": {experiment_id: value}}`` item by item; reject what is not one."""
    values = json_result.get("values") if isinstance(json_result, dict) else None
    if not isinstance(values, dict):
        return [RejectedResult(payload=clip(repr(json_result), 2000),
                               reason="the action's json_result has no 'values' object "
                                      "(experiment id -> value); fix the node's action")]
    results: list[MeasurementResult | RejectedResult] = []
    for eid, value in values.items():
        if experiments and eid not in experiments:
            results.append(RejectedResult(payload={eid: value},
                                          reason=f"the node answered for '{eid}', "
                                                 "not an experiment of this job"))
            continue
        results.append(read_result({"experiment_id": eid, "candidate_id": experiments.get(eid),
                                    "value": value}))
    results += [MeasurementResult(experiment_id=eid, candidate_id=cid, value=None,
                                  status=ResultStatus.FAILED,
                                  error="the node returned no value for this experiment")
                for eid, cid in experiments.items() if eid not in values]
    return results
