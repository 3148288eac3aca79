"""The `madsci` kind against a real MADSci REST node (madsci-node-module) on loopback."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from adapters import registry
from adapters import (
    JobStatus, LabRejected, LabUnavailable, ResultStatus, adapter_kinds, make_adapter,
    validate_settings,
)

pytest.importorskip("madsci.node_module", reason="madsci-node-module is not installed: "
                    "pip install 'loopwell[madsci]'")
pytest.importorskip("madsci.client", reason="madsci-client is not installed: "
                    "pip install 'loopwell[madsci]'")

from adapters._jobbook import JobBook, batch_key  # noqa: E402
from adapters.madsci import MadsciLab, MadsciLabSettings  # noqa: E402
from adapters.sila.instrument import free_port  # noqa: E402

from .conftest import LOOKUP  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _registry_as_found(monkeypatch):
    """Load the entry-point kinds into a copy of the registry, not the real one
    (other tests count the kinds of a registry without plug-ins)."""
    monkeypatch.setattr(registry, "_KINDS", dict(registry._KINDS))
    monkeypatch.setattr(registry, "_BROKEN_PLUGINS", registry._BROKEN_PLUGINS)


@pytest.fixture(scope="module")
def node_url(tmp_path_factory):
    """A simulated assay instrument as a real MADSci REST node (its own uvicorn) on 127.0.0.1."""
    home = tmp_path_factory.mktemp("madsci-node")
    (home / "lookup.json").write_text(json.dumps(LOOKUP))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NODE_", "MADSCI_"))}
    env["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.madsci.node", "lookup.json", "--host", "127.0.0.1",
         "--port", str(port), "--sample-time-s", "0.03"],
        cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=(home / "node.log").open("w"))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                if httpx.get(f"{url}/status", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the MADSci node did not start: "
                                   f"{(home / 'node.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _lab(node_url, **settings) -> MadsciLab:
    lab = make_adapter("madsci", node_url=node_url, timeout_s=5, **settings)
    assert isinstance(lab, MadsciLab)
    return lab


def _wait(lab, job_id, seen=None):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        progress = lab.poll(job_id)
        if seen is not None:
            seen.append(progress.status)
        if progress.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            return progress
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end")


def _admin(node_url, command):
    assert httpx.post(f"{node_url}/admin/{command}", timeout=5).json()["success"]


def _n_actions(node_url) -> int:
    return len(httpx.get(f"{node_url}/action", timeout=5).json())


def test_a_batch_is_measured(node_url, make_batch):
    batch = make_batch(["KO:ZAP70", "KO:LCP2", "KO:CBLB", "KO:AAVS1"])
    with _lab(node_url) as lab:
        receipt = lab.submit(batch)
        final = _wait(lab, receipt.job_id)
        results = lab.collect(receipt.job_id)
    assert final.status is JobStatus.DONE and final.n_done == final.n_total == 4
    assert {(r.experiment_id, r.candidate_id, r.value, r.status) for r in results} == {
        (e.experiment_id, e.candidate_id, LOOKUP[e.candidate_id], ResultStatus.OK)
        for e in batch.experiments}


def test_a_failing_action_fails_each_experiment_with_the_nodes_error(node_url, make_batch):
    with _lab(node_url) as lab:
        receipt = lab.submit(make_batch(["KO:ZAP70", "KO:NOPE"], prefix="fail"))
        final = _wait(lab, receipt.job_id)
        results = lab.collect(receipt.job_id)
    assert final.status is JobStatus.FAILED
    assert [r.status for r in results] == [ResultStatus.FAILED] * 2
    assert all("SampleNotFound" in r.error and "KO:NOPE" in r.error for r in results)


def test_a_paused_action_is_still_running_and_then_done(node_url, make_batch):
    with _lab(node_url) as lab:
        receipt = lab.submit(make_batch(["KO:CD5"] * 30, prefix="pause"))
        _admin(node_url, "pause")
        try:
            time.sleep(0.1)
            node_status = httpx.get(f"{node_url}/action/{receipt.job_id}/status").json()
            assert node_status == "paused"
            assert lab.poll(receipt.job_id).status is JobStatus.RUNNING
            assert lab.collect(receipt.job_id) == []
        finally:
            _admin(node_url, "resume")
        assert _wait(lab, receipt.job_id).status is JobStatus.DONE
        assert len(lab.collect(receipt.job_id)) == 30


def test_cancel_ends_the_action_with_nothing_collected(node_url, make_batch):
    with _lab(node_url) as lab:
        receipt = lab.submit(make_batch(["KO:CD5"] * 60, prefix="cancel"))
        lab.cancel(receipt.job_id)
        final = _wait(lab, receipt.job_id)
        assert final.status is JobStatus.CANCELLED
        assert lab.collect(receipt.job_id) == []
        lab.cancel(receipt.job_id)  # cancelling an ended action is no error


def test_a_node_not_ready_fails_the_batch_with_the_reason(node_url, make_batch):
    _admin(node_url, "lock")
    try:
        with _lab(node_url) as lab:
            receipt = lab.submit(make_batch(["KO:CD5"], prefix="locked"))
            assert lab.poll(receipt.job_id).status is JobStatus.FAILED
            (result,) = lab.collect(receipt.job_id)
    finally:
        _admin(node_url, "unlock")
    assert result.status is ResultStatus.FAILED and "not_ready" in result.error
    assert "NodeNotReady" in result.error


def test_an_action_the_node_forgot_fails_after_the_poll_limit(node_url, make_batch, tmp_path):
    batch = make_batch(["KO:CD5"], prefix="forgot")
    book = JobBook(tmp_path / "jobs.json")
    book.reserve(batch)
    book.settle(batch_key(batch), "01NOSUCHACTIONONTHISNODE00", started=True)
    with _lab(node_url, state_file=str(tmp_path / "jobs.json"), max_unknown_polls=3) as lab:
        statuses = [lab.poll("01NOSUCHACTIONONTHISNODE00").status for _ in range(3)]
        (result,) = lab.collect("01NOSUCHACTIONONTHISNODE00")
        with pytest.raises(LabRejected) as caught:  # unknown to the node and to the book
            lab.poll("01SOMEONEELSESACTION000000")
    assert statuses == [JobStatus.RUNNING, JobStatus.RUNNING, JobStatus.FAILED]
    assert result.status is ResultStatus.FAILED and "does not know action" in result.error
    assert caught.value.status == 404


def test_a_resubmission_after_kill_9_starts_nothing(node_url, make_batch, tmp_path):
    batch = make_batch(["KO:ZAP70", "KO:CD247"], prefix="crash")
    state = tmp_path / "jobs.json"
    code = f"""
import os, signal, sys
sys.path.insert(0, {str(ROOT)!r})
from adapters import BatchRequest, make_adapter
lab = make_adapter("madsci", node_url={node_url!r}, timeout_s=5, state_file={str(state)!r})
lab.submit(BatchRequest.model_validate_json({batch.model_dump_json()!r}))
os.kill(os.getpid(), signal.SIGKILL)
"""
    n_before = _n_actions(node_url)
    killed = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert _n_actions(node_url) == n_before + 1
    with _lab(node_url, state_file=str(state)) as lab:
        receipt = lab.submit(batch)
        assert receipt.job_id == JobBook(state).entry_for(batch)["job_id"]
        _wait(lab, receipt.job_id)
        assert len(lab.collect(receipt.job_id)) == 2
    assert _n_actions(node_url) == n_before + 1


def test_a_crash_between_create_and_start_starts_the_action_once(node_url, make_batch, tmp_path):
    state = tmp_path / "jobs.json"
    for prefix, was_started in (("created", False), ("started", True)):
        batch = make_batch(["KO:CBLB"], prefix=prefix)
        with _lab(node_url, state_file=str(state)) as first:  # dies after create (and start)
            first.book.reserve(batch)
            action_id = first._create(batch)
            first.book.settle(batch_key(batch), action_id, started=False)
            if was_started:
                first._connect()._start_action("measure", action_id, timeout=5)
        n_before = _n_actions(node_url)
        with _lab(node_url, state_file=str(state)) as second:
            assert second.submit(batch).job_id == action_id
            assert _wait(second, action_id).status is JobStatus.DONE
        assert _n_actions(node_url) == n_before + (0 if was_started else 1)


def test_a_batch_reusing_experiment_ids_is_refused(node_url, make_batch):
    with _lab(node_url) as lab:
        lab.submit(make_batch(["KO:ZAP70", "KO:CBLB"], prefix="reuse"))
        with pytest.raises(LabRejected) as caught:
            lab.submit(make_batch(["KO:ZAP70"], prefix="reuse"))
    assert caught.value.status == 409


def test_an_unreachable_node_is_unavailable_after_the_one_retry_policy(make_batch):
    waits: list[float] = []
    lab = MadsciLab(MadsciLabSettings(node_url=f"http://127.0.0.1:{free_port()}", retries=2,
                                      backoff_s=0.01, timeout_s=1),
                    sleep=waits.append, jitter=lambda: 1.0)
    with pytest.raises(LabUnavailable, match="gave up after 3 attempts") as caught:
        lab.submit(make_batch(["KO:ZAP70"]))
    assert caught.value.n_attempts == 3 and waits == [0.01, 0.02]


@pytest.mark.parametrize(("settings", "field"), [
    ({"node_url": "ftp://x"}, "node_url"),
    ({"node_url": "http://127.0.0.1:2000", "max_unknown_polls": 0}, "max_unknown_polls"),
    ({"node_url": "http://127.0.0.1:2000", "timeout_s": 0}, "timeout_s"),
    ({"node_url": "http://127.0.0.1:2000", "url": "x"}, "url"),
])
def test_a_bad_setting_names_its_field(settings, field):
    with pytest.raises(ValueError, match=rf"bad setting for lab adapter 'madsci': {field}"):
        validate_settings("madsci", settings)


def test_the_kind_is_an_entry_point_and_registered():
    points = importlib.metadata.entry_points(group="loopwell.adapters")
    assert {p.name: p.value for p in points}.get("madsci") == "adapters.madsci:register"
    assert "madsci" in adapter_kinds()


def test_importing_adapters_does_not_import_madsci():
    code = ("import sys, adapters, adapters.madsci, adapters.madsci.node; "
            "assert not any(m.split('.')[0] == 'madsci' for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
