"""A deep ensemble: K bootstrapped mean-variance MLPs trained as one batched model."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal
from linear_operator.operators import DiagLinearOperator
from torch import Tensor, nn

from instruments.base import InstrumentBase
from instruments.calibration import fit_variance_scale
from instruments.registry import register_instrument

#: Soft bounds on the predicted log-variance, in standardised target units.
_MIN_LOGVAR = math.log(1e-4)
_MAX_LOGVAR = math.log(10.0)


def _init_layers(
    n_members: int, sizes: list[int], generator: torch.Generator
) -> nn.ParameterList:
    """Return `[W_0, b_0, W_1, b_1, ...]` with `W_l` `K x in x out` and `b_l` `K x 1 x out`.

    Uniform in `+-1/sqrt(fan_in)` as `nn.Linear`, independently per member.
    """
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(fan_in)
        for shape in ((n_members, fan_in, fan_out), (n_members, 1, fan_out)):
            weight = (torch.rand(shape, generator=generator) * 2.0 - 1.0) * bound
            params.append(nn.Parameter(weight))
    return nn.ParameterList(params)


def _forward(layers: nn.ParameterList, X: Tensor) -> tuple[Tensor, Tensor]:
    """Evaluate all members on standardised `N x d` inputs.

    Returns:
        `K x N` means and `K x N` log-variances, in standardised target units.
    """
    n_layers = len(layers) // 2
    H = torch.einsum("nd,kdh->knh", X, layers[0]) + layers[1]
    for index in range(1, n_layers):
        H = torch.baddbmm(layers[2 * index + 1], F.silu(H), layers[2 * index])
    mean, raw = H[..., 0], H[..., 1]
    logvar = _MAX_LOGVAR - F.softplus(_MAX_LOGVAR - raw)
    logvar = _MIN_LOGVAR + F.softplus(logvar - _MIN_LOGVAR)
    return mean, logvar


def _weighted_nll(mean: Tensor, logvar: Tensor, Y: Tensor, counts: Tensor) -> Tensor:
    """Return the bootstrap-weighted Gaussian NLL summed over members.

    Args:
        mean: `K x n` means; logvar: `K x n` log-variances; Y: `n` targets;
        counts: `K x n` bootstrap multiplicities (a resample as weights).
    """
    nll = 0.5 * (logvar + (Y - mean).square() * torch.exp(-logvar))
    return (counts * nll).sum() / Y.shape[0]


def _mixture(mean: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor]:
    """Return the mixture mean and total variance over the leading member dim.

    Args:
        mean, logvar: `K x N` member predictions.

    Returns:
        `N` mixture means and `N` variances (epistemic + aleatoric).
    """
    mix_mean = mean.mean(0)
    return mix_mean, (mean - mix_mean).square().mean(0) + logvar.exp().mean(0)


def _out_of_bag_z(mean: Tensor, logvar: Tensor, Y: Tensor, counts: Tensor) -> Tensor:
    """Return z-scores of each point under the members that never saw it.

    Only points left out by at least two members are scored. The epistemic part
    uses the unbiased (`m / (m - 1)`) spread of the `m` out-of-bag members, which
    are fewer than `K`.

    Args:
        mean, logvar: `K x n` member predictions at the training points.
        Y: `n` standardised targets.
        counts: `K x n` bootstrap multiplicities.

    Returns:
        `n_scored` z-scores.
    """
    out = (counts == 0).to(mean.dtype)
    n_out = out.sum(0)
    scored = n_out >= 2
    out, n_out = out[:, scored], n_out[scored]
    mean, logvar = mean[:, scored], logvar[:, scored]
    oob_mean = (out * mean).sum(0) / n_out
    epistemic = (out * (mean - oob_mean).square()).sum(0) / (n_out - 1)
    aleatoric = (out * logvar.exp()).sum(0) / n_out
    return (Y[scored] - oob_mean) / (epistemic + aleatoric).sqrt()


@register_instrument("ensemble")
class DeepEnsemble(InstrumentBase):
    """K mean-variance MLPs on bootstrap resamples (Lakshminarayanan et al., 2017).

    The members are one batched model (weights with a leading `K` dim), so
    training `K` members costs about as much as training one. Inputs and targets
    are standardised internally; the predictive distribution is the mixture mean
    and total (epistemic + aleatoric) variance, times `calibration_scale`, which
    is fitted on out-of-bag z-scores after training.
    """

    name = "ensemble"

    def __init__(
        self,
        seed: int = 0,
        n_members: int = 8,
        hidden: int = 64,
        n_layers: int = 2,
        epochs: int = 250,
        lr: float = 1e-2,
        weight_decay: float = 0.1,
        warm_start: bool = False,
        calibrate: bool = True,
    ) -> None:
        """Configure the ensemble; nothing is trained until `fit`.

        Args:
            seed: Seed for initial weights, bootstrap resamples and `sample_pool`.
            n_members: Number of members `K` (at least 2).
            hidden: Width of each hidden layer.
            n_layers: Number of hidden layers.
            epochs: Full-batch Adam steps per fit.
            lr: Adam learning rate.
            weight_decay: Decoupled (AdamW) weight decay.
            warm_start: Start a refit from the previous weights when `d` is unchanged.
            calibrate: Fit `calibration_scale` on out-of-bag residuals.
        """
        super().__init__()
        if n_members < 2:
            raise ValueError("a deep ensemble needs at least 2 members")
        self.seed, self.n_members, self.hidden, self.n_layers = seed, n_members, hidden, n_layers
        self.epochs, self.lr, self.weight_decay = epochs, lr, weight_decay
        self.warm_start, self.calibrate = warm_start, calibrate
        self.layers: nn.ParameterList | None = None
        self.train_X: Tensor | None = None
        self.train_Y: Tensor | None = None
        self.calibration_scale = 1.0
        self.noise_variance = 0.0
        for name in ("x_mean", "x_std", "y_mean", "y_std"):
            self.register_buffer(name, None)

    @property
    def is_fitted(self) -> bool:
        return self.layers is not None and self.x_mean is not None

    def _build(self, train_X: Tensor, train_Y: Tensor) -> None:
        """Set the data, standardisation and (fresh or kept) weights, without training."""
        d = train_X.shape[-1]
        keep = self.warm_start and self.layers is not None and self.layers[0].shape[1] == d
        if not keep:
            generator = torch.Generator().manual_seed(self.seed)
            sizes = [d] + [self.hidden] * self.n_layers + [2]
            self.layers = _init_layers(self.n_members, sizes, generator)
        self.train_X, self.train_Y = train_X, train_Y
        self.x_mean = train_X.mean(0).float()
        self.x_std = train_X.std(0).float().clamp_min(1e-6)
        self.y_mean = train_Y.mean().float()
        self.y_std = train_Y.std().float().clamp_min(1e-9)

    def _fit(self, train_X: Tensor, train_Y: Tensor) -> None:
        self._build(train_X, train_Y)
        n = train_X.shape[0]
        generator = torch.Generator().manual_seed(self.seed * 100_003 + n)
        picks = torch.randint(n, (self.n_members, n), generator=generator)
        counts = torch.zeros(self.n_members, n).scatter_add_(1, picks, torch.ones(picks.shape))
        Xs = self._standardise(train_X)
        Ys = ((train_Y.squeeze(-1).float() - self.y_mean) / self.y_std)
        optimizer = torch.optim.AdamW(self.layers.parameters(), lr=self.lr,
                                      weight_decay=self.weight_decay)
        with torch.enable_grad():
            for _ in range(self.epochs):
                optimizer.zero_grad(set_to_none=True)
                _weighted_nll(*_forward(self.layers, Xs), Ys, counts).backward()
                optimizer.step()
        with torch.no_grad():
            mean, logvar = _forward(self.layers, Xs)
            self.noise_variance = (logvar.exp().mean() * self.y_std**2).item()
            self.calibration_scale = 1.0
            if self.calibrate:
                z = _out_of_bag_z(mean, logvar, Ys, counts)
                self.calibration_scale = fit_variance_scale(z)

    def _standardise(self, X: Tensor) -> Tensor:
        return (X.float() - self.x_mean) / self.x_std

    def _members(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Return `K x N` member means and log-variances for checked `N x d` inputs."""
        return _forward(self.layers, self._standardise(X.reshape(-1, X.shape[-1])))

    def _posterior(self, X: Tensor, observation_noise: bool | Tensor) -> GPyTorchPosterior:
        """Return the calibrated predictive distribution at `X`.

        The variance always includes the aleatoric part, so `observation_noise`
        has no further effect. Members are independent given the data, so the
        covariance over the `q` points is diagonal.

        Args:
            X: `(b) x q x d` inputs.

        Returns:
            A posterior whose distribution has `(b) x q` mean and diagonal covariance.
        """
        mean, logvar = self._members(X)
        mix_mean, variance = _mixture(mean, logvar)
        scale = self.y_std.to(X.dtype)
        mix_mean = (mix_mean.to(X.dtype) * scale + self.y_mean.to(X.dtype)).reshape(X.shape[:-1])
        variance = (variance.to(X.dtype) * scale**2 * self.calibration_scale).reshape(X.shape[:-1])
        return GPyTorchPosterior(MultivariateNormal(mix_mean, DiagLinearOperator(variance)))

    def sample_pool(self, X: Tensor, n_samples: int, seed: int = 0) -> Tensor:
        """Draw joint samples of the latent (noise-free) function over a pool.

        Each sample is the mixture mean plus a random Gaussian combination of the
        members' deviations from it, `f_s = m + sqrt(c) * sum_k w_sk (mu_k - m)`
        with `w_sk ~ N(0, 1/(K-1))`. This is a Gaussian whose covariance over the
        pool is the members' empirical covariance (rank `K-1`, times the
        calibration scale `c`), so samples are jointly consistent across the pool
        (one function each) and, unlike picking one of `K` members, give as many
        distinct samples as asked for, which batch Thompson sampling needs.

        Args:
            X: `n x d` pool.
            n_samples: Number of samples `s`.
            seed: Seed for the combination weights.

        Returns:
            `s x n` samples in target units.
        """
        self._check(X)
        with torch.no_grad():
            mean, _ = self._members(X)
        mean = mean.to(X.dtype) * self.y_std.to(X.dtype) + self.y_mean.to(X.dtype)
        centre = mean.mean(0)
        generator = torch.Generator().manual_seed(seed)
        weights = torch.randn(n_samples, self.n_members, generator=generator, dtype=X.dtype)
        weights = weights * math.sqrt(self.calibration_scale / (self.n_members - 1))
        return centre + weights @ (mean - centre)
