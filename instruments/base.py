"""The instrument seam: a BoTorch `Model` that can be (re)fitted to data.

`InstrumentBase` is the contract agents rely on. A subclass implements two
private methods on tensors, `_fit(train_X, train_Y)` and
`_posterior(X, observation_noise)`; the public `fit` and `posterior` validate
(data, fitted-ness, feature count) and apply a `posterior_transform` in one
place. Everything else an agent asks of an instrument has a default built on
`_posterior` that a subclass overrides when it can do better:

- `predict_moments(X)`: marginal mean and variance over a pool, in chunks of
  `max_batch_size` points;
- `cross_covariance(X, x)`: covariance of every pool point with one point, from
  a joint posterior per chunk;
- `sample_pool(X, n_samples, seed)`: joint samples of the latent function over
  a pool, from one joint posterior over all of it (`n x n`: instruments meant
  for large pools override it);
- `noise_variance`, `calibration_scale`, `train_X` / `train_Y`, `is_fitted`.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
from botorch.models.model import Model
from botorch.posteriors.gpytorch import GPyTorchPosterior
from torch import Tensor


class InstrumentError(ValueError):
    """Raised for training data an instrument cannot use, or a request it cannot serve."""


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
    """A single-output instrument: template methods `fit` and `posterior`, agent defaults.

    Attributes:
        name: the registry name.
        calibration_scale: multiplier on the predictive variance, fitted on
            held-out residuals.
        noise_variance: estimated observation noise variance, in target units.
        max_batch_size: points per chunk when predicting over a pool.
        train_X: `n x d` training features of the last fit (None before).
        train_Y: `n x 1` training targets of the last fit (None before).
    """

    name: str = "instrument"
    calibration_scale: float = 1.0
    noise_variance: float = 0.0
    max_batch_size: int = 2048
    train_X: Tensor | None = None
    train_Y: Tensor | None = None

    @property
    def num_outputs(self) -> int:
        return 1

    @property
    def batch_shape(self) -> torch.Size:
        return torch.Size([])

    @property
    def is_fitted(self) -> bool:
        """Whether `posterior` can be called; by default, whether `fit` has run."""
        return self.train_X is not None

    # -- template methods ------------------------------------------------------
    def fit(self, train_X: Tensor, train_Y: Tensor) -> "InstrumentBase":
        """Fit the instrument to `n x d` features and `n x 1` targets."""
        train_X, train_Y = validate_training_data(train_X, train_Y)
        self._fit(train_X, train_Y)
        return self

    def posterior(self, X: Tensor, output_indices: list[int] | None = None,
                  observation_noise: bool | Tensor = False,
                  posterior_transform: Any = None, **kwargs: Any) -> GPyTorchPosterior:
        """Return the calibrated predictive distribution at `X`, in target units.

        Args:
            X: `(b) x q x d` inputs.
            output_indices: ignored (one output).
            observation_noise: include the noise of a measurement.
            posterior_transform: applied to the posterior if given.

        Returns:
            A posterior whose distribution has `(b) x q` mean and `(b) x q x q`
            covariance.
        """
        self._check(X)
        posterior = self._posterior(X, observation_noise)
        if posterior_transform is not None:
            return posterior_transform(posterior)
        return posterior

    @abstractmethod
    def _fit(self, train_X: Tensor, train_Y: Tensor) -> None:
        """Fit to validated float64 tensors (`n x d`, `n x 1`)."""

    @abstractmethod
    def _posterior(self, X: Tensor, observation_noise: bool | Tensor) -> GPyTorchPosterior:
        """Return the posterior at checked `(b) x q x d` inputs of a fitted instrument."""

    def _check(self, X: Tensor) -> None:
        """Raise `InstrumentError` unless fitted and `X` has the training feature count."""
        if not self.is_fitted:
            raise InstrumentError(
                f"the {self.name} instrument is not fitted yet; call fit first")
        if self.train_X is not None and X.shape[-1] != self.train_X.shape[-1]:
            raise InstrumentError(
                f"expected {self.train_X.shape[-1]} features, got {X.shape[-1]}")

    # -- what agents ask for, with defaults --------------------------------------
    def predict_moments(self, X: Tensor, observation_noise: bool = False
                        ) -> tuple[Tensor, Tensor]:
        """Return the marginal mean and variance over an `n x d` pool, in chunks.

        Each chunk of `max_batch_size` points is one `posterior` call whose
        marginal variances are read from the (lazy) covariance.

        Returns:
            Two `n`-dim tensors: mean and variance (of a measurement with
            `observation_noise`, else of the latent function).
        """
        self._check(X)
        means, variances = [], []
        with torch.no_grad():
            for chunk in X.split(max(int(self.max_batch_size), 1)):
                posterior = self._posterior(chunk, observation_noise)
                means.append(posterior.mean.reshape(-1))
                variances.append(posterior.variance.reshape(-1))
        if not means:
            return X.new_empty(0), X.new_empty(0)
        return torch.cat(means), torch.cat(variances)

    def cross_covariance(self, X: Tensor, x: Tensor) -> Tensor:
        """Return the posterior covariance between every point of `X` (`m x d`) and `x` (`1 x d`).

        Each chunk of `X` is sent with `x` appended to `posterior`, and the
        off-diagonal block of the joint (lazy) covariance is evaluated, so no
        `m x m` matrix is ever formed.

        Returns:
            An `m`-dim tensor `cov(f(X_i), f(x))`.
        """
        self._check(X)
        out = []
        with torch.no_grad():
            for chunk in X.split(max(int(self.max_batch_size), 1)):
                c = chunk.shape[0]
                joint = self._posterior(torch.cat([chunk, x.to(chunk).reshape(1, -1)]), False)
                block = joint.distribution.lazy_covariance_matrix[..., :c, c:]
                block = block.to_dense() if hasattr(block, "to_dense") else block
                out.append(block.reshape(-1))
        return torch.cat(out) if out else X.new_empty(0)

    def sample_pool(self, X: Tensor, n_samples: int, seed: int = 0) -> Tensor:
        """Draw `n_samples x n` joint samples of the latent function over `X` (`n x d`).

        The default samples one joint posterior over the whole pool (an `n x n`
        covariance); instruments for large pools override it.
        """
        self._check(X)
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(seed)
            samples = self._posterior(X, False).rsample(torch.Size([n_samples]))
        return samples.reshape(n_samples, X.shape[0])


class ModelInstrument(InstrumentBase):
    """A fitted BoTorch `Model` seen as an instrument, with every default of the base.

    For agents handed a plain model: `posterior` is the model's, `fit` refuses.
    """

    name = "model"

    def __init__(self, model: Model, noise_variance: float = 0.0,
                 max_batch_size: int = 2048) -> None:
        """Wrap `model` (single-output, fitted); `noise_variance` as the instrument's."""
        super().__init__()
        self.model = model
        self.noise_variance = float(noise_variance)
        self.max_batch_size = max_batch_size

    @property
    def is_fitted(self) -> bool:
        return True

    def _fit(self, train_X: Tensor, train_Y: Tensor) -> None:
        raise InstrumentError("a wrapped BoTorch model is fitted by its owner, not by fit")

    def _posterior(self, X: Tensor, observation_noise: bool | Tensor) -> GPyTorchPosterior:
        return self.model.posterior(X, observation_noise=observation_noise)
