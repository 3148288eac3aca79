"""The pool: a model's marginal posterior and joint samples over a finite set.

Everything an agent needs from an instrument is read here, once per proposal:
the marginal mean and variance of every candidate (in chunks, never an
`n x n` covariance) and `S` joint samples of the latent function. The rest of
the proposal works on these tensors through `_PoolModel`, a BoTorch `Model`
over candidate *indices*, so BoTorch's analytic acquisition functions score
the whole pool in one vectorised call.
"""

from __future__ import annotations

import torch
from botorch.models.model import Model
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal
from linear_operator.operators import DiagLinearOperator
from torch import Tensor

from agents.base import StrategyError

#: Default number of candidates sent to `model.posterior` in one call.
MAX_BATCH_SIZE = 2048
#: Smallest variance `_PoolModel` reports (gpytorch's float64 threshold).
MIN_VARIANCE = 1e-10


class _PoolModel(Model):
    """A single-output BoTorch `Model` over indices into precomputed moments.

    `posterior(X)` takes a `(b) x q x 1` tensor whose entries are indices into
    `mean` and `variance` (stored as floats, as BoTorch passes `X` around) and
    returns independent normals with the stored moments. `variance` may be
    replaced between calls; greedy selection shrinks it as the batch grows.
    """

    def __init__(self, mean: Tensor, variance: Tensor) -> None:
        """Store `n`-dim `mean` and `variance`."""
        super().__init__()
        self.mean = mean
        self.variance = variance

    @property
    def num_outputs(self) -> int:
        return 1

    @property
    def batch_shape(self) -> torch.Size:
        return torch.Size()

    def posterior(self, X: Tensor, output_indices=None, observation_noise=False,
                  posterior_transform=None, **kwargs) -> GPyTorchPosterior:
        """Return the stored marginals at the `(b) x q x 1` indices `X`."""
        idx = X[..., 0].long()
        # gpytorch rounds smaller variances up with a warning; do it quietly
        variance = self.variance[idx].clamp_min(MIN_VARIANCE)
        distribution = MultivariateNormal(self.mean[idx], DiagLinearOperator(variance))
        posterior = GPyTorchPosterior(distribution)
        if posterior_transform is not None:
            return posterior_transform(posterior)
        return posterior


def index_points(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Return the `n x 1 x 1` index tensor that asks `_PoolModel` for every point."""
    return torch.arange(n, dtype=dtype).view(n, 1, 1)


def pool_moments(model: Model, X: Tensor, max_batch_size: int = MAX_BATCH_SIZE,
                 observation_noise: bool = False) -> tuple[Tensor, Tensor]:
    """Return the marginal posterior mean and variance of `model` over `X`.

    Args:
        model: a single-output BoTorch `Model`.
        X: `n x d` points.
        max_batch_size: points per `model.posterior` call.
        observation_noise: include the noise of a measurement in the variance.

    Returns:
        Two `n`-dim float64 tensors: the mean and the (non-negative) variance of
        the latent function (of a measurement, with `observation_noise`).

    A model with `predict_moments(X) -> (mean, variance)` (the linear and
    additive instruments) is asked for them directly, in one call.
    """
    fast = getattr(model, "predict_moments", None)
    if callable(fast):
        with torch.no_grad():
            mean, variance = (t.reshape(-1).double() for t in fast(X))
        if observation_noise:
            variance = variance + float(getattr(model, "noise_variance", 0.0))
        if mean.shape != (X.shape[0],) or variance.shape != (X.shape[0],):
            raise StrategyError("model.predict_moments returned the wrong shapes")
        if not (torch.isfinite(mean).all() and torch.isfinite(variance).all()):
            raise StrategyError("the model's posterior has NaN or infinite values")
        return mean, variance.clamp_min(0.0)
    means, variances = [], []
    with torch.no_grad():
        for chunk in X.split(max_batch_size):
            posterior = model.posterior(chunk, observation_noise=observation_noise)
            mean, variance = posterior.mean, posterior.variance
            if mean.shape != (chunk.shape[0], 1):
                raise StrategyError(
                    f"expected a single-output model with a {chunk.shape[0]} x 1 "
                    f"posterior mean, got shape {tuple(mean.shape)}"
                )
            means.append(mean.reshape(-1).double())
            variances.append(variance.reshape(-1).double())
    variance = torch.cat(variances).clamp_min(0.0)
    mean = torch.cat(means)
    if not (torch.isfinite(mean).all() and torch.isfinite(variance).all()):
        raise StrategyError("the model's posterior has NaN or infinite values")
    return mean, variance


def pool_samples(model: Model, X: Tensor, n_samples: int, seed: int,
                 moments: tuple[Tensor, Tensor] | None = None,
                 max_batch_size: int = MAX_BATCH_SIZE) -> Tensor:
    """Draw `n_samples` joint samples of the latent function over `X`.

    Uses `model.sample_pool` when the model has one. Otherwise the draws are
    independent normals from the marginals `mean` and `variance`: they carry
    no correlation between points, so batches chosen with them are not
    diversified by the fantasy updates (only by spurious sample correlations,
    which average out).

    Args:
        model: the instrument.
        X: `m x d` points.
        n_samples: number of joint samples `S`.
        seed: seed of the draw.
        moments: the `m`-dim marginal mean and variance if already known
            (the fallback needs them; otherwise they are computed).
        max_batch_size: points per `model.posterior` call in the fallback.

    Returns:
        An `S x m` float64 tensor.
    """
    sample_pool = getattr(model, "sample_pool", None)
    if sample_pool is None:
        mean, variance = moments or pool_moments(model, X, max_batch_size)
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(n_samples, X.shape[0], generator=generator,
                            dtype=torch.float64)
        return mean + variance.sqrt() * noise
    with torch.no_grad():
        samples = sample_pool(X, n_samples, seed=seed)
    if samples.shape != (n_samples, X.shape[0]):
        raise StrategyError(
            f"model.sample_pool returned shape {tuple(samples.shape)}, expected "
            f"{n_samples} x {X.shape[0]}"
        )
    samples = samples.double()
    if not torch.isfinite(samples).all():
        raise StrategyError("model.sample_pool returned NaN or infinite values")
    return samples


def observation_noise(model: Model, variance: Tensor, noise: float | None = None) -> float:
    """Return the noise variance of one fantasy observation.

    `noise` if given, else `model.noise_variance` if the model has one, else a
    small default: `1e-6` times the mean pool variance (plus `1e-12`).
    """
    if noise is None:
        noise = getattr(model, "noise_variance", None)
    if noise is None:
        noise = 1e-6 * float(variance.mean()) + 1e-12
    if noise < 0:
        raise StrategyError(f"noise variance must be >= 0, got {noise}")
    return float(noise)


def cross_covariance(model: Model, X: Tensor, x: Tensor,
                     max_batch_size: int = MAX_BATCH_SIZE) -> Tensor:
    """Return the exact posterior covariance between every point of `X` and `x`.

    Each chunk of `X` is sent with `x` appended to `model.posterior`, and the
    off-diagonal block of the joint (lazy) covariance is evaluated, so no
    `n x n` matrix is ever formed.

    Args:
        model: a single-output BoTorch `Model` with a joint posterior.
        X: `m x d` points.
        x: `1 x d` point.
        max_batch_size: points of `X` per `model.posterior` call.

    Returns:
        An `m`-dim float64 tensor `cov(f(X_i), f(x))`.

    A model with `cross_covariance(X, x)` (the additive instrument) computes it
    itself, without a joint posterior per chunk.
    """
    fast = getattr(model, "cross_covariance", None)
    if callable(fast):
        with torch.no_grad():
            covariance = fast(X, x).reshape(-1).double()
        if covariance.shape != (X.shape[0],) or not torch.isfinite(covariance).all():
            raise StrategyError("model.cross_covariance returned a wrong shape or NaN values")
        return covariance
    out = []
    with torch.no_grad():
        for chunk in X.split(max_batch_size):
            c = chunk.shape[0]
            posterior = model.posterior(torch.cat([chunk, x.to(chunk)]))
            distribution = getattr(posterior, "distribution", None)
            if distribution is None:
                raise StrategyError("the model's posterior has no joint distribution")
            block = distribution.lazy_covariance_matrix[..., :c, c:]
            block = block.to_dense() if hasattr(block, "to_dense") else block
            if block.shape != (c, 1):
                raise StrategyError(
                    f"expected a single-output joint posterior covariance block of shape "
                    f"{c} x 1, got {tuple(block.shape)}"
                )
            out.append(block.reshape(-1).double())
    covariance = torch.cat(out)
    if not torch.isfinite(covariance).all():
        raise StrategyError("the model's posterior covariance has NaN or infinite values")
    return covariance
