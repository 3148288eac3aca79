# One concept past 300 lines: fitting, prediction and sampling share one cached Cholesky.
"""A GP whose kernel is a sum of ARD RBF kernels, one per block of features.

    k(x, x') = sum_b s_b exp(-|(x_b - x'_b) / l_b|^2 / 2)  [+ s_all RBF(x, x')]

where `x_b` are the columns of block `b`. Over a reaction's features (one
block of descriptors per factor: base, ligand, solvent, concentration,
temperature) it says the yield is a sum of a smooth effect of each factor
(Duvenaud et al., 2011, first order): a measured reaction informs every
untested reaction that shares a level, or a similar level, with it. With five
random reactions and 1,728 candidates that is what lets the first model batch
find the right ligand; a full ARD kernel over all 13 columns learns little
from so few points. `interaction=True` adds a full ARD RBF over all columns
for effects that only show in combination.

Priors follow BoTorch's defaults per block (Hvarfner et al., 2024): log-normal
lengthscales scaled by `sqrt(d_b)`, a Gamma(2, 4) outputscale per component,
a log-normal(-4, 1) noise; hyperparameters are the MAP estimate by one
L-BFGS-B run from the previous fit (warm start). The kernel and marginal
likelihood are written directly in torch (no gpytorch modules), so a fit over 100 points takes
milliseconds per iteration, and predictions over a pool, exact posterior
cross-covariances for the agents' fantasies, and joint pool samples (random
Fourier features per block plus Matheron's update) are a few matrix products.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal
from scipy import optimize as sopt
from torch import Tensor
from torch.distributions import Distribution, Gamma, LogNormal

from instruments.base import InstrumentBase, InstrumentError
from instruments.calibration import fit_variance_scale
from instruments.registry import register_instrument

_SQRT2, _SQRT3 = math.sqrt(2.0), math.sqrt(3.0)
#: Smallest noise variance (standardised units), as gpytorch's Gaussian likelihood.
_MIN_NOISE = 1e-4
#: Smallest lengthscale.
_MIN_LENGTHSCALE = 2.5e-2
#: Outputscale prior Gamma(concentration, rate) per component.
_SCALE_PRIOR = (2.0, 4.0)
#: Noise prior LogNormal(loc, scale) on the variance.
_NOISE_PRIOR = (-4.0, 1.0)


def _float64(family: type[Distribution], *params: float) -> Distribution:
    """Return a `torch.distributions` prior with float64 parameters (float32 by default)."""
    return family(*(torch.tensor(p, dtype=torch.float64) for p in params), validate_args=False)


_SCALE_DENSITY = _float64(Gamma, *_SCALE_PRIOR)
_NOISE_DENSITY = _float64(LogNormal, *_NOISE_PRIOR)


@lru_cache(maxsize=None)
def _lengthscale_density(d: int) -> Distribution:
    """Return BoTorch's dimension-scaled lengthscale prior for a block of `d` columns."""
    return _float64(LogNormal, _SQRT2 + 0.5 * math.log(d), _SQRT3)


@register_instrument("additive")
class AdditiveGP(InstrumentBase):
    """An exact GP with one ARD RBF kernel per block of features, summed.

    Args:
        blocks: `[start, stop)` column ranges, one kernel each; columns in no
            block are ignored. Default: one block over all columns (a plain
            ARD RBF GP). Campaigns pass the design's blocks (one per factor
            of a reaction space).
        interaction: add an ARD RBF kernel over all block columns.
        maxiter: most L-BFGS-B iterations per fit.
        warm_start: start each fit from the previous one's hyperparameters.
        calibrate: scale the variance by exact leave-one-out z-scores.
        seed: default seed of `sample_pool`.
        n_features: random Fourier features per component for `sample_pool`.
        max_batch_size: points per chunk when predicting over a pool.
    """

    name = "additive"

    def __init__(self, blocks: Sequence[Sequence[int]] | None = None, interaction: bool = False,
                 maxiter: int = 100, warm_start: bool = True, calibrate: bool = True,
                 seed: int = 0, n_features: int = 1024, max_batch_size: int = 2048) -> None:
        super().__init__()
        self.blocks = [tuple(int(v) for v in b) for b in blocks] if blocks else None
        self.interaction = bool(interaction)
        if maxiter < 1 or n_features < 1 or max_batch_size < 1:
            raise ValueError("maxiter, n_features and max_batch_size must be positive")
        self.maxiter, self.warm_start, self.calibrate = maxiter, warm_start, calibrate
        self.seed, self.n_features, self.max_batch_size = seed, n_features, max_batch_size
        # log outputscales, log lengthscales, log noise, constant mean: saved by checkpoints
        self.register_buffer("theta", torch.zeros(0, dtype=torch.float64))
        self.register_buffer("y_stats", torch.tensor([0.0, 1.0], dtype=torch.float64))
        self.train_X: Tensor | None = None
        self.train_Y: Tensor | None = None
        self._cache: dict[str, Tensor] | None = None

    @property
    def is_fitted(self) -> bool:
        return self.train_X is not None and self.theta.numel() == self._n_params()

    # -- parameters --------------------------------------------------------------
    def _components(self, d: int | None = None) -> list[list[int]]:
        """Return the columns of each kernel component."""
        d = d if d is not None else self.train_X.shape[-1]
        blocks = self.blocks or [(0, d)]
        for start, stop in blocks:
            if not 0 <= start < stop <= d:
                raise InstrumentError(f"block [{start}, {stop}) is outside the {d} feature columns")
        columns = [list(range(a, b)) for a, b in blocks]
        if self.interaction:
            columns.append(sorted({c for cols in columns for c in cols}))
        return columns

    def _n_params(self) -> int:
        if self.train_X is None:
            return -1
        comps = self._components()
        return len(comps) + sum(len(c) for c in comps) + 2

    def _unpack(self, theta: Tensor) -> tuple[list[Tensor], list[Tensor], Tensor, Tensor]:
        comps = self._components()
        k = len(comps)
        scales = theta[:k].exp()
        lengths, at = [], k
        for cols in comps:
            lengths.append(theta[at:at + len(cols)].exp() + _MIN_LENGTHSCALE)
            at += len(cols)
        noise = theta[at].exp() + _MIN_NOISE
        return list(scales), lengths, noise, theta[at + 1]

    def _initial(self) -> Tensor:
        comps = self._components()
        scale0 = (_SCALE_PRIOR[0] - 1) / _SCALE_PRIOR[1]  # the prior's mode
        parts = [torch.full((len(comps),), math.log(scale0))]
        for cols in comps:  # the lengthscale prior's mode
            loc = _SQRT2 + 0.5 * math.log(len(cols))
            parts.append(torch.full((len(cols),), loc - 3.0))
        parts.append(torch.tensor([_NOISE_PRIOR[0] - _NOISE_PRIOR[1] ** 2]))
        parts.append(torch.zeros(1))
        return torch.cat(parts).double()

    # -- kernel ------------------------------------------------------------------
    def _kernel(self, A: Tensor, B: Tensor, scales: list[Tensor],
                lengths: list[Tensor]) -> Tensor:
        """Return `k(A, B)`, `(...) x m x k` for `(...) x m x d` and `(...) x k x d`."""
        K = None
        for cols, s, ell in zip(self._components(), scales, lengths):
            a, b = A[..., cols] / ell, B[..., cols] / ell
            sq = (a * a).sum(-1)[..., :, None] + (b * b).sum(-1)[..., None, :] \
                - 2.0 * a @ b.transpose(-1, -2)
            k = torch.exp(-0.5 * sq.clamp_min(0.0))
            K = s * k if K is None else K + s * k
        return K

    def _neg_log_posterior(self, theta: Tensor, X: Tensor, y: Tensor) -> Tensor:
        scales, lengths, noise, mean = self._unpack(theta)
        n = y.shape[0]
        K = self._kernel(X, X, scales, lengths) + noise * torch.eye(n, dtype=X.dtype)
        L = torch.linalg.cholesky(K)
        r = (y - mean)[:, None]
        alpha = torch.cholesky_solve(r, L)
        mll = -0.5 * (r * alpha).sum() - torch.log(torch.diagonal(L)).sum() \
            - 0.5 * n * math.log(2 * math.pi)
        prior = _SCALE_DENSITY.log_prob(torch.stack(scales)).sum()
        for cols, ell in zip(self._components(), lengths):
            prior = prior + _lengthscale_density(len(cols)).log_prob(ell).sum()
        prior = prior + _NOISE_DENSITY.log_prob(noise)
        return -(mll + prior) / n

    # -- fitting -------------------------------------------------------------------
    def _fit(self, train_X: Tensor, train_Y: Tensor) -> None:
        y = train_Y.squeeze(-1)
        sd = float(y.std())
        if sd == 0.0 or not math.isfinite(sd):
            raise InstrumentError("all training targets are equal; a GP cannot be fitted")
        previous = self.theta.clone()
        self._set_data(train_X, train_Y)
        start = previous if self.warm_start and previous.numel() == self._n_params() \
            else self._initial()
        X, yn = self.train_X, self._standardised()

        def value_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
            theta = torch.from_numpy(x).requires_grad_(True)
            try:
                loss = self._neg_log_posterior(theta, X, yn)
                (grad,) = torch.autograd.grad(loss, theta)
            except (torch.linalg.LinAlgError, RuntimeError):
                return 1e10, np.zeros_like(x)
            return float(loss.detach()), grad.numpy().copy()

        x0 = start.numpy().astype(np.float64)
        bounds = [(-12.0, 8.0)] * (len(x0) - 1) + [(None, None)]
        result = sopt.minimize(value_and_grad, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                               options={"maxiter": self.maxiter})
        theta = result.x if np.all(np.isfinite(result.x)) and result.fun < 1e10 else x0
        self.theta = torch.as_tensor(theta, dtype=torch.float64)
        self._prepare()

    def _set_data(self, train_X: Tensor, train_Y: Tensor) -> None:
        self.train_X, self.train_Y = train_X.double(), train_Y.double()
        y = self.train_Y.squeeze(-1)
        self.y_stats = torch.tensor([float(y.mean()), float(y.std()) or 1.0], dtype=torch.float64)
        self._cache = None

    def _standardised(self) -> Tensor:
        return (self.train_Y.squeeze(-1) - self.y_stats[0]) / self.y_stats[1]

    def _build(self, train_X: Tensor, train_Y: Tensor) -> None:
        """Set the data without fitting; a checkpoint's state dict then brings `theta`."""
        self._set_data(train_X, train_Y)
        self.theta = torch.zeros(0, dtype=torch.float64)

    def _prepare(self) -> dict[str, Tensor]:
        """Compute (once per `theta`) the Cholesky factor and weights the predictions use."""
        if self._cache is not None and torch.equal(self._cache["theta"], self.theta):
            return self._cache
        scales, lengths, noise, mean = self._unpack(self.theta)
        X, yn = self.train_X, self._standardised()
        n = X.shape[0]
        K = self._kernel(X, X, scales, lengths) + noise * torch.eye(n, dtype=X.dtype)
        L = torch.linalg.cholesky(K)
        r = (yn - mean)[:, None]
        alpha = torch.cholesky_solve(r, L)
        sd = float(self.y_stats[1])
        self.noise_variance = float(noise) * sd**2
        self._cache = {"theta": self.theta.clone(), "L": L, "alpha": alpha}
        if self.calibrate and n >= 5:
            A = torch.cholesky_inverse(L)
            self.calibration_scale = fit_variance_scale((A @ r).squeeze(-1) / A.diagonal().sqrt())
        elif not self.calibrate:
            self.calibration_scale = 1.0
        return self._cache

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load `theta` and `y_stats` (a checkpoint's), whatever size `theta` had before."""
        if "theta" in state_dict:
            self.theta = torch.empty_like(state_dict["theta"])
        out = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self._cache = None
        return out

    # -- prediction ----------------------------------------------------------------
    def _parts(self):
        cache = self._prepare()
        scales, lengths, noise, mean = self._unpack(self.theta)
        return cache, scales, lengths, mean

    def _posterior(self, X: Tensor, observation_noise: bool | Tensor) -> GPyTorchPosterior:
        """Return the joint posterior over `(b) x q x d` points, in target units."""
        cache, scales, lengths, mean0 = self._parts()
        X = X.double()
        Kxz = self._kernel(X, self.train_X, scales, lengths)  # (b) x q x n
        mean = mean0 + (Kxz @ cache["alpha"]).squeeze(-1)
        V = torch.linalg.solve_triangular(cache["L"], Kxz.transpose(-1, -2), upper=False)
        covar = self._kernel(X, X, scales, lengths) - V.transpose(-1, -2) @ V
        sd = float(self.y_stats[1])
        covar = covar * (sd**2 * self.calibration_scale)
        q = X.shape[-2]
        eye = torch.eye(q, dtype=X.dtype)
        covar = covar + eye * (1e-9 * sd**2)
        if observation_noise is True:
            covar = covar + eye * self.noise_variance
        mean = mean * sd + self.y_stats[0]
        return GPyTorchPosterior(MultivariateNormal(mean, covar))

    def predict_moments(self, X: Tensor, observation_noise: bool = False
                        ) -> tuple[Tensor, Tensor]:
        """Return the mean and variance over an `n x d` pool, in chunks, without a covariance."""
        self._check(X)
        cache, scales, lengths, mean0 = self._parts()
        sd = float(self.y_stats[1])
        means, variances = [], []
        for chunk in X.double().split(self.max_batch_size):
            Kxz = self._kernel(chunk, self.train_X, scales, lengths)
            V = torch.linalg.solve_triangular(cache["L"], Kxz.T, upper=False)
            prior = sum(scales).expand(chunk.shape[0])
            means.append(mean0 + (Kxz @ cache["alpha"]).squeeze(-1))
            variances.append((prior - (V * V).sum(0)).clamp_min(1e-12))
        mean = torch.cat(means) * sd + self.y_stats[0]
        variance = torch.cat(variances) * sd**2 * self.calibration_scale
        if observation_noise:
            variance = variance + self.noise_variance
        return mean.detach(), variance.detach()

    def cross_covariance(self, X: Tensor, x: Tensor) -> Tensor:
        """Return the posterior covariance between each of `m x d` points `X` and `1 x d` `x`."""
        self._check(X)
        cache, scales, lengths, _ = self._parts()
        X, x = X.double(), x.double().reshape(1, -1)
        vx = torch.linalg.solve_triangular(
            cache["L"], self._kernel(self.train_X, x, scales, lengths), upper=False)
        out = []
        for chunk in X.split(self.max_batch_size):
            Kxz = self._kernel(chunk, self.train_X, scales, lengths)
            V = torch.linalg.solve_triangular(cache["L"], Kxz.T, upper=False)
            out.append(self._kernel(chunk, x, scales, lengths).squeeze(-1)
                       - (V * vx).sum(0))
        sd = float(self.y_stats[1])
        return (torch.cat(out) * sd**2 * self.calibration_scale).detach()

    def sample_pool(self, X: Tensor, n_samples: int, seed: int = 0) -> Tensor:
        """Draw `n_samples x n` joint samples of the latent function over a pool.

        Prior paths are random Fourier features (Rahimi and Recht, 2007) of each
        component; Matheron's rule conditions them on the data exactly
        (Wilson et al., 2020). Deviations from the posterior mean are widened
        by `sqrt(calibration_scale)`.
        """
        self._check(X)
        cache, scales, lengths, mean0 = self._parts()
        gen = torch.Generator().manual_seed(seed)
        D, S = self.n_features, n_samples
        features = []
        for cols, s, ell in zip(self._components(), scales, lengths):
            W = torch.randn(D, len(cols), generator=gen, dtype=torch.float64) / ell
            b = torch.rand(D, generator=gen, dtype=torch.float64) * 2 * math.pi
            w = torch.randn(D, S, generator=gen, dtype=torch.float64)
            features.append((cols, W, b, w * torch.sqrt(2.0 * s / D)))

        def prior(Z: Tensor) -> Tensor:
            return sum(torch.cos(Z[:, cols] @ W.T + b) @ w for cols, W, b, w in features)

        _, _, noise, _ = self._unpack(self.theta)
        n = self.train_X.shape[0]
        eps = torch.randn(n, S, generator=gen, dtype=torch.float64) * noise.sqrt()
        resid = (self._standardised() - mean0)[:, None] - prior(self.train_X) - eps
        update = torch.cholesky_solve(resid, cache["L"])  # n x S
        out = []
        for chunk in X.double().split(self.max_batch_size):
            Kxz = self._kernel(chunk, self.train_X, scales, lengths)
            f = mean0 + prior(chunk) + Kxz @ update
            f_mean = mean0 + (Kxz @ cache["alpha"]).squeeze(-1)
            f = f_mean[:, None] + math.sqrt(self.calibration_scale) * (f - f_mean[:, None])
            out.append(f)
        sd = float(self.y_stats[1])
        return (torch.cat(out).T * sd + self.y_stats[0]).detach()
