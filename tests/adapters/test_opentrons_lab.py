"""The Opentrons lab's HTTP flow against a fake robot-server, and its readouts via the reader folder."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from adapters import (
    BatchRequest, ExperimentRequest, JobStatus, LabRejected, LabUnavailable, ResultStatus,
    make_adapter,
)
from adapters.opentrons_lab import OpentronsLab, OpentronsSettings
from adapters.testing import FakeRobotServer

from .test_plates_folder import _drop, _long, _ok, _values


def _settings(tmp_path, **overrides) -> OpentronsSettings:
    options = dict(base_url="http://robot:31950", inbox=tmp_path / "inbox",
                   outbox=tmp_path / "outbox", settle_s=0, positive_controls=["PMA"],
                   negative_controls=["DMSO"], backoff_s=0)
    options.update(overrides)
    return OpentronsSettings(**options)


def _lab(tmp_path, robot: FakeRobotServer, **overrides) -> OpentronsLab:
    settings = _settings(tmp_path, **overrides)
    client = httpx.Client(base_url=settings.base_url, transport=httpx.MockTransport(robot))
    return OpentronsLab(settings, client, sleep=lambda s: None)


def _batch(candidates=("KO:ZAP70", "KO:CBLB", "KO:CD5")) -> BatchRequest:
    return BatchRequest(campaign="ifng", round=0, experiments=[
        ExperimentRequest(experiment_id=f"ifng-r0-{c}", candidate_id=c) for c in candidates])


def _calls(robot: FakeRobotServer) -> list[str]:
    return [f"{r.method} {r.url.path}" for r in robot.requests]


def test_submit_uploads_creates_and_plays_then_the_reader_gives_the_results(tmp_path):
    robot = FakeRobotServer(commands_per_poll=20)
    lab = _lab(tmp_path, robot)
    receipt = lab.submit(_batch())
    (plate,) = lab.plates.plates(receipt.job_id)
    assert _calls(robot) == ["GET /protocols", "POST /protocols", "GET /runs", "POST /runs",
                             "GET /runs/run-0003", "POST /runs/run-0003/actions"]
    assert all(r.headers["Opentrons-Version"] == "3" for r in robot.requests)
    upload = robot.requests[1]
    assert upload.headers["Content-Type"].startswith("multipart/form-data")
    (protocol,) = robot.protocols.values()
    assert protocol["key"] == f"loopwell:{plate.plate_id}"
    assert protocol["files"] == [{"name": f"{plate.plate_id}.protocol.py", "role": "main"}]
    assert protocol["text"] == (lab.settings.outbox / f"{plate.plate_id}.protocol.py").read_text()
    assert json.loads(robot.requests[3].content) == {"data": {"protocolId": protocol["id"]}}
    assert json.loads(robot.requests[5].content) == {"data": {"actionType": "play"}}

    progress = lab.poll(receipt.job_id)  # 20 of 56 commands
    assert progress.status == JobStatus.RUNNING and "robot run run-0003 running" in progress.detail
    while robot.runs["run-0003"]["status"] == "running":
        lab.poll(receipt.job_id)
    assert lab.poll(receipt.job_id).status == JobStatus.QUEUED  # filled, waiting for the reader
    _drop(lab.settings, "reader.csv", _long(_values(plate), plate.plate_id))
    assert len(_ok(lab.collect(receipt.job_id))) == 6
    assert lab.poll(receipt.job_id).status == JobStatus.DONE
    assert sum(c == "POST /runs" for c in _calls(robot)) == 1


def test_plates_run_one_after_another(tmp_path):
    robot = FakeRobotServer(commands_per_poll=10_000)
    lab = _lab(tmp_path, robot, n_replicates=8)
    job = lab.submit(_batch([f"KO:G{i}" for i in range(12)])).job_id
    assert len(robot.protocols) == 2 and len(robot.runs) == 1  # both uploaded, one run
    lab.poll(job)  # the first run succeeds; the second is created and played
    assert len(robot.runs) == 2
    assert [r["status"] for r in robot.runs.values()] == ["succeeded", "running"]


def test_a_resubmission_after_a_crash_creates_nothing_twice(tmp_path):
    robot = FakeRobotServer(commands_per_poll=1)
    first = _lab(tmp_path, robot)
    receipt = first.submit(_batch())
    (tmp_path / "outbox" / ".loopwell" / "robot.json").unlink()  # killed before saving
    again = _lab(tmp_path, robot)
    assert again.submit(_batch()) == receipt
    assert len(robot.protocols) == 1 and len(robot.runs) == 1
    assert sum(c.endswith("/actions") for c in _calls(robot)) == 1  # played once


def test_a_failed_run_fails_its_plate_with_the_command_log_reason(tmp_path):
    robot = FakeRobotServer(fail_at_command=4)
    lab = _lab(tmp_path, robot)
    job = lab.submit(_batch()).job_id
    assert lab.poll(job).status == JobStatus.FAILED
    failures = lab.collect(job)
    assert {r.status for r in failures} == {ResultStatus.FAILED} and len(failures) == 3
    assert "robot run run-0003 failed: TipNotAttachedError [line 27]" in failures[0].error
    assert "command pickUpTip of 5 failed: No tip attached" in failures[0].error
    assert "GET /runs/run-0003/commands" in _calls(robot)


def test_transient_reads_are_retried_and_an_unreachable_robot_is_said(tmp_path):
    robot = FakeRobotServer(commands_per_poll=1)
    lab = _lab(tmp_path, robot, retries=2)
    job = lab.submit(_batch()).job_id
    robot.fail_next = 2  # two 503s, then the answer: within the retries
    assert lab.poll(job).status == JobStatus.RUNNING
    robot.disconnect_next = 3
    with pytest.raises(LabUnavailable, match=r"GET /runs/run-0003: ConnectError.*after 3 attempt"):
        lab.poll(job)


def test_a_robot_down_at_submit_still_gives_a_receipt_and_poll_catches_up(tmp_path):
    robot = FakeRobotServer(disconnect_next=4)
    lab = _lab(tmp_path, robot, retries=3)
    receipt = lab.submit(_batch())
    assert receipt.n_accepted == 3 and robot.protocols == {}
    lab.poll(receipt.job_id)
    assert len(robot.protocols) == 1 and len(robot.runs) == 1


def test_a_create_whose_answer_is_lost_is_sent_once_and_found_by_the_next_call(tmp_path):
    robot = FakeRobotServer()
    lost: list[str] = []

    def answer_lost(request: httpx.Request) -> httpx.Response:
        response = robot(request)  # the robot acts on it ...
        if request.method == "POST" and not lost:
            lost.append(request.url.path)  # ... but the answer never arrives
            raise httpx.ReadTimeout("timed out", request=request)
        return response

    settings = _settings(tmp_path)
    client = httpx.Client(base_url=settings.base_url, transport=httpx.MockTransport(answer_lost))
    lab = OpentronsLab(settings, client, sleep=lambda s: None)
    job = lab.submit(_batch()).job_id   # the upload times out: said, not retried
    assert lost == ["/protocols"] and _calls(robot) == ["GET /protocols", "POST /protocols"]
    assert robot.runs == {}
    lab.poll(job)                       # finds the protocol by its key, goes on
    assert len(robot.protocols) == 1 and len(robot.runs) == 1
    assert sum(c == "POST /protocols" for c in _calls(robot)) == 1


def test_cancel_stops_the_run_and_cancels_the_plates(tmp_path):
    robot = FakeRobotServer(commands_per_poll=1)
    lab = _lab(tmp_path, robot)
    job = lab.submit(_batch()).job_id
    lab.cancel(job)
    assert robot.runs["run-0003"]["status"] == "stopped"
    assert json.loads(robot.requests[-1].content) == {"data": {"actionType": "stop"}}
    assert lab.poll(job).status == JobStatus.CANCELLED
    lab.cancel(job)  # again: nothing to stop


def test_a_run_past_its_timeout_is_stopped_and_its_plate_failed(tmp_path):
    now = [1000.0]
    robot = FakeRobotServer(commands_per_poll=1)
    settings = _settings(tmp_path, run_timeout_s=60)
    client = httpx.Client(base_url=settings.base_url, transport=httpx.MockTransport(robot))
    lab = OpentronsLab(settings, client, clock=lambda: now[0], sleep=lambda s: None)
    job = lab.submit(_batch()).job_id
    now[0] += 61
    assert lab.poll(job).status == JobStatus.FAILED
    assert "passed run_timeout_s=60" in lab.collect(job)[0].error


def test_another_run_on_the_robot_makes_the_plate_wait(tmp_path):
    robot = FakeRobotServer()
    robot.runs["run-9999"] = {"id": "run-9999", "status": "running", "current": True,
                              "protocolId": "someone-else", "actions": [], "errors": [],
                              "_commands": [], "_done": 0}
    lab = _lab(tmp_path, robot)
    job = lab.submit(_batch()).job_id
    progress = lab.poll(job)
    assert progress.status == JobStatus.QUEUED and "robot busy with another run" in progress.detail


def test_the_kind_and_its_settings_come_through_the_entry_point(scratch_registry, tmp_path):
    lab = make_adapter("opentrons", base_url="http://10.0.0.12:31950", inbox=str(tmp_path / "i"),
                       outbox=str(tmp_path / "o"), deck={"robot_type": "OT-2"})
    assert isinstance(lab, OpentronsLab) and lab.settings.deck.robot_type == "OT-2"
    lab.close()
    with pytest.raises(ValueError) as raised:
        make_adapter("opentrons", base_url="ftp://robot", inbox=str(tmp_path / "i"),
                     outbox=str(tmp_path / "o"), api_version="three")
    fields = [line.split(": ")[1] for line in str(raised.value).splitlines()]
    assert fields == ["base_url", "api_version"]


def test_a_run_the_robot_no_longer_knows_fails_its_plate_and_the_job_goes_on(tmp_path):
    robot = FakeRobotServer(commands_per_poll=1)
    lab = _lab(tmp_path, robot)
    job = lab.submit(_batch()).job_id
    robot.runs.clear()  # e.g. someone deleted it on the robot
    assert lab.poll(job).status == JobStatus.FAILED
    (first, *_) = lab.collect(job)
    assert "the robot refused its run: Run run-0003 was not found." in first.error


def test_a_404_from_the_robot_is_a_rejection(tmp_path):
    lab = _lab(tmp_path, FakeRobotServer())
    with pytest.raises(LabRejected) as raised:
        lab.robot.run("run-nope")
    assert raised.value.status == 404 and "was not found" in raised.value.detail


def test_importing_adapters_does_not_import_opentrons():
    code = ("import sys, adapters, adapters.opentrons_lab, adapters.plates, adapters.testing; "
            "sys.exit('opentrons' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
