# Past 300 lines on purpose: one test module for the one simulated lab, as BoTorch mirrors its package.
"""Tests of `adapters.simulated` (and the maths in `adapters._simulation`)."""

from __future__ import annotations

import json
import statistics

import pytest

from adapters import (
    BatchRequest,
    ExperimentRequest,
    JobStatus,
    LabAdapter,
    LabError,
    LabRejected,
    ResultStatus,
    SimulatedLab,
)
from adapters._simulation import draw_unit, ready_offset

from .conftest import LOOKUP, FakeClock

ALL = list(LOOKUP)


def _values(results) -> dict[tuple[str, int], float | None]:
    return {(r.experiment_id, r.replicate): r.value for r in results}


def test_is_a_lab_adapter(lookup):
    assert isinstance(SimulatedLab(lookup), LabAdapter)


def test_values_equal_the_lookup(lookup, make_batch):
    lab = SimulatedLab(lookup)
    batch = make_batch(ALL)
    receipt = lab.submit(batch)
    assert receipt.n_accepted == len(ALL)
    results = lab.collect(receipt.job_id)
    assert {r.candidate_id: r.value for r in results} == LOOKUP
    assert all(r.status is ResultStatus.OK and r.error is None for r in results)
    assert lab.poll(receipt.job_id).status is JobStatus.DONE


def test_replicates_each_get_a_result(lookup, make_batch):
    lab = SimulatedLab(lookup, n_replicates=3, noise_sd=0.5)
    results = lab.collect(lab.submit(make_batch(["KO:CD5"])).job_id)
    assert [r.replicate for r in results] == [0, 1, 2]
    assert len({r.value for r in results}) == 3


def test_noise_is_deterministic_across_instances(lookup, make_batch):
    batch = make_batch(ALL * 5, prefix="e")
    runs = [SimulatedLab(lookup, noise_sd=0.3, seed=7) for _ in range(2)]
    first, second = (_values(lab.collect(lab.submit(batch).job_id)) for lab in runs)
    assert first == second
    other = SimulatedLab(lookup, noise_sd=0.3, seed=8)
    assert _values(other.collect(other.submit(batch).job_id)) != first


def test_noise_depends_on_experiment_not_on_batch(lookup, make_batch):
    whole = SimulatedLab(lookup, noise_sd=0.3)
    values = _values(whole.collect(whole.submit(make_batch(ALL, prefix="e")).job_id))
    split = SimulatedLab(lookup, noise_sd=0.3)
    batch = make_batch(ALL, prefix="e")
    halves = [batch.experiments[3:], batch.experiments[:3]]  # other order, two jobs
    for part in halves:
        job = split.submit(BatchRequest(campaign="ifng", round=0, experiments=part))
        for r in split.collect(job.job_id):
            assert r.value == values[(r.experiment_id, r.replicate)]


def test_noise_has_the_asked_spread(make_batch):
    lab = SimulatedLab({"x": 10.0}, noise_sd=2.0)
    results = lab.collect(lab.submit(make_batch(["x"] * 2000)).job_id)
    values = [r.value for r in results]
    assert statistics.fmean(values) == pytest.approx(10.0, abs=0.2)
    assert statistics.stdev(values) == pytest.approx(2.0, rel=0.1)


def test_unknown_candidates_come_back_failed(lookup, make_batch):
    lab = SimulatedLab(lookup)
    receipt = lab.submit(make_batch(["KO:ZAP70", "KO:NOPE"]))
    assert receipt.n_accepted == 2
    ok, failed = lab.collect(receipt.job_id)
    assert ok.status is ResultStatus.OK and ok.value == LOOKUP["KO:ZAP70"]
    assert failed.status is ResultStatus.FAILED and failed.value is None
    assert failed.error == "unknown candidate 'KO:NOPE'"
    assert failed.candidate_id == "KO:NOPE"


def test_failures_are_deterministic_and_near_the_rate(make_batch):
    batch = make_batch(["x"] * 1000)
    failed_sets = []
    for _ in range(2):
        lab = SimulatedLab({"x": 1.0}, failure_rate=0.2, seed=3)
        results = lab.collect(lab.submit(batch).job_id)
        failed_sets.append({r.experiment_id for r in results
                            if r.status is ResultStatus.FAILED})
    assert failed_sets[0] == failed_sets[1]
    assert 150 < len(failed_sets[0]) < 250


def test_a_job_whose_every_experiment_failed_is_failed(make_batch):
    lab = SimulatedLab({"x": 1.0}, failure_rate=1.0)
    receipt = lab.submit(make_batch(["x", "x"]))
    assert lab.poll(receipt.job_id).status is JobStatus.FAILED
    assert all("simulated failure" in r.error for r in lab.collect(receipt.job_id))


def test_latency_holds_results_back(lookup, make_batch, clock):
    lab = SimulatedLab(lookup, latency_s=60, clock=clock)
    receipt = lab.submit(make_batch(ALL))
    clock.advance(59.9)
    progress = lab.poll(receipt.job_id)
    assert (progress.status, progress.n_total, progress.n_done) == (JobStatus.QUEUED, 6, 0)
    assert lab.collect(receipt.job_id) == []
    clock.advance(0.1)
    assert lab.poll(receipt.job_id).status is JobStatus.DONE
    assert len(lab.collect(receipt.job_id)) == len(ALL)


def test_partial_delivery_spreads_ready_times(make_batch, clock):
    lab = SimulatedLab({"x": 1.0}, latency_s=100, partial_fraction=0.0, clock=clock)
    receipt = lab.submit(make_batch(["x"] * 50))
    seen: list[str] = []
    for _ in range(4):
        clock.advance(25)
        progress = lab.poll(receipt.job_id)
        new = lab.collect(receipt.job_id)
        seen += [r.experiment_id for r in new]
        assert progress.n_done == len(seen)
        if clock.now < 1100:
            assert 0 < len(seen) < 50 and progress.status is JobStatus.RUNNING
    assert sorted(seen) == sorted(e.experiment_id for e in make_batch(["x"] * 50).experiments)
    assert lab.poll(receipt.job_id).status is JobStatus.DONE


def test_partial_fraction_is_the_share_held_to_the_end():
    offsets = [ready_offset(f"e{i}", seed=0, latency_s=10.0, partial_fraction=0.25)
               for i in range(2000)]
    held = sum(o == 10.0 for o in offsets) / len(offsets)
    assert held == pytest.approx(0.25, abs=0.04)
    assert all(0.0 <= o <= 10.0 for o in offsets)
    assert ready_offset("e", seed=0, latency_s=10.0, partial_fraction=1.0) == 10.0


def test_draws_are_fixed_by_their_parts():
    assert draw_unit(0, "noise", "e1", 0) == draw_unit(0, "noise", "e1", 0)
    assert draw_unit(0, "noise", "e1", 0) != draw_unit(0, "noise", "e1", 1)
    assert 0.0 < draw_unit("anything") < 1.0


def test_collect_delivers_once_unless_duplicating(lookup, make_batch):
    once = SimulatedLab(lookup)
    job = once.submit(make_batch(ALL)).job_id
    assert len(once.collect(job)) == len(ALL) and once.collect(job) == []
    twice = SimulatedLab(lookup, duplicate_deliveries=True)
    job = twice.submit(make_batch(ALL)).job_id
    assert twice.collect(job) == twice.collect(job) and len(twice.collect(job)) == len(ALL)


def test_cancel_withdraws_what_is_not_ready(make_batch, clock):
    lab = SimulatedLab({"x": 1.0}, latency_s=100, partial_fraction=0.0, clock=clock)
    receipt = lab.submit(make_batch(["x"] * 40))
    clock.advance(50)
    n_ready = lab.poll(receipt.job_id).n_done
    lab.cancel(receipt.job_id)
    clock.advance(1000)
    progress = lab.poll(receipt.job_id)
    assert progress.status is JobStatus.CANCELLED
    assert (progress.n_total, progress.n_done) == (40, n_ready)
    assert len(lab.collect(receipt.job_id)) == n_ready


def test_cancelling_a_finished_job_changes_nothing(lookup, make_batch):
    lab = SimulatedLab(lookup)
    job = lab.submit(make_batch(ALL)).job_id
    lab.cancel(job)
    assert lab.poll(job).status is JobStatus.DONE
    assert len(lab.collect(job)) == len(ALL)


@pytest.mark.parametrize("call", ["poll", "collect", "cancel"])
def test_unknown_jobs_raise(lookup, call):
    with pytest.raises(LabRejected, match="unknown job 'nope'") as raised:
        getattr(SimulatedLab(lookup), call)("nope")
    assert (raised.value.status, raised.value.detail) == (404, "unknown job 'nope'")


def test_resubmitting_a_batch_returns_the_same_job(lookup, make_batch):
    lab = SimulatedLab(lookup, noise_sd=1.0, duplicate_deliveries=True)
    batch = make_batch(ALL)
    first = lab.submit(batch)
    values = _values(lab.collect(first.job_id))
    assert lab.submit(batch) == first
    assert _values(lab.collect(first.job_id)) == values  # measured once only
    assert lab.n_submitted == len(ALL)
    assert lab.submitted_ids() == [e.experiment_id for e in batch.experiments]
    assert lab.job_ids() == [first.job_id]


def test_overlapping_or_altered_resubmissions_are_refused(lookup, make_batch):
    lab = SimulatedLab(lookup)
    batch = make_batch(ALL)
    lab.submit(batch)
    overlapping = make_batch(ALL + ["KO:CD5"])
    with pytest.raises(LabRejected, match="already submitted in job") as raised:
        lab.submit(overlapping)
    assert raised.value.status == 409
    altered = BatchRequest(campaign="ifng", round=0, experiments=[
        ExperimentRequest(experiment_id=batch.experiments[0].experiment_id,
                          candidate_id="KO:CD5")])
    with pytest.raises(LabError, match="different content"):
        lab.submit(altered)
    assert lab.n_submitted == len(ALL)


def test_state_survives_a_new_instance(lookup, make_batch, tmp_path):
    path = tmp_path / "lab" / "state.json"
    clock = FakeClock()
    old = SimulatedLab(lookup, noise_sd=0.5, latency_s=10, partial_fraction=0.0,
                       clock=clock, state_path=path)
    batch = make_batch(ALL)
    job = old.submit(batch).job_id
    clock.advance(5)
    early = old.collect(job)
    del old  # the process "crashes" here

    new = SimulatedLab(lookup, noise_sd=0.5, latency_s=10, clock=clock, state_path=path)
    assert new.n_submitted == len(ALL) and new.submitted_ids() == [
        e.experiment_id for e in batch.experiments]
    assert new.submit(batch).job_id == job  # resumed loop resubmits: no new measurement
    assert new.n_submitted == len(ALL)
    assert new.collect(job) == early  # a new instance delivers again
    clock.advance(5)
    resumed = _values(new.collect(job) + early)

    straight = SimulatedLab(lookup, noise_sd=0.5)
    assert resumed == _values(straight.collect(straight.submit(batch).job_id))
    assert new.submit(make_batch(["KO:CD5"], round=1)).job_id != job
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temp left


def test_cancellation_is_persisted(make_batch, tmp_path, clock):
    path = tmp_path / "state.json"
    lab = SimulatedLab({"x": 1.0}, latency_s=10, clock=clock, state_path=path)
    job = lab.submit(make_batch(["x", "x"])).job_id
    lab.cancel(job)
    clock.advance(100)
    again = SimulatedLab({"x": 1.0}, clock=clock, state_path=path)
    assert again.poll(job).status is JobStatus.CANCELLED
    assert again.collect(job) == []


def test_state_file_is_json_with_nan_kept(make_batch, tmp_path):
    path = tmp_path / "state.json"
    lab = SimulatedLab({"x": float("nan")}, state_path=path)
    job = lab.submit(make_batch(["x"])).job_id
    assert json.loads(path.read_text())["n_jobs"] == 1
    (result,) = SimulatedLab({}, state_path=path).collect(job)
    assert result.value != result.value  # NaN, as measured


def test_a_corrupt_state_file_raises(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(LabError, match="state file .*; move it away") as raised:
        SimulatedLab({}, state_path=path)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("knob", [{"noise_sd": -1}, {"failure_rate": 1.5},
                                  {"partial_fraction": -0.1}, {"latency_s": -2},
                                  {"n_replicates": 0}])
def test_bad_knobs_raise(knob):
    with pytest.raises(ValueError, match=next(iter(knob))):
        SimulatedLab({}, **knob)


def test_experiments_are_measured_when_submitted(make_batch, clock):
    table = {"x": 1.0}
    lab = SimulatedLab(table, latency_s=10, clock=clock)
    job = lab.submit(make_batch(["x"])).job_id
    table["x"] = 2.0  # a later change of the table does not rewrite a measurement
    clock.advance(10)
    assert lab.collect(job)[0].value == 1.0
    assert lab.lookup is table


@pytest.mark.parametrize("partial_fraction", [0.0, 0.3, 0.5, 0.99, 1.0])
@pytest.mark.parametrize("failure_rate", [0.0, 0.4, 1.0])
def test_a_job_is_done_only_when_every_experiment_has_a_result(
        make_batch, clock, partial_fraction, failure_rate):
    """A done (or failed) job never hides undelivered experiments: each has a value
    or an explicit failure with an error, whatever `partial_fraction` is."""
    lab = SimulatedLab({"x": 1.0}, latency_s=100, partial_fraction=partial_fraction,
                       failure_rate=failure_rate, clock=clock)
    batch = make_batch(["x"] * 30 + ["unknown"] * 3)
    job = lab.submit(batch).job_id
    collected = []
    for _ in range(12):
        progress = lab.poll(job)
        collected += lab.collect(job)
        has_result = {r.experiment_id for r in collected}
        if progress.status in (JobStatus.DONE, JobStatus.FAILED):
            assert has_result == {e.experiment_id for e in batch.experiments}
            assert progress.n_done == progress.n_total == len(batch.experiments)
            assert all(r.error for r in collected if r.status is ResultStatus.FAILED)
        else:
            assert progress.status in (JobStatus.QUEUED, JobStatus.RUNNING)
            assert len(has_result) == progress.n_done < progress.n_total
        clock.advance(10)
    assert progress.status is (JobStatus.FAILED if failure_rate == 1.0 else JobStatus.DONE)


def test_only_a_cancelled_job_leaves_experiments_without_results(make_batch, clock):
    lab = SimulatedLab({"x": 1.0}, latency_s=100, partial_fraction=0.5, clock=clock)
    batch = make_batch(["x"] * 40)
    job = lab.submit(batch).job_id
    clock.advance(50)
    lab.cancel(job)
    clock.advance(100)
    progress = lab.poll(job)
    results = lab.collect(job)
    assert progress.status is JobStatus.CANCELLED
    assert 0 < len(results) == progress.n_done < progress.n_total == 40
