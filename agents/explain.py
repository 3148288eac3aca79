"""Explanations: what the model believed about each proposed candidate."""

from __future__ import annotations

import torch
from botorch.models.model import Model
from torch import Tensor

from agents.base import StrategyError, as_instrument
from agents.pool import pool_moments


def explain(model: Model, candidates: Tensor, indices: Tensor,
            observation_noise: bool = False) -> dict[str, Tensor]:
    """Return the posterior mean and sd of the proposed candidates.

    Args:
        model: the instrument the proposal was made with (a plain BoTorch
            `Model` is wrapped).
        candidates: `n x d` features the indices point into.
        indices: `q`-dim long tensor of row indices.
        observation_noise: give the sd of a measurement rather than of the
            latent function (what calibration against measured values needs).

    Returns:
        `{"mean": q-dim, "sd": q-dim}` float64 tensors, before any fantasy
        (what the model believed when proposing).
    """
    if indices.dim() != 1 or indices.dtype != torch.long:
        raise StrategyError(f"indices must be a 1-dim long tensor, got {indices.dtype} "
                            f"of shape {tuple(indices.shape)}")
    if indices.numel() == 0:
        empty = torch.zeros(0, dtype=torch.float64)
        return {"mean": empty, "sd": empty.clone()}
    if int(indices.min()) < 0 or int(indices.max()) >= candidates.shape[0]:
        raise StrategyError(f"indices out of range for {candidates.shape[0]} candidates")
    mean, variance = pool_moments(as_instrument(model), candidates[indices],
                                  observation_noise=observation_noise)
    return {"mean": mean, "sd": variance.sqrt()}
