"""The pool: a model's marginal posterior and joint samples over a finite set.

Everything an agent needs from an instrument is read here, once per proposal,
through `InstrumentBase`'s members and checked: the marginal mean and variance
of every candidate (`predict_moments`, in chunks, never an `n x n`
covariance), `S` joint samples of the latent function (`sample_pool`) and
covariances with one point (`cross_covariance`). The rest of
the proposal works on these tensors through `_PoolModel`, a BoTorch `Model`
over candidate *indices*, so BoTorch's analytic acquisition functions score
the whole pool in one vectorised call.
"""

from __future__ import annotations

import torch
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal
from linear_operator.operators import DiagLinearOperator
from torch import Tensor

from agents.base import StrategyError
from instruments.base import InstrumentBase

#: Smallest variance `_PoolModel` reports (gpytorch's float64 threshold).
MIN_VARIANCE = 1e-10


class _PoolModel(InstrumentBase):
    """A single-output BoTorch `Model` over indices into precomputed moments.

    `posterior(X)` takes a `(b) x q x 1` tensor whose entries are indices into
    `mean` and `variance` (stored as floats, as BoTorch passes `X` around) and
    returns independent normals with the stored moments. `variance` may be
    replaced between calls; greedy selection shrinks it as the batch grows.
    """

    name = "pool"

    def __init__(self, mean: Tensor, variance: Tensor) -> None:
        """Store `n`-dim `mean` and `variance`."""
        super().__init__()
        self.mean = mean
        self.variance = variance

    @property
    def is_fitted(self) -> bool:
        return True

    def _fit(self, train_X: Tensor, train_Y: Tensor) -> None:
        raise StrategyError("a pool model is built from moments, not fitted")

    def _posterior(self, X: Tensor, observation_noise: bool | Tensor) -> GPyTorchPosterior:
        idx = X[..., 0].long()
        # gpytorch rounds smaller variances up with a warning; do it quietly
        variance = self.variance[idx].clamp_min(MIN_VARIANCE)
        return GPyTorchPosterior(MultivariateNormal(self.mean[idx], DiagLinearOperator(variance)))


def index_points(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Return the `n x 1 x 1` index tensor that asks `_PoolModel` for every point."""
    return torch.arange(n, dtype=dtype).view(n, 1, 1)


def pool_moments(model: InstrumentBase, X: Tensor,
                 observation_noise: bool = False) -> tuple[Tensor, Tensor]:
    """Return the marginal posterior mean and variance of `model` over `X`, checked.

    Args:
        model: the instrument (`predict_moments` chunks by its `max_batch_size`).
        X: `n x d` points.
        observation_noise: include the noise of a measurement in the variance.

    Returns:
        Two `n`-dim float64 tensors: the mean and the (non-negative) variance of
        the latent function (of a measurement, with `observation_noise`).
    """
    with torch.no_grad():
        mean, variance = model.predict_moments(X, observation_noise=observation_noise)
    if mean.shape != (X.shape[0],) or variance.shape != (X.shape[0],):
        raise StrategyError(
            f"expected a single-output model with {X.shape[0]} means and variances, got "
            f"shapes {tuple(mean.shape)} and {tuple(variance.shape)}"
        )
    mean, variance = mean.double(), variance.double()
    if not (torch.isfinite(mean).all() and torch.isfinite(variance).all()):
        raise StrategyError("the model's posterior has NaN or infinite values")
    return mean, variance.clamp_min(0.0)


def pool_samples(model: InstrumentBase, X: Tensor, n_samples: int, seed: int) -> Tensor:
    """Draw `n_samples` joint samples of the latent function over `X`, checked.

    Args:
        model: the instrument.
        X: `m x d` points.
        n_samples: number of joint samples `S`.
        seed: seed of the draw.

    Returns:
        An `S x m` float64 tensor.
    """
    with torch.no_grad():
        samples = model.sample_pool(X, n_samples, seed=seed)
    if samples.shape != (n_samples, X.shape[0]):
        raise StrategyError(
            f"model.sample_pool returned shape {tuple(samples.shape)}, expected "
            f"{n_samples} x {X.shape[0]}"
        )
    samples = samples.double()
    if not torch.isfinite(samples).all():
        raise StrategyError("model.sample_pool returned NaN or infinite values")
    return samples


def observation_noise(model: InstrumentBase, variance: Tensor, noise: float | None = None) -> float:
    """Return the noise variance of one fantasy observation: `noise`, else the model's."""
    noise = model.noise_variance if noise is None else noise
    if noise < 0:
        raise StrategyError(f"noise variance must be >= 0, got {noise}")
    return float(noise)


def cross_covariance(model: InstrumentBase, X: Tensor, x: Tensor) -> Tensor:
    """Return the posterior covariance between every point of `X` and `x`, checked.

    Args:
        model: the instrument (`cross_covariance` chunks by its `max_batch_size`).
        X: `m x d` points.
        x: `1 x d` point.

    Returns:
        An `m`-dim float64 tensor `cov(f(X_i), f(x))`.
    """
    with torch.no_grad():
        covariance = model.cross_covariance(X, x).reshape(-1).double()
    if covariance.shape != (X.shape[0],):
        raise StrategyError(
            f"model.cross_covariance returned {covariance.shape[0]} values for {X.shape[0]} points")
    if not torch.isfinite(covariance).all():
        raise StrategyError("the model's posterior covariance has NaN or infinite values")
    return covariance
