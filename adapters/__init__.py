"""Lab adapters: the wire between loopwell and a lab, real or simulated.

`SimulatedLab` answers from a lookup table of published measurements;
`HttpLab` drives a lab node over HTTP; `make_adapter` builds either by name.
Test fakes live in `adapters.testing`.
"""

from adapters.base import (
    BatchRequest,
    ExperimentRequest,
    JobProgress,
    JobStatus,
    LabAdapter,
    LabError,
    MeasurementResult,
    ResultStatus,
    Submission,
)
from adapters.http_lab import HttpLab
from adapters.registry import adapter_kinds, make_adapter, register_adapter
from adapters.simulated import SimulatedLab

__all__ = [
    "BatchRequest",
    "ExperimentRequest",
    "HttpLab",
    "JobProgress",
    "JobStatus",
    "LabAdapter",
    "LabError",
    "MeasurementResult",
    "ResultStatus",
    "SimulatedLab",
    "Submission",
    "adapter_kinds",
    "make_adapter",
    "register_adapter",
]
