"""Tests of the wire types in `adapters.base` and of the package's public face."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import types

import pytest
from pydantic import ValidationError

import adapters
from adapters import (
    BatchRequest,
    ExperimentRequest,
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


def _batch(**overrides) -> dict:
    body = {"campaign": "ifng", "round": 0,
            "experiments": [{"experiment_id": "e1", "candidate_id": "KO:CD5"}]}
    return body | overrides


def test_a_batch_round_trips_through_json():
    batch = BatchRequest.model_validate(_batch())
    assert BatchRequest.model_validate_json(batch.model_dump_json()) == batch
    assert batch.experiments[0].parameters == {}


@pytest.mark.parametrize("body", [
    _batch(priority="high"),
    _batch(experiments=[{"experiment_id": "e1", "candidate_id": "c", "dose": 1}]),
    _batch(experiments=[]),
    _batch(round=-1),
    _batch(campaign=""),
    _batch(experiments=[{"experiment_id": "", "candidate_id": "c"}]),
])
def test_bad_requests_are_refused(body):
    with pytest.raises(ValidationError):
        BatchRequest.model_validate(body)


def test_extra_fields_are_named_in_the_error():
    with pytest.raises(ValidationError, match="dose"):
        ExperimentRequest(experiment_id="e", candidate_id="c", dose=1)


def test_experiment_ids_are_unique_within_a_batch():
    twice = [{"experiment_id": "e1", "candidate_id": "a"},
             {"experiment_id": "e1", "candidate_id": "b"}]
    with pytest.raises(ValidationError, match=r"repeated within the batch: \['e1'\]"):
        BatchRequest.model_validate(_batch(experiments=twice))


def test_wire_types_are_frozen():
    receipt = Submission(job_id="j", n_accepted=1)
    with pytest.raises(ValidationError):
        receipt.job_id = "k"


@pytest.mark.parametrize("body", [
    {"job_id": "j", "status": "done", "n_total": 1, "n_done": 1, "eta_s": 3},
    {"job_id": "j", "status": "baking", "n_total": 1, "n_done": 1},
    {"job_id": "j", "status": "done", "n_total": -1, "n_done": 0},
])
def test_bad_progress_is_refused(body):
    with pytest.raises(ValidationError):
        JobProgress.model_validate(body)


def test_results_are_loose_about_values():
    assert math.isnan(MeasurementResult(experiment_id="e", value=float("nan")).value)
    result = MeasurementResult.model_validate_json('{"experiment_id": "e"}')
    assert (result.value, result.replicate, result.status) == (None, 0, ResultStatus.OK)
    with pytest.raises(ValidationError):
        MeasurementResult(experiment_id="e", replicate=-1)


def test_statuses_are_plain_strings_on_the_wire():
    progress = JobProgress(job_id="j", status=JobStatus.RUNNING, n_total=2, n_done=1)
    assert json.loads(progress.model_dump_json())["status"] == "running"
    assert [s.value for s in ResultStatus] == ["ok", "failed"]


def test_the_public_face_matches_all():
    public = {name for name, value in vars(adapters).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)}
    assert sorted(adapters.__all__) == adapters.__all__
    assert set(adapters.__all__) == public
    for name in adapters.__all__:
        assert getattr(adapters, name).__module__.startswith("adapters.")


def test_importing_adapters_imports_nothing_heavy_or_of_ours():
    code = ("import sys, adapters, adapters.testing; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'torch', 'loop', 'agents', 'instruments', 'botorch', 'prefect', 'ray'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_a_rejected_result_keeps_the_payload_and_a_reason():
    rejected = RejectedResult(payload={"experiment_id": "e", "value": "high"},
                              reason="value: Input should be a valid number")
    assert RejectedResult.model_validate_json(rejected.model_dump_json()) == rejected
    with pytest.raises(ValidationError):
        rejected.reason = "other"
    with pytest.raises(ValidationError):
        RejectedResult(payload=None, reason="")


def test_error_kinds():
    rejected = LabRejected("POST /batches: HTTP 422: bad", status=422, detail="bad")
    unavailable = LabUnavailable("GET /batches/j: HTTP 503", n_attempts=4)
    assert isinstance(rejected, LabError) and isinstance(unavailable, LabError)
    assert (rejected.status, rejected.detail) == (422, "bad")
    assert (unavailable.n_attempts, unavailable.retry_after_s) == (4, None)
