"""The test fake of the instrument seam: fixed mean and variance, nothing to fit."""

from __future__ import annotations

import torch
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal
from torch import Tensor

from instruments.base import InstrumentBase


class FakeInstrument(InstrumentBase):
    """An instrument whose prediction is a fixed function of the features.

    The predictive mean is `X @ weights` (or `X[..., 0]` without weights) and the
    variance is `variance` everywhere, independent between points. It is fitted
    from the start; `fit` only records the data it was given (`train_X`,
    `train_Y`), and every other member is `InstrumentBase`'s default.
    """

    name = "fake"

    def __init__(self, weights: Tensor | None = None, variance: float = 1.0) -> None:
        super().__init__()
        self.weights = weights
        self.variance = float(variance)

    @property
    def is_fitted(self) -> bool:
        return True

    def _fit(self, train_X: Tensor, train_Y: Tensor) -> None:
        self.train_X, self.train_Y = train_X, train_Y

    def _mean(self, X: Tensor) -> Tensor:
        X = X.double()
        if self.weights is None:
            return X[..., 0]
        return X @ self.weights.double()

    def _posterior(self, X: Tensor, observation_noise: bool | Tensor) -> GPyTorchPosterior:
        mean = self._mean(X)
        covar = torch.diag_embed(torch.full_like(mean, self.variance))
        return GPyTorchPosterior(MultivariateNormal(mean, covar))

    def sample_pool(self, X: Tensor, n_samples: int, seed: int = 0) -> Tensor:
        """Draw independent normals around the mean (the covariance is diagonal)."""
        generator = torch.Generator().manual_seed(seed)
        mean = self._mean(X)
        noise = torch.randn(n_samples, mean.shape[-1], generator=generator, dtype=mean.dtype)
        return mean + self.variance**0.5 * noise
