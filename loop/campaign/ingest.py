"""Judging one result from a lab: a pure function that returns a decision.

The campaign applies the decision (store the value, close the experiment,
quarantine the input with its reason); nothing here touches the store, so
every rule is tested on plain values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from adapters import MeasurementResult, ResultStatus
from loop.campaign.records import Experiment
from loop.campaign.states import CLOSED_STATES, PENDING_STATES, ExperimentState


class Verdict(StrEnum):
    ACCEPT = "accept"          # a new value: store it, the experiment is done
    DUPLICATE = "duplicate"    # the same value again: nothing to do
    FAILED = "failed"          # the lab says the experiment failed: close it as failed
    REJECT = "reject"          # cannot be used: quarantine with the reason


@dataclass(frozen=True)
class Decision:
    """What to do with one result.

    Attributes:
        verdict: the decision.
        result: the parsed result (None when it could not be parsed).
        reason: why a result is rejected or failed (one line).
        close: for a rejection, whether the experiment is over anyway (failed
            with `reason`), so that it is never left waiting for a value
            that will not come (e.g. the lab measured NaN).
    """

    verdict: Verdict
    result: MeasurementResult | None = None
    reason: str | None = None
    close: bool = False


def _quote(text: str, limit: int = 80) -> str:
    """Quote a string a lab sent, on one line and not too long."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def parse_result(payload: Any) -> MeasurementResult | str:
    """Return the result a payload describes, or a one-line reason why it is not one."""
    if isinstance(payload, MeasurementResult):
        return payload
    try:
        return MeasurementResult.model_validate(payload)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "result"
        if not where.isprintable() or len(where) > 40:
            where = _quote(where, 40)
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"malformed result: {where}: {err['msg']}{more}"


def judge(payload: Any, experiment: Experiment | None, campaign: str,
          stored: float | None = None) -> Decision:
    """Decide what one result means for its experiment.

    Args:
        payload: a `MeasurementResult` or what a lab sent for one (a mapping).
        experiment: the experiment the result names, as stored (None if unknown).
        campaign: the campaign ingesting it.
        stored: the value already stored for (experiment, replicate), if any.
    """
    result = parse_result(payload)
    if isinstance(result, str):
        return Decision(Verdict.REJECT, reason=result)
    if experiment is None or experiment.campaign != campaign:
        return Decision(Verdict.REJECT, result,
                        f"result for an experiment never asked: {_quote(result.experiment_id)}")
    if result.candidate_id is not None and result.candidate_id != experiment.candidate_id:
        return Decision(Verdict.REJECT, result,
                        f"experiment '{experiment.id}' asked for '{experiment.candidate_id}' "
                        f"but the result names {_quote(result.candidate_id)}")
    if result.status == ResultStatus.FAILED:
        if experiment.state in PENDING_STATES:
            return Decision(Verdict.FAILED, result, result.error or "failed in the lab")
        return Decision(Verdict.DUPLICATE, result)
    if result.value is None or not math.isfinite(result.value):
        return Decision(Verdict.REJECT, result,
                        f"experiment '{experiment.id}': value is {result.value!r}, not a "
                        "finite number", close=experiment.state in PENDING_STATES)
    if stored is not None:
        if stored == result.value:
            return Decision(Verdict.DUPLICATE, result)
        return Decision(Verdict.REJECT, result,
                        f"experiment '{experiment.id}' replicate {result.replicate}: "
                        f"{result.value!r} conflicts with the {stored!r} already stored")
    if experiment.state in CLOSED_STATES and experiment.state != ExperimentState.DONE:
        return Decision(Verdict.REJECT, result,
                        f"experiment '{experiment.id}' is {experiment.state}; its result is "
                        "not accepted")
    if experiment.state not in (*PENDING_STATES, ExperimentState.DONE):
        return Decision(Verdict.REJECT, result,
                        f"experiment '{experiment.id}' was never dispatched "
                        f"({experiment.state}); its result is not accepted")
    return Decision(Verdict.ACCEPT, result)
