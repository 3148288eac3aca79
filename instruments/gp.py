"""A Gaussian-process instrument: a BoTorch `SingleTaskGP` with LOO calibration."""

from __future__ import annotations

import math

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from botorch.optim.fit import fit_gpytorch_mll_scipy
from botorch.posteriors.gpytorch import GPyTorchPosterior
from botorch.sampling.pathwise import draw_matheron_paths
from gpytorch import settings
from gpytorch.distributions import MultivariateNormal
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from instruments.base import InstrumentBase, InstrumentError
from instruments.calibration import fit_variance_scale
from instruments.registry import register_instrument

#: Exact Cholesky solves up to this many training points (GPyTorch's default is 800).
_MAX_CHOLESKY = 5000
#: Hyperparameters carried over by a warm start; transforms are refitted to the new data.
_WARM_PREFIXES = ("likelihood.", "mean_module.", "covar_module.")


def _loo_z(K: Tensor, r: Tensor) -> Tensor:
    """Return exact leave-one-out predictive z-scores of a GP.

    With `A = K^-1`: `mu_i = y_i - [A r]_i / A_ii` and `var_i = 1 / A_ii`, so
    `z_i = (y_i - mu_i) / sqrt(var_i) = [A r]_i / sqrt(A_ii)`.

    Args:
        K: `n x n` covariance of the observations (kernel plus noise).
        r: `n` observations minus the prior mean.
    """
    L = torch.linalg.cholesky(K)
    A = torch.cholesky_inverse(L)
    return (A @ r) / A.diagonal().sqrt()


@register_instrument("gp")
class GPInstrument(InstrumentBase):
    """An exact GP with ARD kernel, standardised outcomes and LOO-fitted calibration.

    The kernel is BoTorch's default RBF with an ARD lengthscale prior scaled by
    `sqrt(d)` (Hvarfner et al., 2024), which stays well-behaved for `d` in the
    tens to hundreds (Matern-5/2 with the same prior via `kernel="matern"`). The
    prior assumes inputs in the unit cube, so inputs are min-max normalised on the
    training data (`Normalize`) unless `normalize_inputs=False` says the features
    are already scaled. Everything runs in float64.
    """

    name = "gp"

    def __init__(
        self,
        seed: int = 0,
        kernel: str = "rbf",
        normalize_inputs: bool = True,
        warm_start: bool = True,
        max_batch_size: int = 2048,
        maxiter: int = 100,
        calibrate: bool = True,
        fit: str = "botorch",
    ) -> None:
        """Configure the GP; nothing is fitted until `fit`.

        Args:
            seed: Seed for hyperparameter fitting retries and `sample_pool`.
            kernel: "rbf" or "matern" (Matern-5/2), both with ARD.
            normalize_inputs: Min-max normalise inputs on the training data.
            warm_start: Start hyperparameter fitting from the previous fit's values.
            max_batch_size: Points per chunk when predicting over a pool.
            maxiter: Most L-BFGS-B iterations per fit.
            calibrate: Fit `calibration_scale` on exact leave-one-out z-scores.
            fit: "botorch" (`fit_gpytorch_mll`: retries from prior samples when
                L-BFGS-B warns) or "scipy" (one capped L-BFGS-B run from the warm
                start, no retries: ~10x faster per round on small data).
        """
        super().__init__()
        if kernel not in ("rbf", "matern"):
            raise ValueError(f"kernel must be 'rbf' or 'matern', got {kernel!r}")
        self.seed, self.kernel, self.normalize_inputs = seed, kernel, normalize_inputs
        self.warm_start, self.max_batch_size = warm_start, max_batch_size
        self.maxiter, self.calibrate = maxiter, calibrate
        if fit not in ("botorch", "scipy"):
            raise ValueError(f"fit must be 'botorch' or 'scipy', got {fit!r}")
        self.fit_method = fit
        self.model: SingleTaskGP | None = None
        self.train_X: Tensor | None = None
        self.train_Y: Tensor | None = None
        self.calibration_scale = 1.0
        self.noise_variance = 0.0

    @property
    def is_fitted(self) -> bool:
        return self.model is not None

    def _build(self, train_X: Tensor, train_Y: Tensor) -> None:
        """Make an untrained GP on the data, keeping old hyperparameters on a warm start."""
        d = train_X.shape[-1]
        previous = self.model.state_dict() if self.warm_start and self.model is not None else {}
        self.model = SingleTaskGP(
            train_X,
            train_Y,
            covar_module=get_covar_module_with_dim_scaled_prior(
                ard_num_dims=d, use_rbf_kernel=self.kernel == "rbf"
            ),
            input_transform=Normalize(d=d) if self.normalize_inputs else None,
            outcome_transform=Standardize(m=1),
        )
        warm = {k: v for k, v in previous.items() if k.startswith(_WARM_PREFIXES)}
        current = self.model.state_dict()
        if warm and all(k in current and current[k].shape == v.shape for k, v in warm.items()):
            self.model.load_state_dict(warm, strict=False)
        self.train_X, self.train_Y = train_X, train_Y

    def _fit(self, train_X: Tensor, train_Y: Tensor) -> None:
        if float(train_Y.std()) == 0.0:
            raise InstrumentError("all training targets are equal; a GP cannot be fitted")
        self._build(train_X, train_Y)
        mll = ExactMarginalLogLikelihood(self.model.likelihood, self.model)
        with torch.random.fork_rng(), settings.max_cholesky_size(_MAX_CHOLESKY):
            torch.manual_seed(self.seed)
            if self.fit_method == "scipy":
                mll.train()
                fit_gpytorch_mll_scipy(mll, options={"maxiter": self.maxiter})
            else:
                fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": self.maxiter}})
        self.model.eval()
        self._calibrate()

    def _calibrate(self) -> None:
        """Set `noise_variance` and `calibration_scale` from the fitted GP."""
        model = self.model
        y_scale = model.outcome_transform.stdvs.squeeze().item()
        noise = model.likelihood.noise.squeeze().item()
        self.noise_variance = noise * y_scale**2
        self.calibration_scale = 1.0
        if not self.calibrate:
            return
        with torch.no_grad():
            X = model.transform_inputs(self.train_X)
            K = model.covar_module(X).to_dense()
            K = K + noise * torch.eye(K.shape[-1], dtype=K.dtype)
            r = model.train_targets - model.mean_module(X)
            self.calibration_scale = fit_variance_scale(_loo_z(K, r))

    def _posterior(self, X: Tensor, observation_noise: bool | Tensor) -> GPyTorchPosterior:
        """Return the GP posterior at `X` with covariance times `calibration_scale`."""
        self.model.eval()
        with settings.max_cholesky_size(_MAX_CHOLESKY):
            posterior = self.model.posterior(X.double(), observation_noise=observation_noise)
        if self.calibration_scale == 1.0:
            return posterior
        distribution = posterior.distribution
        return GPyTorchPosterior(MultivariateNormal(
            distribution.mean, distribution.lazy_covariance_matrix * self.calibration_scale))

    def _pool_mean(self, X: Tensor) -> Tensor:
        """Return the posterior mean over an `n x d` pool, in chunks."""
        with torch.no_grad(), settings.max_cholesky_size(_MAX_CHOLESKY), \
                settings.skip_posterior_variances():
            means = [self.model.posterior(chunk).mean.reshape(-1)
                     for chunk in X.split(self.max_batch_size)]
        return torch.cat(means)

    def sample_pool(self, X: Tensor, n_samples: int, seed: int = 0) -> Tensor:
        """Draw joint samples of the latent function over a pool by pathwise conditioning.

        Matheron paths (random Fourier prior plus a data update) make each sample a
        function, so evaluating it over 18,000 points costs a few matrix products
        and no `n x n` covariance. Deviations from the posterior mean are scaled
        by `sqrt(calibration_scale)`.

        Args:
            X: `n x d` pool.
            n_samples: Number of samples `s`.
            seed: Seed for the random features and prior weights.

        Returns:
            `s x n` samples in target units.
        """
        self._check(X)
        self.model.eval()
        X = X.double()
        with torch.no_grad(), torch.random.fork_rng(), settings.max_cholesky_size(_MAX_CHOLESKY):
            torch.manual_seed(seed)
            paths = draw_matheron_paths(self.model, sample_shape=torch.Size([n_samples]))
            samples = torch.cat([paths(chunk) for chunk in X.split(self.max_batch_size)], dim=-1)
        samples = samples.reshape(n_samples, X.shape[0])
        if self.calibration_scale == 1.0:
            return samples
        mean = self._pool_mean(X)
        return mean + math.sqrt(self.calibration_scale) * (samples - mean)
