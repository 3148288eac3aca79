"""Fakes for tests of code that uses strategies."""

from __future__ import annotations

import torch
from botorch.models.model import Model
from torch import Tensor

from agents.base import StrategyBase, StrategyError


class FixedStrategy(StrategyBase):
    """A strategy that proposes given indices, in order, and records its calls.

    `propose` returns the first `q` of `indices` that are below `n`, and
    raises `StrategyError` if there are fewer than `q`. Not registered.
    """

    name = "fixed"

    def __init__(self, indices: Tensor | list[int]) -> None:
        """Store the indices to propose (distinct)."""
        self.indices = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        if self.indices.unique().numel() != self.indices.numel():
            raise StrategyError("FixedStrategy indices must be distinct")
        self.calls: list[dict] = []

    def _propose(self, model: Model, candidates: Tensor, q: int,
                 pending: Tensor | None, seed: int) -> Tensor:
        self.calls.append({"n": candidates.shape[0], "q": q, "seed": seed,
                           "n_pending": 0 if pending is None else pending.shape[0]})
        usable = self.indices[(self.indices >= 0) & (self.indices < candidates.shape[0])]
        if usable.numel() < q:
            raise StrategyError(
                f"FixedStrategy has {usable.numel()} indices below {candidates.shape[0]}, "
                f"asked for {q}"
            )
        return usable[:q].clone()


class FailingStrategy(StrategyBase):
    """A strategy whose every proposal raises `StrategyError(message)`."""

    name = "failing"

    def __init__(self, message: str = "proposal failed") -> None:
        """Store the message to raise with."""
        self.message = message

    def _propose(self, model: Model, candidates: Tensor, q: int,
                 pending: Tensor | None, seed: int) -> Tensor:
        raise StrategyError(self.message)
