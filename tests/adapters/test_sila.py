"""The `sila` kind against a real SiLA 2 server (the sila2 package) on loopback."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import time

import pytest

from adapters import registry
from adapters import (
    JobStatus, LabRejected, LabUnavailable, MeasurementResult, ResultStatus, adapter_kinds,
    make_adapter, validate_settings,
)

pytest.importorskip("sila2", reason="sila2 is not installed: pip install 'loopwell[sila]'")

from adapters._jobbook import JobBook  # noqa: E402
from adapters.sila import SilaLab, SilaLabSettings  # noqa: E402
from adapters.sila.instrument import free_port, serve_instrument  # noqa: E402

from .conftest import LOOKUP  # noqa: E402


@pytest.fixture(autouse=True)
def _registry_as_found(monkeypatch):
    """Load the entry-point kinds into a copy of the registry, not the real one
    (other tests count the kinds of a registry without plug-ins)."""
    monkeypatch.setattr(registry, "_KINDS", dict(registry._KINDS))
    monkeypatch.setattr(registry, "_BROKEN_PLUGINS", registry._BROKEN_PLUGINS)


@pytest.fixture
def instrument():
    """A simulated assay instrument served by a real SiLA server on 127.0.0.1."""
    with serve_instrument(LOOKUP, port=free_port(), sample_time_s=0.04) as running:
        yield running


def _lab(instrument, **settings) -> SilaLab:
    lab = make_adapter("sila", host="127.0.0.1", port=instrument.port, insecure=True,
                       timeout_s=5, **settings)
    assert isinstance(lab, SilaLab)
    return lab


def _wait(lab: SilaLab, job_id: str, seen: list | None = None):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        progress = lab.poll(job_id)
        if seen is not None:
            seen.append(progress)
        if progress.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            return progress
        time.sleep(0.03)
    raise AssertionError(f"job {job_id} did not finish")


def test_a_batch_is_measured_with_progress_seen_on_the_way(instrument, make_batch):
    batch = make_batch(["KO:ZAP70", "KO:LCP2", "KO:CD247", "KO:CBLB", "KO:CD5", "KO:AAVS1"])
    with _lab(instrument) as lab:
        receipt = lab.submit(batch)
        seen: list = []
        assert lab.collect(receipt.job_id) == []  # nothing before the command ends
        final = _wait(lab, receipt.job_id, seen)
        results = lab.collect(receipt.job_id)
    assert final.status is JobStatus.DONE and final.n_done == final.n_total == 6
    running = [p.n_done for p in seen if p.status is JobStatus.RUNNING]
    assert any(0 < n < 6 for n in running), f"no intermediate progress seen: {seen}"
    assert running == sorted(running)
    assert {(r.experiment_id, r.candidate_id, r.value) for r in results} == {
        (e.experiment_id, e.candidate_id, LOOKUP[e.candidate_id]) for e in batch.experiments}
    assert all(isinstance(r, MeasurementResult) and r.status is ResultStatus.OK for r in results)


def test_the_defined_execution_error_fails_each_experiment_with_its_message(
        instrument, make_batch):
    with _lab(instrument) as lab:
        receipt = lab.submit(make_batch(["KO:ZAP70", "KO:NOPE"]))
        final = _wait(lab, receipt.job_id)
        results = lab.collect(receipt.job_id)
    assert final.status is JobStatus.FAILED
    assert [r.status for r in results] == [ResultStatus.FAILED] * 2
    assert all(r.error.startswith("SampleNotFound: ") and "KO:NOPE" in r.error for r in results)
    assert instrument.log.n_measured == 0


def test_cancel_stops_the_command_and_returns_nothing(instrument, make_batch):
    with _lab(instrument) as lab:
        receipt = lab.submit(make_batch(["KO:ZAP70"] * 40))
        time.sleep(0.15)
        lab.cancel(receipt.job_id)
        final = _wait(lab, receipt.job_id)
        assert lab.collect(receipt.job_id) == []
        lab.cancel(receipt.job_id)  # cancelling an ended command is no error
    assert final.status is JobStatus.CANCELLED and final.n_total == 40
    assert 0 < instrument.log.n_measured < 40


def test_a_resubmission_after_a_crash_is_not_measured_twice(instrument, make_batch, tmp_path):
    batch = make_batch(["KO:ZAP70", "KO:CBLB", "KO:CD5"])
    state = tmp_path / "sila-jobs.json"
    with _lab(instrument, state_file=str(state)) as first:
        receipt = first.submit(batch)
        _wait(first, receipt.job_id)
    # a new process with the saved book: the same receipt, nothing sent
    with _lab(instrument, state_file=str(state)) as second:
        assert second.submit(batch) == receipt
        assert len(second.collect(receipt.job_id)) == 3
    assert instrument.log.batch_keys.count(instrument.log.batch_keys[0]) == 1
    # killed after sending but before saving the execution UUID: sent again under
    # the same key, the server answers from what it measured and measures nothing
    lost = tmp_path / "lost.json"
    JobBook(lost).reserve(batch)
    with _lab(instrument, state_file=str(lost)) as third:
        again = third.submit(batch)
        _wait(third, again.job_id)
        results = third.collect(again.job_id)
    assert again.job_id != receipt.job_id and instrument.log.n_measured == 3
    assert sorted(r.value for r in results) == sorted(
        LOOKUP[c] for c in ["KO:ZAP70", "KO:CBLB", "KO:CD5"])


def test_a_batch_reusing_experiment_ids_is_refused(instrument, make_batch):
    with _lab(instrument) as lab:
        lab.submit(make_batch(["KO:ZAP70", "KO:CBLB"]))
        with pytest.raises(LabRejected) as caught:
            lab.submit(make_batch(["KO:ZAP70"]))
    assert caught.value.status == 409


def test_an_unknown_command_execution_is_404(instrument):
    with _lab(instrument) as lab, pytest.raises(LabRejected) as caught:
        lab.poll("0b8b4a5e-1f8e-4d1a-9a57-000000000000")
    assert caught.value.status == 404


def test_an_unreachable_server_is_unavailable_after_the_one_retry_policy(make_batch):
    waits: list[float] = []
    lab = SilaLab(SilaLabSettings(host="127.0.0.1", port=free_port(), insecure=True,
                                  retries=2, backoff_s=0.01, timeout_s=1),
                  sleep=waits.append, jitter=lambda: 1.0)
    with pytest.raises(LabUnavailable, match="gave up after 3 attempts") as caught:
        lab.submit(make_batch(["KO:ZAP70"]))
    assert caught.value.n_attempts == 3 and waits == [0.01, 0.02]


def test_tls_with_the_servers_certificate_as_root(make_batch, tmp_path):
    from uuid import uuid4

    from sila2.server.encryption import generate_self_signed_certificate

    server_uuid = uuid4()
    key, cert = generate_self_signed_certificate(server_uuid, "127.0.0.1")
    (tmp_path / "ca.pem").write_bytes(cert)
    with serve_instrument(LOOKUP, port=free_port(), sample_time_s=0.0, private_key=key,
                          cert_chain=cert, server_uuid=server_uuid) as running:
        with make_adapter("sila", host="127.0.0.1", port=running.port,
                          root_certs=str(tmp_path / "ca.pem"), timeout_s=5) as lab:
            receipt = lab.submit(make_batch(["KO:CD5"]))
            _wait(lab, receipt.job_id)
            assert [r.value for r in lab.collect(receipt.job_id)] == [LOOKUP["KO:CD5"]]


@pytest.mark.parametrize(("settings", "field"), [
    ({"host": "127.0.0.1", "port": 0}, "port"),
    ({"host": "127.0.0.1", "port": 5, "timeout_s": -1}, "timeout_s"),
    ({"host": "127.0.0.1", "port": 5, "root_certs": "/no/such.pem"}, "root_certs"),
    ({"host": "127.0.0.1", "port": 5, "prot": 5}, "prot"),
])
def test_a_bad_setting_names_its_field(settings, field):
    with pytest.raises(ValueError, match=rf"bad setting for lab adapter 'sila': {field}"):
        validate_settings("sila", settings)


def test_insecure_takes_no_certificates(tmp_path):
    (tmp_path / "ca.pem").write_text("x")
    with pytest.raises(ValueError, match="insecure"):
        validate_settings("sila", {"host": "h", "port": 5, "insecure": True,
                                   "root_certs": str(tmp_path / "ca.pem")})


def test_the_kind_is_an_entry_point_and_registered():
    points = importlib.metadata.entry_points(group="loopwell.adapters")
    assert {p.name: p.value for p in points}.get("sila") == "adapters.sila:register"
    assert "sila" in adapter_kinds()


def test_importing_adapters_does_not_import_sila2():
    code = ("import sys, adapters, adapters.sila, adapters.sila.instrument; "
            "assert 'sila2' not in sys.modules and 'grpc' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
