"""Calibration figures and chunked prediction, as pure functions on tensors."""

from __future__ import annotations

import math

import torch
from botorch.models.model import Model
from torch import Tensor

#: Default bounds for a fitted variance scale: a model is not trusted to be off
#: by more than a factor of 10 in variance either way.
MIN_SCALE = 0.1
MAX_SCALE = 10.0


def _normal_quantile(p: float) -> float:
    """Return the standard normal quantile of probability `p`."""
    return math.sqrt(2.0) * torch.erfinv(torch.tensor(2.0 * p - 1.0, dtype=torch.float64)).item()


def interval_coverage(mean: Tensor, sd: Tensor, y: Tensor, level: float = 0.9) -> float:
    """Return the fraction of `y` inside the central `level` Gaussian interval.

    Args:
        mean: `n` predictive means.
        sd: `n` predictive standard deviations.
        y: `n` observed values.
        level: Nominal coverage of the central interval, in (0, 1).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    half_width = _normal_quantile(0.5 + level / 2.0) * sd.reshape(-1)
    inside = (y.reshape(-1) - mean.reshape(-1)).abs() <= half_width
    return inside.double().mean().item()


def gaussian_nll(mean: Tensor, sd: Tensor, y: Tensor) -> float:
    """Return the mean Gaussian negative log likelihood of `y` per point.

    Args:
        mean: `n` predictive means.
        sd: `n` predictive standard deviations (positive).
        y: `n` observed values.
    """
    mean, sd, y = (t.reshape(-1).double() for t in (mean, sd, y))
    z = (y - mean) / sd
    return (0.5 * z.square() + sd.log() + 0.5 * math.log(2.0 * math.pi)).mean().item()


def fit_variance_scale(
    residual_z: Tensor, min_scale: float = MIN_SCALE, max_scale: float = MAX_SCALE
) -> float:
    """Return the variance multiplier that makes held-out z-scores unit-variance.

    The scale is `mean(z^2)` over the finite z-scores, clamped to
    `[min_scale, max_scale]`; with no usable z-score it is 1.

    Args:
        residual_z: `n` held-out residuals divided by their predicted sd.
    """
    z = residual_z.reshape(-1).double()
    z = z[torch.isfinite(z)]
    if z.numel() == 0:
        return 1.0
    return float(min(max(z.square().mean().item(), min_scale), max_scale))


def fit_quantile_scale(
    residual_z: Tensor, level: float = 0.9, min_scale: float = MIN_SCALE,
    max_scale: float = MAX_SCALE,
) -> float:
    """Return the variance multiplier that puts a `level` share of z-scores inside the interval.

    `(q / z_level)^2`, with `q` the `level` quantile of `|z|` and `z_level` the
    Gaussian half-width of the central `level` interval, clamped to
    `[min_scale, max_scale]`; 1 with no usable z-score. Unlike `mean(z^2)`, a
    few huge residuals (the large effects an agent goes looking for) do not
    widen every interval.

    Args:
        residual_z: `n` held-out residuals divided by their predicted sd.
        level: nominal coverage of the central interval, in (0, 1).
    """
    z = residual_z.reshape(-1).double()
    z = z[torch.isfinite(z)]
    if z.numel() == 0:
        return 1.0
    q = torch.quantile(z.abs(), level).item() / _normal_quantile(0.5 + level / 2.0)
    return float(min(max(q * q, min_scale), max_scale))


def predict_mean_sd(
    model: Model, X: Tensor, max_batch_size: int = 2048, observation_noise: bool = False
) -> tuple[Tensor, Tensor]:
    """Return the marginal predictive mean and sd of `model` over a large pool.

    Each chunk is one `q x d` call whose marginal variances are read from the
    (lazy, for GPyTorch models) covariance: nothing larger than
    `max_batch_size x max_batch_size` is ever formed, never an `n x n` covariance.

    Args:
        model: A single-output BoTorch model.
        X: `n x d` pool.
        max_batch_size: Largest number of points per call to `model.posterior`.
        observation_noise: Whether to include observation noise in the sd.

    Returns:
        `n` means and `n` standard deviations.
    """
    if X.dim() != 2:
        raise ValueError(f"expected an n x d pool, got shape {tuple(X.shape)}")
    means, sds = [], []
    with torch.no_grad():
        for chunk in X.split(max(int(max_batch_size), 1)):
            posterior = model.posterior(chunk, observation_noise=observation_noise)
            means.append(posterior.mean.reshape(-1))
            sds.append(posterior.variance.clamp_min(0.0).sqrt().reshape(-1))
    if not means:
        empty = X.new_empty(0)
        return empty, empty
    return torch.cat(means), torch.cat(sds)
