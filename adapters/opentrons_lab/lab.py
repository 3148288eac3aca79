"""A lab whose plates an Opentrons robot fills and a plate reader reads (kind ``opentrons``).

The batch is plated as by the ``plate_folder`` kind (worklists and plate maps
in the outbox, reader exports back through the inbox: the results come only
from the reader). Each plate's worklist also becomes a Python protocol
(`protocol.protocol_source`), written beside it as ``<plate>.protocol.py``
and uploaded to the robot; the plates are run one after another (a robot
runs one protocol at a time): create the run, play it, follow its status,
and when it has succeeded start the next plate's.

No double dispatch: the plate lab keys a batch by its experiment ids (a batch
resent after a crash gets its receipt and plates again); on the robot each
plate's protocol carries ``key = "loopwell:<plate id>"`` and every create is
preceded by a look for what it would create (the protocol by its key, the run
by its protocol id, the play among the run's actions). What was created is
saved in ``<state_dir>/robot.json`` as soon as it is known.

A run that fails, or is stopped on the robot, fails its plate: its
experiments come back as failed results naming the run's error and the
failing command from the run's command log; so does a protocol or run the
robot refuses (a 4xx other than 409, e.g. a run it no longer knows), and the
job goes on with its other plates. `cancel` cancels the job's plates and
stops the current run. A robot that cannot be reached at `submit` does not
refuse the batch (its plates are planned; `poll` starts the robot); at `poll`
it is `LabUnavailable`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

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
    Submission,
)
from adapters.opentrons_lab.protocol import protocol_source
from adapters.opentrons_lab.robot import TERMINAL, RobotClient
from adapters.opentrons_lab.settings import OpentronsSettings
from adapters.plates.folder import PlateFolderLab
from adapters.plates.layout import PlateMap
from adapters.plates.state import locked, write_atomically


class PlateRun(BaseModel):
    """What the robot holds for one plate."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    protocol_id: str | None = None
    run_id: str | None = None
    played_at: float | None = None
    status: str | None = None        # the run's last status seen
    is_stopped_by_us: bool = False


class RobotState(BaseModel):
    """Every plate's protocol and run on the robot, by plate id."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    runs: dict[str, PlateRun] = Field(default_factory=dict)


class OpentronsLab:
    """Plates filled by an Opentrons robot, read back through a plate reader's folder.

    Args:
        settings: The lab's settings.
        client: The HTTP client, with the robot's base_url and timeouts
            (`from_settings` makes one).
        clock: Seconds since the epoch (run timeouts).
        sleep: Injectable wait of the retry policy.
    """

    def __init__(self, settings: OpentronsSettings, client: httpx.Client, *,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.plates = PlateFolderLab(settings, clock=clock)
        self.robot = RobotClient(client, api_version=settings.api_version,
                                 retries=settings.retries, backoff_s=settings.backoff_s,
                                 sleep=sleep)
        self._clock = clock
        self._path = settings.state_folder / "robot.json"
        self._notes: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: OpentronsSettings, *,
                      transport: httpx.BaseTransport | None = None) -> OpentronsLab:
        """Make a lab with its own client to the robot (closed by `close`)."""
        client = httpx.Client(base_url=settings.base_url, timeout=settings.timeout_s,
                              transport=transport)
        return cls(settings, client)

    def close(self) -> None:
        """Close the HTTP client."""
        self.robot.client.close()

    # -- the LabAdapter protocol ------------------------------------------

    def submit(self, batch: BatchRequest) -> Submission:
        """Plate the batch, upload its protocols and start the first plate's run.

        The receipt stands once the plates are planned: a robot that cannot be
        reached now is tried again by `poll` (said in the job's detail).

        Raises:
            LabRejected: If the plate lab refuses the batch (409, 422).
            LabUnavailable: If the outbox or the state cannot be written.
        """
        receipt = self.plates.submit(batch)
        try:
            self._advance(receipt.job_id)
        except LabError as error:  # the plates are the receipt; the robot is progress
            self._notes[receipt.job_id] = f"robot not started yet: {clip(str(error), 200)}"
        return receipt

    def poll(self, job_id: str) -> JobProgress:
        """Move the robot on (next plate, failed runs), then say how far the job is.

        Raises:
            LabRejected: If the job is unknown (404).
            LabUnavailable: If the robot stays unreachable through the retries.
        """
        self._advance(job_id)
        progress = self.plates.poll(job_id)
        robot = self._notes.get(job_id, "")
        status = progress.status
        if status == JobStatus.QUEUED and "running" in robot:
            status = JobStatus.RUNNING
        detail = "; ".join(part for part in (robot, progress.detail) if part)
        return progress.model_copy(update={"status": status, "detail": clip(detail, 500)})

    def collect(self, job_id: str) -> list[MeasurementResult | RejectedResult]:
        """Return the job's new results (from the reader's exports; failed plates' failures)."""
        return self.plates.collect(job_id)

    def cancel(self, job_id: str) -> None:
        """Cancel the job's plates, then stop its run on the robot if one is going.

        The plates first: a robot that cannot be reached (`LabUnavailable`)
        leaves the job cancelled all the same, and calling again stops the run.
        """
        self.plates.cancel(job_id)
        with locked(self.settings.state_folder / "robot"):
            state = self._load()
            for plate_id in self.plates.plate_status(job_id):
                run = state.runs.get(plate_id)
                if run is None or run.run_id is None or run.status in TERMINAL:
                    continue
                try:
                    self.robot.act(run.run_id, "stop")
                except LabRejected as error:
                    if error.status != 409:  # 409: the run is over already
                        raise
                run.is_stopped_by_us = True
                self._save(state)

    # -- the robot ---------------------------------------------------------

    def _advance(self, job_id: str) -> None:
        """Upload what is missing, follow the current run, start the next plate's."""
        with locked(self.settings.state_folder / "robot"):
            status = self.plates.plate_status(job_id)
            if any(s == "cancelled" for s in status.values()):
                return
            state = self._load()
            maps = {p.plate_id: p for p in self.plates.plates(job_id)}
            for plate_id, plate in maps.items():  # every protocol first: analysed early
                run = state.runs.setdefault(plate_id, PlateRun())
                if run.protocol_id is None and status[plate_id] == "open":
                    self._upload(job_id, plate, run)
                    self._save(state)
            self._notes[job_id] = ""
            for plate_id in maps:
                run = state.runs[plate_id]
                if status[plate_id] != "open" or run.protocol_id is None:
                    continue
                if run.status in TERMINAL or run.status == "refused":
                    continue  # filled (waiting for its read) or failed already
                try:
                    is_over = self._follow(job_id, plate_id, run, state)
                except LabRejected as error:  # the robot refuses this plate's run: final
                    run.status = "refused"
                    self._save(state)
                    self.plates.fail_plate(job_id, plate_id,
                                           f"the robot refused its run: {error.detail}")
                    continue
                if not is_over:
                    break  # this plate's run is going (or the robot is busy): one at a time

    def _upload(self, job_id: str, plate: PlateMap, run: PlateRun) -> None:
        key = f"loopwell:{plate.plate_id}"
        text = protocol_source(plate, job_id=job_id, volume_ul=self.settings.volume_ul,
                               deck=self.settings.deck)
        path = self.settings.outbox / f"{plate.plate_id}.protocol.py"
        if not path.exists() or path.read_text() != text:
            write_atomically(path, text)
        try:
            run.protocol_id = self.robot.find_protocol(key) or \
                self.robot.upload_protocol(path.name, text, key=key)
        except LabRejected as error:  # the robot refuses the protocol: final for this plate
            self.plates.fail_plate(job_id, plate.plate_id,
                                   f"the robot refused its protocol: {error.detail}")

    def _follow(self, job_id: str, plate_id: str, run: PlateRun, state: RobotState) -> bool:
        """Create, play or check a plate's run; return whether the next plate may start."""
        if run.run_id is None:
            found = self.robot.find_run(run.protocol_id)
            if found is None:
                try:
                    found = self.robot.create_run(run.protocol_id)
                except LabRejected as error:
                    if error.status == 409:  # another run is active on the robot
                        self._notes[job_id] = f"robot busy with another run: {error.detail}"
                        return False
                    raise
            run.run_id = str(found["id"])
            self._save(state)
        info = self.robot.run(run.run_id)
        run.status = str(info.get("status"))
        played = any(a.get("actionType") == "play" for a in info.get("actions", [])
                     if isinstance(a, dict))
        if run.status == "idle" and not played:
            try:
                self.robot.act(run.run_id, "play")
            except LabRejected as error:
                if error.status != 409:  # 409: not playable now (e.g. played meanwhile)
                    raise
            else:
                run.played_at, run.status = self._clock(), "running"
        elif run.played_at is None and played:
            run.played_at = self._clock()
        self._save(state)
        if run.status == "succeeded":
            return True
        if run.status in TERMINAL:
            if not run.is_stopped_by_us:
                self.plates.fail_plate(job_id, plate_id, self._why(run, info))
            return True
        limit = self.settings.run_timeout_s
        if limit is not None and run.played_at is not None and \
                self._clock() - run.played_at > limit:
            self.robot.act(run.run_id, "stop")
            run.status, run.is_stopped_by_us = "stopped", True
            self._save(state)
            self.plates.fail_plate(job_id, plate_id,
                                   f"robot run {run.run_id} passed run_timeout_s={limit:g} "
                                   "and was stopped")
            return True
        self._notes[job_id] = f"plate {plate_id}: robot run {run.run_id} {run.status}"
        return False

    def _why(self, run: PlateRun, info: dict[str, Any]) -> str:
        errors = [e for e in info.get("errors", []) if isinstance(e, dict)]
        reason = f"robot run {run.run_id} {run.status}"
        if errors:
            reason += f": {errors[0].get('detail') or errors[0].get('errorType')}"
        try:
            commands, total = self.robot.commands(run.run_id)
        except (LabRejected, LabUnavailable):
            return reason
        failed = [c for c in commands if c.get("status") == "failed"]
        if failed:
            command = failed[-1]
            error = command.get("error") or {}
            reason += (f" (command {command.get('commandType')} of {total} failed: "
                       f"{error.get('detail', 'no detail')})")
        return clip(reason, 400)

    def _load(self) -> RobotState:
        if not self._path.exists():
            return RobotState()
        try:
            return RobotState.model_validate_json(self._path.read_text())
        except ValueError:
            # robot.json is a cache of what the robot holds: rebuilt by looking (find_*)
            return RobotState()

    def _save(self, state: RobotState) -> None:
        try:
            write_atomically(self._path, state.model_dump_json(indent=1))
        except OSError as error:
            raise LabUnavailable(f"cannot save the robot state to {self._path} "
                                 f"({clip(str(error), 120)})") from None
