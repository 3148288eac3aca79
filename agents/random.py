"""Uniform random batches: the baseline every strategy must beat."""

from __future__ import annotations

import torch
from botorch.models.model import Model
from torch import Tensor

from agents.base import StrategyBase
from agents.registry import register_strategy


@register_strategy("random")
class RandomStrategy(StrategyBase):
    """Choose `q` candidates uniformly without replacement; ignores the model."""

    def _propose(self, model: Model, candidates: Tensor, q: int,
                 pending: Tensor | None, seed: int) -> Tensor:
        generator = torch.Generator().manual_seed(seed)
        return torch.randperm(candidates.shape[0], generator=generator)[:q]
