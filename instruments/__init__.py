"""Virtual instruments: surrogate models with calibrated uncertainty, on tensors only."""

from instruments.actor import InstrumentHost, remote_host
from instruments.additive import AdditiveGP
from instruments.base import InstrumentBase, InstrumentError, ModelInstrument
from instruments.calibration import gaussian_nll, interval_coverage, predict_mean_sd
from instruments.ensemble import DeepEnsemble
from instruments.gp import GPInstrument
from instruments.linear import BlockLinearGP
from instruments.registry import (
    instrument_class,
    instrument_names,
    make_instrument,
    register_instrument,
)

__all__ = [
    "AdditiveGP",
    "BlockLinearGP",
    "DeepEnsemble",
    "GPInstrument",
    "InstrumentBase",
    "InstrumentError",
    "InstrumentHost",
    "ModelInstrument",
    "gaussian_nll",
    "instrument_class",
    "instrument_names",
    "interval_coverage",
    "make_instrument",
    "predict_mean_sd",
    "register_instrument",
    "remote_host",
]
