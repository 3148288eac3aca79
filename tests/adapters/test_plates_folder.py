"""Tests of the plate-reader folder lab on real files: plates out, reader exports in."""

from __future__ import annotations

import json
import os

import pytest

from adapters import (
    BatchRequest, ExperimentRequest, JobStatus, LabRejected, MeasurementResult, RejectedResult,
    ResultStatus, make_adapter,
)
from adapters.plates import PlateFolderLab, PlateFolderSettings, PlateMap, Role
from adapters.plates.layout import FORMATS

SIGNAL = {"KO:ZAP70": 30.0, "KO:CBLB": 80.0, "KO:CD5": 55.0}


def _settings(tmp_path, **overrides) -> PlateFolderSettings:
    options = dict(inbox=tmp_path / "inbox", outbox=tmp_path / "outbox", settle_s=0,
                   positive_controls=["PMA"], negative_controls=["DMSO"])
    options.update(overrides)
    return PlateFolderSettings(**options)


def _batch(candidates=tuple(SIGNAL), *, round=0) -> BatchRequest:
    return BatchRequest(campaign="ifng", round=round, experiments=[
        ExperimentRequest(experiment_id=f"ifng-r{round}-{c}", candidate_id=c)
        for c in candidates])


def _values(plate: PlateMap, *, spread: float = 1.0) -> dict[str, float]:
    """Readings of a plate: controls at 100 and 10 (+/- spread), samples at SIGNAL + replicate."""
    out, seen = {}, {Role.POSITIVE: 0, Role.NEGATIVE: 0, Role.SAMPLE: 0}
    for w in plate.wells:
        seen[w.role] += 1
        jitter = spread * (1 if seen[w.role] % 2 else -1)  # balanced: the means stay put
        out[w.well] = {Role.POSITIVE: 100.0 + jitter, Role.NEGATIVE: 10.0 + jitter}.get(
            w.role, SIGNAL.get(w.candidate_id, 42.0) + w.replicate)
    return out


def _long(values: dict[str, str | float], plate_id: str | None = None) -> str:
    head = "plate,well,value\n" if plate_id else "well,value\n"
    return head + "".join(f"{plate_id + ',' if plate_id else ''}{w},{v}\n"
                          for w, v in values.items())


def _grid(values: dict[str, float], plate_id: str, n_wells: int = 96) -> str:
    n_rows, n_cols = FORMATS[n_wells]
    lines = ["##BLOCKS= 1", f"Plate ID:\t{plate_id}", "Read mode:\tAbsorbance", "",
             "\t" + "\t".join(str(c) for c in range(1, n_cols + 1))]
    for r in range(n_rows):
        letter = chr(65 + r)
        lines.append(letter + "\t" + "\t".join(
            f"{values.get(f'{letter}{c}', 0.0):.3f}" for c in range(1, n_cols + 1)))
    return "\n".join(lines + ["", "~End"]) + "\n"


def _drop(settings: PlateFolderSettings, name: str, text: str) -> None:
    settings.inbox.mkdir(parents=True, exist_ok=True)
    (settings.inbox / name).write_text(text)


def _ok(results) -> dict[tuple[str, int], float]:
    return {(r.experiment_id, r.replicate): r.value for r in results
            if isinstance(r, MeasurementResult) and r.status == ResultStatus.OK}


def test_submit_writes_a_worklist_and_plate_map_into_the_outbox(tmp_path):
    settings = _settings(tmp_path)
    lab = PlateFolderLab(settings)
    receipt = lab.submit(_batch())
    (plate,) = lab.plates(receipt.job_id)
    assert receipt.n_accepted == 3 and plate.plate_id == f"{receipt.job_id}-p1"
    worklist = (settings.outbox / f"{plate.plate_id}.worklist.csv").read_text().splitlines()
    assert worklist[0].startswith("step,plate_id,source_labware,source_well,destination_well")
    assert len(worklist) == 1 + 8 + 6  # controls and 3 x 2 replicates
    saved = json.loads((settings.outbox / f"{plate.plate_id}.platemap.json").read_text())
    assert PlateMap.model_validate({k: saved[k] for k in ("plate_id", "n_wells", "wells")}) == plate
    progress = lab.poll(receipt.job_id)
    assert (progress.status, progress.n_done, progress.n_total) == (JobStatus.QUEUED, 0, 3)
    assert progress.detail == "0 of 1 plates read, 0 of 14 wells"


def test_a_long_export_comes_back_normalised_per_replicate(tmp_path):
    settings = _settings(tmp_path)
    lab = PlateFolderLab(settings)
    job = lab.submit(_batch()).job_id
    (plate,) = lab.plates(job)
    _drop(settings, "reader-export.csv", _long(_values(plate), plate.plate_id))
    results = lab.collect(job)
    got = _ok(results)
    assert len(got) == 6 and all(isinstance(r, MeasurementResult) for r in results)
    # 0 at the negative mean (10), 100 at the positive mean (100)
    assert got[("ifng-r0-KO:ZAP70", 0)] == pytest.approx(100 * (30 - 10) / 90)
    assert got[("ifng-r0-KO:CBLB", 1)] == pytest.approx(100 * (81 - 10) / 90)
    assert {r.candidate_id for r in results} == set(SIGNAL)
    progress = lab.poll(job)
    assert (progress.status, progress.n_done) == (JobStatus.DONE, 3)
    assert progress.detail.startswith("1 of 1 plates read, 14 of 14 wells")
    assert (settings.inbox / "done" / "reader-export.csv").exists()
    assert lab.collect(job) == []  # each result once per instance


def test_a_grid_export_named_by_its_file_is_read_with_raw_values(tmp_path):
    settings = _settings(tmp_path, plate_wells=384, skip_edge_wells=True, normalisation="raw",
                         n_replicates=3)
    lab = PlateFolderLab(settings)
    job = lab.submit(_batch()).job_id
    (plate,) = lab.plates(job)
    text = _grid(_values(plate), plate_id="", n_wells=384).replace("Plate ID:\t\n", "")
    _drop(settings, f"{plate.plate_id}_2026-12-02.txt", text)
    got = _ok(lab.collect(job))
    assert got[("ifng-r0-KO:CD5", 2)] == pytest.approx(57.0)
    assert len(got) == 9 and lab.poll(job).status == JobStatus.DONE


def test_a_plate_below_min_z_prime_is_rejected_then_a_reread_is_ingested(tmp_path):
    settings = _settings(tmp_path, min_z_prime=0.5)
    lab = PlateFolderLab(settings)
    job = lab.submit(_batch()).job_id
    (plate,) = lab.plates(job)
    _drop(settings, "first-read.csv", _long(_values(plate, spread=20.0), plate.plate_id))
    (rejected,) = lab.collect(job)
    assert isinstance(rejected, RejectedResult)
    assert "Z' -0.54 is below min_z_prime 0.5" in rejected.reason
    assert rejected.payload == {"file": "first-read.csv"}
    assert (settings.inbox / "quarantine" / "first-read.csv").exists()
    assert "Z' -0.54" in (settings.inbox / "quarantine" / "first-read.csv.reason.txt").read_text()
    progress = lab.poll(job)
    assert (progress.status, progress.n_done) == (JobStatus.RUNNING, 0)  # still pending
    assert "1 read(s) rejected" in progress.detail
    _drop(settings, "re-read.csv", _long(_values(plate, spread=1.0), plate.plate_id))
    assert len(_ok(lab.collect(job))) == 6 and lab.poll(job).status == JobStatus.DONE


def test_a_foreign_or_broken_file_is_quarantined_with_its_reason(tmp_path):
    settings = _settings(tmp_path)
    lab = PlateFolderLab(settings)
    job = lab.submit(_batch()).job_id
    _drop(settings, "notes.csv", "name,score\nKO:A,1\n")
    _drop(settings, "other-lab.csv", _long({"A1": 1.0}, "someone-elses-plate"))
    _drop(settings, ".hidden.csv", "well,value\nA1,1\n")
    _drop(settings, "still-copying.csv.part", "well,value\n")
    reasons = {r.payload["file"]: r.reason for r in lab.collect(job)}
    assert set(reasons) == {"notes.csv", "other-lab.csv"}
    assert "not a plate-reader export" in reasons["notes.csv"]
    assert "names plate 'someone-elses-plate', not one of this lab's" in reasons["other-lab.csv"]
    assert sorted(p.name for p in (settings.inbox / "quarantine").iterdir()) == [
        "notes.csv", "notes.csv.reason.txt", "other-lab.csv", "other-lab.csv.reason.txt"]
    assert (settings.inbox / ".hidden.csv").exists()
    assert (settings.inbox / "still-copying.csv.part").exists()
    assert lab.collect(job) == []  # a rejection is handed out once


def test_a_file_dropped_twice_is_ingested_once(tmp_path):
    settings = _settings(tmp_path)
    lab = PlateFolderLab(settings)
    job = lab.submit(_batch()).job_id
    (plate,) = lab.plates(job)
    text = _long(_values(plate), plate.plate_id)
    _drop(settings, "read.csv", text)
    assert len(_ok(lab.collect(job))) == 6
    _drop(settings, "read.csv", text)          # the same export copied in again
    _drop(settings, "read (copy).csv", text)
    assert lab.collect(job) == []
    assert sorted(p.name for p in (settings.inbox / "done").iterdir()) == [
        "read (copy).csv.duplicate", "read.csv", "read.csv.duplicate"]
    assert not (settings.inbox / "quarantine").exists()


def test_a_different_second_read_of_a_read_plate_is_quarantined(tmp_path):
    settings = _settings(tmp_path)
    lab = PlateFolderLab(settings)
    job = lab.submit(_batch()).job_id
    (plate,) = lab.plates(job)
    _drop(settings, "a.csv", _long(_values(plate), plate.plate_id))
    lab.collect(job)
    _drop(settings, "b.csv", _long(_values(plate, spread=2.0), plate.plate_id))
    (rejected,) = lab.collect(job)
    assert "was already read from a.csv" in rejected.reason


def test_unreadable_wells_fail_only_experiments_with_no_readable_replicate(tmp_path):
    settings = _settings(tmp_path)
    lab = PlateFolderLab(settings)
    job = lab.submit(_batch()).job_id
    (plate,) = lab.plates(job)
    values: dict[str, object] = _values(plate)
    zap = [w.well for w in plate.wells if w.candidate_id == "KO:ZAP70"]
    cblb = [w.well for w in plate.wells if w.candidate_id == "KO:CBLB"]
    values[zap[0]] = values[zap[1]] = "OVRFLW"
    del values[cblb[0]]
    _drop(settings, "read.csv", _long(values, plate.plate_id))
    results = lab.collect(job)
    (failed,) = [r for r in results if r.status == ResultStatus.FAILED]
    assert failed.experiment_id == "ifng-r0-KO:ZAP70" and "'OVRFLW'" in failed.error
    assert sum(r.experiment_id == "ifng-r0-KO:CBLB" for r in results) == 1
    assert lab.poll(job).n_done == 3


def test_a_restart_keeps_the_plate_and_a_resubmission_gets_it_again(tmp_path):
    settings = _settings(tmp_path)
    first = PlateFolderLab(settings)
    receipt = first.submit(_batch())
    (plate,) = first.plates(receipt.job_id)
    worklist = settings.outbox / f"{plate.plate_id}.worklist.csv"
    written = worklist.read_text()
    worklist.unlink()  # as if killed mid-write
    del first          # kill -9: nothing is flushed on the way out

    again = PlateFolderLab(settings)
    assert again.submit(_batch()) == receipt           # same job, same plate
    assert worklist.read_text() == written
    assert sorted(p.name for p in settings.outbox.iterdir() if p.is_file()) == [
        f"{plate.plate_id}.platemap.json", f"{plate.plate_id}.worklist.csv"]
    _drop(settings, "read.csv", _long(_values(plate), plate.plate_id))
    assert len(_ok(again.collect(receipt.job_id))) == 6
    third = PlateFolderLab(settings)                    # results survive a restart too
    assert len(_ok(third.collect(receipt.job_id))) == 6
    with pytest.raises(LabRejected) as refused:
        third.submit(_batch(["KO:ZAP70"]))
    assert refused.value.status == 409


def test_a_batch_spanning_two_plates_is_done_when_both_are_read(tmp_path):
    settings = _settings(tmp_path, n_replicates=8, n_positive=4, n_negative=4)
    lab = PlateFolderLab(settings)
    candidates = [f"KO:G{i}" for i in range(12)]
    job = lab.submit(_batch(candidates)).job_id
    first, second = lab.plates(job)
    _drop(settings, "one.csv", _long(_values(first), first.plate_id))
    assert lab.poll(job).status == JobStatus.RUNNING
    _drop(settings, "two.csv", _grid(_values(second), second.plate_id))
    assert len(_ok(lab.collect(job))) == 12 * 8
    assert lab.poll(job).status == JobStatus.DONE


def test_cancel_and_timeout_close_the_job_and_refuse_late_reads(tmp_path):
    now = [1_000_000.0]
    settings = _settings(tmp_path, job_timeout_s=3600)
    lab = PlateFolderLab(settings, clock=lambda: now[0])
    cancelled = lab.submit(_batch()).job_id
    lab.cancel(cancelled)
    assert lab.poll(cancelled).status == JobStatus.CANCELLED
    (plate,) = lab.plates(cancelled)
    assert (settings.outbox / f"{plate.plate_id}.CANCELLED.txt").exists()
    os.utime(settings.outbox, None)
    _drop(settings, "late.csv", _long(_values(plate), plate.plate_id))
    (rejected,) = lab.collect(cancelled)
    assert "is closed (cancelled)" in rejected.reason

    slow = lab.submit(_batch(round=1)).job_id
    now[0] += 3601
    assert lab.poll(slow).status == JobStatus.FAILED


def test_a_file_still_being_written_is_left_for_later(tmp_path):
    settings = _settings(tmp_path, settle_s=60)
    lab = PlateFolderLab(settings)
    job = lab.submit(_batch()).job_id
    (plate,) = lab.plates(job)
    _drop(settings, "read.csv", _long(_values(plate), plate.plate_id))
    assert lab.collect(job) == [] and (settings.inbox / "read.csv").exists()


def test_unknown_jobs_are_404(tmp_path):
    with pytest.raises(LabRejected) as raised:
        PlateFolderLab(_settings(tmp_path)).poll("nope")
    assert raised.value.status == 404


def test_the_kind_comes_through_the_entry_point_with_its_settings(scratch_registry, tmp_path):
    lab = make_adapter("plate_folder", inbox=str(tmp_path / "in"), outbox=str(tmp_path / "out"))
    assert isinstance(lab, PlateFolderLab) and lab.settings.plate_wells == 96
    with pytest.raises(ValueError) as raised:
        make_adapter("plate_folder", inbox=str(tmp_path), outbox=str(tmp_path / "o"),
                     plate_wells=48, min_z_prime="high")
    lines = str(raised.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == ["plate_wells", "min_z_prime"]
    with pytest.raises(ValueError, match="min_z_prime needs n_positive and n_negative of 2"):
        make_adapter("plate_folder", inbox=str(tmp_path), outbox=str(tmp_path / "o"),
                     n_positive=1)
