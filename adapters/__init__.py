"""Lab adapters: the wire between loopwell and a lab, real or simulated.

`SimulatedLab` answers from a lookup table of published measurements;
`HttpLab` drives a lab node over HTTP; `make_adapter` builds either (or a
plug-in's kind) by name from settings validated by the kind's settings model.
`collect` returns `MeasurementResult`s and, for what a lab sent that is not
one, `RejectedResult`s; errors are `LabError`, `LabUnavailable` (try later) or
`LabRejected` (the lab refuses). Test fakes live in `adapters.testing`.

Two kinds for real lab software ship as plug-ins (entry points, loaded on first
use, never imported here): `sila` (`adapters.sila`, a SiLA 2 client; extra
``loopwell[sila]``) and `madsci` (`adapters.madsci`, a MADSci REST node's
client; extra ``loopwell[madsci]``).
"""

from adapters.base import (
    BatchRequest,
    ExperimentRequest,
    JobProgress,
    JobStatus,
    LabAdapter,
    LabError,
    LabRejected,
    LabUnavailable,
    MeasurementResult,
    RejectedResult,
    ResultStatus,
    Submission,
)
from adapters.http_lab import HttpLab
from adapters.http_settings import HttpLabSettings
from adapters.manual import ManualLab, ManualLabSettings
from adapters.registry import (
    adapter_kinds,
    adapter_settings_model,
    make_adapter,
    register_adapter,
    validate_settings,
)
from adapters.simulated import SimulatedLab, SimulatedLabSettings

__all__ = [
    "BatchRequest",
    "ExperimentRequest",
    "HttpLab",
    "HttpLabSettings",
    "JobProgress",
    "JobStatus",
    "LabAdapter",
    "LabError",
    "LabRejected",
    "LabUnavailable",
    "ManualLab",
    "ManualLabSettings",
    "MeasurementResult",
    "RejectedResult",
    "ResultStatus",
    "SimulatedLab",
    "SimulatedLabSettings",
    "Submission",
    "adapter_kinds",
    "adapter_settings_model",
    "make_adapter",
    "register_adapter",
    "validate_settings",
]
