"""The strategy seam: turn an instrument's posterior into the next batch."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from botorch.models.model import Model
from torch import Tensor


@runtime_checkable
class Strategy(Protocol):
    """Choose `q` of `n` candidates to measure next.

    Pure: the same model, candidates, pending points and seed give the same batch.
    """

    name: str

    def propose(
        self,
        model: Model,
        candidates: Tensor,
        q: int,
        pending: Tensor | None = None,
        *,
        seed: int = 0,
    ) -> Tensor:
        """Return a `q`-dim long tensor of distinct row indices into `candidates`.

        Args:
            model: a fitted instrument (any BoTorch `Model`; a `sample_pool`
                method is used when present for joint samples over the pool).
            candidates: `n x d` features of the candidates still allowed.
            q: batch size; at most `n`.
            pending: `p x d` features of experiments dispatched but not yet
                measured; the batch is chosen as if they were already measured.
            seed: seed for every random draw.
        """
        ...


class StrategyError(ValueError):
    """Raised for a proposal request that cannot be met."""
