"""Judging one result: every rule on plain values, no store."""

import math

import pytest

from adapters import MeasurementResult
from loop.campaign import Experiment
from loop.campaign.ingest import Verdict, judge, parse_result


def _exp(state="dispatched", campaign="c"):
    return Experiment(id="c-r0-G", campaign=campaign, round=0, candidate_id="KO:G", state=state)


def test_a_new_value_is_accepted():
    d = judge({"experiment_id": "c-r0-G", "value": 1.5}, _exp(), "c")
    assert d.verdict == Verdict.ACCEPT and d.result.value == 1.5


def test_the_same_value_again_is_a_duplicate_and_a_different_one_is_refused():
    payload = {"experiment_id": "c-r0-G", "value": 1.5}
    assert judge(payload, _exp("done"), "c", stored=1.5).verdict == Verdict.DUPLICATE
    d = judge({**payload, "value": 2.0}, _exp("done"), "c", stored=1.5)
    assert d.verdict == Verdict.REJECT and "conflicts with the 1.5 already stored" in d.reason


@pytest.mark.parametrize("value", [math.nan, math.inf, None])
def test_a_value_that_is_not_finite_is_refused_and_closes_the_experiment(value):
    d = judge(MeasurementResult(experiment_id="c-r0-G", value=value), _exp(), "c")
    assert d.verdict == Verdict.REJECT and d.close and "not a finite number" in d.reason


def test_a_failure_reported_by_the_lab_fails_a_pending_experiment_once():
    payload = {"experiment_id": "c-r0-G", "status": "failed", "error": "well B4 empty"}
    d = judge(payload, _exp(), "c")
    assert d.verdict == Verdict.FAILED and d.reason == "well B4 empty"
    assert judge(payload, _exp("failed"), "c").verdict == Verdict.DUPLICATE


@pytest.mark.parametrize("payload, words", [
    ({"experiment_id": "c-r0-G", "value": "high"}, "value"),
    ({"experiment_id": "c-r0-G", "value": 1.0, "colour": "red"}, "colour"),
    ({"value": 1.0}, "experiment_id"),
    (["not", "a", "mapping"], "malformed"),
])
def test_a_malformed_result_is_refused_with_one_line_naming_the_field(payload, words):
    d = judge(payload, None, "c")
    assert d.verdict == Verdict.REJECT and words in d.reason and "\n" not in d.reason


def test_results_for_other_experiments_or_candidates_are_refused():
    assert "never asked" in judge({"experiment_id": "x", "value": 1.0}, None, "c").reason
    assert "never asked" in judge({"experiment_id": "c-r0-G", "value": 1.0},
                                  _exp(campaign="other"), "c").reason
    d = judge({"experiment_id": "c-r0-G", "candidate_id": "KO:H", "value": 1.0}, _exp(), "c")
    assert d.verdict == Verdict.REJECT and "KO:H" in d.reason


def test_results_for_experiments_not_dispatched_or_cancelled_are_refused():
    assert "never dispatched" in judge({"experiment_id": "c-r0-G", "value": 1.0},
                                       _exp("proposed"), "c").reason
    assert "cancelled" in judge({"experiment_id": "c-r0-G", "value": 1.0},
                                _exp("cancelled"), "c").reason


def test_parse_result_returns_the_result_or_a_reason():
    assert isinstance(parse_result({"experiment_id": "e", "value": 1}), MeasurementResult)
    assert parse_result({"experiment_id": 3}).startswith("malformed result: experiment_id")
