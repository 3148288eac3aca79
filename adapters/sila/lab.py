# One concept past 300 lines: the SiLA client adapter, its retries and its saved jobs.
"""A lab adapter that is a SiLA 2 client: one observable command per batch.

`submit` starts the server's measuring command (``AssayInstrument.MeasureBatch``
by default) with the batch's samples and its idempotency key; the command
execution UUID is the job id. `poll` reads the command's execution info and
its latest intermediate response (``SamplesDone``); `collect` reads the final
responses (``Values``) into `MeasurementResult`s; a defined execution error
(``SampleNotFound``, ...) becomes one failed result per experiment carrying the
error's identifier and message; ``BatchCancelled`` means cancelled. `cancel`
calls ``CancelController.CancelCommand`` when the server implements that
feature, and says so when it does not (SiLA 2 itself has no way to cancel an
observable command).

No double dispatch: the `JobBook` (saved to `state_file`) is written before
the command is sent and after the server confirms it, and the batch key goes
with the command, so a batch sent again (after a crash, or by the retry
policy) is answered from what the server measured the first time.

Retries: calls that do not reach the server (``SilaConnectionError``, gRPC
UNAVAILABLE or DEADLINE_EXCEEDED) are retried by the policy of
`adapters._retry` and then raise `LabUnavailable`; the sila2 client itself is
used without retries of its own. sila2 is imported when the adapter first
connects, never by importing `adapters`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from adapters._jobbook import JobBook, batch_key
from adapters._retry import Exhausted, Transient, with_retries
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
from adapters.sila.settings import SilaLabSettings

_T = TypeVar("_T")
#: the defined execution error a server raises for a cancelled batch
CANCELLED_ERROR = "BatchCancelled"


class _Transient(Exception):
    """A call that did not reach the server (retried)."""


class SilaLab:
    """Drive a SiLA 2 server's measuring command (see the module docstring).

    Args:
        settings: Where the server is and how to talk to it.
        sleep: Waits the given seconds; injectable so tests need not wait.
        jitter: Returns a fraction in [0, 1] drawn for each wait.
    """

    def __init__(self, settings: SilaLabSettings, *,
                 sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random) -> None:
        self.settings = settings
        self.book = JobBook(settings.state_file)
        self._sleep = sleep
        self._jitter = jitter
        self._client: Any = None

    # -- the LabAdapter protocol ------------------------------------------

    def submit(self, batch: BatchRequest) -> Submission:
        """Start the measuring command for a batch; return the execution UUID as job id.

        A batch sent before (same experiments) returns its first receipt and
        sends nothing; a batch marked as being sent when a process died is
        sent again under the same key (the server answers it without
        measuring again).

        Raises:
            LabRejected: (409) If experiments of the batch were sent in another
                batch; (422) if the server refuses the parameters.
            LabUnavailable: If the server stays unreachable through the retries.
        """
        entry = self.book.entry_for(batch)
        if entry is not None and entry["job_id"] is not None:
            return Submission(job_id=entry["job_id"], n_accepted=len(entry["experiments"]))
        entry = entry or self.book.reserve(batch)
        samples = [(e.experiment_id, e.candidate_id) for e in batch.experiments]
        key = batch_key(batch)

        def start() -> str:
            command = self._command()
            message = command.parameters.to_message(Samples=samples, BatchKey=key)
            answer = self._rpc(command._identifier, message, origin=command)
            from sila2.framework.command.command_confirmation import CommandConfirmation

            uuid, _ = CommandConfirmation(self._pb2()).to_native_type(answer)
            return str(uuid)

        job_id = self._retrying(f"start {self._what()}", start)
        self.book.settle(key, job_id)
        return Submission(job_id=job_id, n_accepted=len(samples))

    def poll(self, job_id: str) -> JobProgress:
        """Return how far the command is (status, and samples done from intermediate responses).

        Raises:
            LabRejected: (404) If the server does not know the execution UUID.
            LabUnavailable: If the server stays unreachable through the retries.
        """
        entry = self.book.job(job_id)
        n_total = len(entry["experiments"]) if entry else 0
        status, n_done = self._retrying(f"poll {self._what()} {job_id}",
                                        lambda: self._progress(job_id))
        if status in (JobStatus.DONE, JobStatus.FAILED):
            n_done = n_total
            error = self._retrying(f"read {self._what()} {job_id}",
                                   lambda: self._outcome(job_id)[1])
            if error is not None and error[0] == CANCELLED_ERROR:
                status, n_done = JobStatus.CANCELLED, 0  # a cancelled batch returns no result
        return JobProgress(job_id=job_id, status=status, n_total=max(n_total, n_done),
                           n_done=min(n_done, max(n_total, n_done)))

    def collect(self, job_id: str) -> list[MeasurementResult | RejectedResult]:
        """Return the command's results once it has finished (nothing while it runs).

        Values come back as ok results; a defined or undefined execution error
        as one failed result per experiment with the error's message; a
        cancelled batch as nothing (its experiments are cancelled).

        Raises:
            LabRejected: (404) If the server does not know the execution UUID.
            LabUnavailable: If the server stays unreachable through the retries.
        """
        status, _ = self._retrying(f"poll {self._what()} {job_id}",
                                   lambda: self._progress(job_id))
        if status not in (JobStatus.DONE, JobStatus.FAILED):
            return []
        values, error = self._retrying(f"read {self._what()} {job_id}",
                                       lambda: self._outcome(job_id))
        entry = self.book.job(job_id)
        candidates = dict(map(tuple, entry["experiments"])) if entry else {}
        if error is not None:
            if error[0] == CANCELLED_ERROR:
                return []
            reason = clip(f"{error[0]}: {error[1]}", 500)
            return [MeasurementResult(experiment_id=eid, candidate_id=cid, value=None,
                                      status=ResultStatus.FAILED, error=reason)
                    for eid, cid in candidates.items()]
        results: list[MeasurementResult | RejectedResult] = []
        for sample_id, value in values:
            if entry is not None and sample_id not in candidates:
                results.append(RejectedResult(payload={"SampleId": sample_id, "Value": value},
                                              reason=f"the server answered for sample "
                                                     f"'{sample_id}', not one of this job"))
                continue
            results.append(MeasurementResult(experiment_id=sample_id,
                                             candidate_id=candidates.get(sample_id),
                                             value=value))
        answered = {r.experiment_id for r in results if isinstance(r, MeasurementResult)}
        results += [MeasurementResult(experiment_id=eid, candidate_id=cid, value=None,
                                      status=ResultStatus.FAILED,
                                      error="the instrument returned no value for this sample")
                    for eid, cid in candidates.items() if eid not in answered]
        return results

    def cancel(self, job_id: str) -> None:
        """Ask the server to cancel the command (through its CancelController feature).

        Cancelling a finished command is not an error.

        Raises:
            LabRejected: (405) If the server implements no CancelController
                feature: cancel the run on the instrument itself; (404) if the
                server does not know the execution UUID.
            LabUnavailable: If the server stays unreachable through the retries.
        """
        def send() -> None:
            client = self._connect()
            controller = getattr(client, "CancelController", None)
            if controller is None:
                detail = "the SiLA server implements no CancelController feature"
                raise LabRejected(f"{detail}; cancel the run on the instrument itself",
                                  status=405, detail=detail)
            command = controller._unobservable_commands["CancelCommand"]
            message = command.parameters.to_message(CommandExecutionUUID=job_id)
            self._rpc("CancelCommand", message, origin=command, feature=controller)

        self._retrying(f"cancel {self._what()} {job_id}", send)
        self.book.mark_cancelled(job_id)

    # -- lifetime ---------------------------------------------------------

    def close(self) -> None:
        """Close the connection to the server."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> SilaLab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reading the command ----------------------------------------------

    def _progress(self, job_id: str) -> tuple[JobStatus, int]:
        """Return the command's status and samples done (first item of each stream)."""
        from sila2.framework.command.execution_info import CommandExecutionStatus, ExecutionInfo

        command = self._command()
        uuid = self._uuid_message(job_id)
        info = ExecutionInfo(self._pb2()).to_native_type(
            self._first(f"{command._identifier}_Info", uuid))
        status = {CommandExecutionStatus.waiting: JobStatus.QUEUED,
                  CommandExecutionStatus.running: JobStatus.RUNNING,
                  CommandExecutionStatus.finishedSuccessfully: JobStatus.DONE,
                  CommandExecutionStatus.finishedWithError: JobStatus.FAILED}[info.status]
        n_done = 0
        if status is JobStatus.RUNNING and command.intermediate_responses:
            message = self._first(f"{command._identifier}_Intermediate", uuid, may_end=True)
            if message is not None:
                n_done = int(command.intermediate_responses.to_native_type(message)[0])
        return status, n_done

    def _outcome(self, job_id: str) -> tuple[list[tuple[str, float]], tuple[str, str] | None]:
        """Return the final values, or the (identifier, message) of the error it ended with."""
        from sila2.framework import DefinedExecutionError, UndefinedExecutionError

        command = self._command()
        try:
            answer = self._rpc(f"{command._identifier}_Result", self._uuid_message(job_id),
                               origin=command)
        except DefinedExecutionError as error:
            return [], (error.identifier, error.message)
        except UndefinedExecutionError as error:
            return [], ("UndefinedExecutionError", error.message)
        (values,) = command.responses.to_native_type(answer)
        return [(str(v.SampleId), float(v.Value)) for v in values], None

    # -- I/O --------------------------------------------------------------

    def _rpc(self, method: str, message: Any, *, origin: Any, feature: Any = None) -> Any:
        """Call a unary RPC with the deadline; raise SiLA errors as sila2 raises them."""
        import grpc
        from sila2.client.utils import get_allowed_errors, rpcerror_to_silaerror

        feature = feature if feature is not None else self._feature()
        try:
            return getattr(feature._grpc_stub, method)(message, timeout=self.settings.timeout_s)
        except grpc.RpcError as error:
            raise self._translate(error, rpcerror_to_silaerror(
                error, get_allowed_errors(origin, None), self._client)) from None

    def _first(self, method: str, message: Any, *, may_end: bool = False) -> Any:
        """Return the first item of a server stream (None if it ends first and `may_end`)."""
        import grpc
        from sila2.client.utils import rpcerror_to_silaerror

        stream = getattr(self._feature()._grpc_stub, method)(message,
                                                             timeout=self.settings.timeout_s)
        try:
            return next(stream)
        except StopIteration:
            if may_end:
                return None
            raise LabError(f"{self._what()}: the server ended {method} without an item; "
                           "report this to the server's maintainers") from None
        except grpc.RpcError as error:
            if may_end and error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return None  # no intermediate response yet
            raise self._translate(error, rpcerror_to_silaerror(error, [], self._client)) from None
        finally:
            stream.cancel()

    def _translate(self, raw: Any, error: Exception) -> Exception:
        """Map a failed call: transient (retried), unknown UUID (404), else kept as is."""
        import grpc
        from sila2.framework import FrameworkError, ValidationError
        from sila2.framework.errors.sila_connection_error import SilaConnectionError

        if isinstance(error, SilaConnectionError) or raw.code() in (
                grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            self.close()  # reconnect on the next attempt
            return _Transient(f"{raw.code().name}: {clip(str(raw.details()), 200)}")
        if isinstance(error, FrameworkError) and "UUID" in type(error).__name__:
            detail = f"the SiLA server does not know command execution: {clip(error.message, 200)}"
            return LabRejected(f"{detail}; the server may have been restarted (it forgets "
                               "its commands)", status=404, detail=detail)
        if isinstance(error, ValidationError):
            detail = f"the SiLA server refused a parameter: {clip(error.message, 200)}"
            return LabRejected(detail, status=422, detail=detail)
        if isinstance(error, FrameworkError):
            return LabError(f"{self._what()}: {type(error).__name__}: {clip(error.message, 300)}")
        return error

    def _retrying(self, what: str, call: Callable[[], _T]) -> _T:
        """Run `call` under the one retry policy; raise `LabUnavailable` when it runs out."""
        def attempt(k: int) -> _T:
            try:
                return call()
            except _Transient as error:
                raise Transient(str(error)) from None

        try:
            return with_retries(attempt, tries=self.settings.retries + 1,
                                backoff_s=self.settings.backoff_s, sleep=self._sleep,
                                jitter=self._jitter)
        except Exhausted as out:
            raise LabUnavailable(
                f"{what} at {self.settings.host}:{self.settings.port}: {out.summary}; "
                "the SiLA server is unreachable: check it runs and the host, port and TLS "
                "settings, then try again later", n_attempts=out.n_tries) from None

    def _connect(self) -> Any:
        """Return the client, connecting first if needed (one attempt: callers retry)."""
        if self._client is None:
            from sila2.client import SilaClient
            from sila2.framework.errors.sila_connection_error import SilaConnectionError

            settings = self.settings
            tls: dict[str, Any] = {}
            if settings.insecure:
                tls["insecure"] = True
            else:
                if settings.root_certs is not None:
                    tls["root_certs"] = settings.root_certs.read_bytes()
                if settings.client_cert is not None and settings.client_key is not None:
                    tls["cert_chain"] = settings.client_cert.read_bytes()
                    tls["private_key"] = settings.client_key.read_bytes()
            try:
                self._client = SilaClient(settings.host, settings.port, **tls)
            except (SilaConnectionError, OSError, ConnectionError) as error:
                raise _Transient(f"cannot connect ({type(error).__name__}: "
                                 f"{clip(str(error), 200)})") from None
            except RuntimeError as error:  # e.g. the certificate names another server
                raise LabError(f"SiLA server {settings.host}:{settings.port}: "
                               f"{clip(str(error), 300)}; check the host and TLS settings"
                               ) from None
            if not hasattr(self._client, settings.feature):
                detail = f"the SiLA server implements no feature '{settings.feature}'"
                self.close()
                raise LabRejected(f"{detail}; check the lab's 'feature' setting", status=404,
                                  detail=detail)
        return self._client

    def _feature(self) -> Any:
        return getattr(self._connect(), self.settings.feature)

    def _command(self) -> Any:
        commands = self._feature()._observable_commands
        if self.settings.command not in commands:
            detail = (f"feature '{self.settings.feature}' has no observable command "
                      f"'{self.settings.command}'")
            raise LabRejected(f"{detail}; check the lab's 'command' setting", status=404,
                              detail=detail)
        return commands[self.settings.command]

    def _pb2(self) -> Any:
        return self._feature()._pb2_module.SiLAFramework__pb2

    def _uuid_message(self, job_id: str) -> Any:
        return self._pb2().CommandExecutionUUID(value=job_id)

    def _what(self) -> str:
        return f"{self.settings.feature}.{self.settings.command}"
