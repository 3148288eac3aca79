"""Save and restore a fitted instrument: training data, state dict, calibration."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from instruments.base import InstrumentBase, InstrumentError

#: File name of the checkpoint inside a host's checkpoint directory.
CHECKPOINT_NAME = "instrument.pt"


def instrument_state(model: InstrumentBase) -> dict[str, Any]:
    """Return what it takes to rebuild a fitted instrument exactly.

    Args:
        model: A fitted instrument with `train_X` (`n x d`) and `train_Y` (`n x 1`).
    """
    if not model.is_fitted or model.train_X is None:
        raise InstrumentError("cannot checkpoint an instrument that is not fitted")
    return {
        "train_X": model.train_X.detach().clone(),
        "train_Y": model.train_Y.detach().clone(),
        "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "calibration_scale": float(model.calibration_scale),
        "noise_variance": float(model.noise_variance),
    }


def restore_instrument(model: InstrumentBase, state: dict[str, Any]) -> InstrumentBase:
    """Rebuild `model` (constructed with the same options) from `instrument_state`.

    The modules are made for the saved data without training, then the saved
    state dict overwrites their parameters and buffers.
    """
    model._build(state["train_X"], state["train_Y"])
    model.load_state_dict(state["state_dict"])
    model.calibration_scale = state["calibration_scale"]
    model.noise_variance = state["noise_variance"]
    model.eval()
    return model


def save_atomic(payload: dict[str, Any], path: str | os.PathLike) -> None:
    """Write `payload` with `torch.save` to a temporary file, then rename it over `path`.

    A reader sees either the old checkpoint or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any] | None:
    """Return the payload saved at `path`, or None when there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    return torch.load(path, weights_only=True)
