"""The instrument seam: a BoTorch `Model` that can be (re)fitted to data."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol, runtime_checkable

import torch
from botorch.models.model import Model
from botorch.posteriors import Posterior
from torch import Tensor


@runtime_checkable
class Instrument(Protocol):
    """A virtual instrument: predicts a readout with calibrated uncertainty.

    Every instrument is a BoTorch `Model`, so any BoTorch acquisition function
    works on it. Shapes: `train_X` is `n x d`, `train_Y` is `n x 1`; `X` for
    `posterior` is `(b) x q x d`; `sample_pool` returns `s x n` joint samples of
    the latent function over an `n x d` pool.
    """

    def fit(self, train_X: Tensor, train_Y: Tensor) -> "Instrument": ...

    def posterior(self, X: Tensor, **kwargs) -> Posterior: ...

    def sample_pool(self, X: Tensor, n_samples: int, seed: int = 0) -> Tensor: ...


class InstrumentError(ValueError):
    """Raised for training data an instrument cannot use."""


def validate_training_data(train_X: Tensor, train_Y: Tensor) -> tuple[Tensor, Tensor]:
    """Check shapes and values of training data; return them as float64.

    Args:
        train_X: `n x d` features.
        train_Y: `n x 1` (or `n`) targets.
    """
    if train_Y.dim() == 1:
        train_Y = train_Y.unsqueeze(-1)
    if train_X.dim() != 2 or train_Y.dim() != 2 or train_Y.shape[-1] != 1:
        raise InstrumentError(
            f"expected train_X n x d and train_Y n x 1, got {tuple(train_X.shape)} "
            f"and {tuple(train_Y.shape)}"
        )
    if train_X.shape[0] != train_Y.shape[0]:
        raise InstrumentError(
            f"train_X has {train_X.shape[0]} rows but train_Y has {train_Y.shape[0]}"
        )
    if train_X.shape[0] < 2:
        raise InstrumentError("need at least 2 training points to fit an instrument")
    if not (torch.isfinite(train_X).all() and torch.isfinite(train_Y).all()):
        raise InstrumentError("training data contains NaN or infinite values")
    return train_X.double(), train_Y.double()


class InstrumentBase(Model):
    """Shared behaviour: public `fit` validates, private `_fit` does the maths."""

    name: str = "instrument"
    #: Multiplier on the predictive variance, fitted on held-out residuals.
    calibration_scale: float = 1.0
    #: Estimated observation noise variance in the units of `train_Y`.
    noise_variance: float = 0.0

    @property
    def num_outputs(self) -> int:
        return 1

    def fit(self, train_X: Tensor, train_Y: Tensor) -> "InstrumentBase":
        """Fit the instrument to `n x d` features and `n x 1` targets."""
        train_X, train_Y = validate_training_data(train_X, train_Y)
        self._fit(train_X, train_Y)
        return self

    @abstractmethod
    def _fit(self, train_X: Tensor, train_Y: Tensor) -> None:
        """Fit to validated float64 tensors."""

    @abstractmethod
    def sample_pool(self, X: Tensor, n_samples: int, seed: int = 0) -> Tensor:
        """Draw `n_samples x n` joint samples of the latent function over `X` (`n x d`)."""
