"""Batches chosen without a model: uniformly at random, or flagged candidates first.

Both work with `model=None` (round 0, before any data) and draw from
`numpy.random.default_rng(seed)`, so a seed gives the batch loopwell's
campaigns have always drawn in their first round.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from agents.base import StrategyBase, StrategyError
from agents.registry import register_strategy
from instruments.base import InstrumentBase


@register_strategy("random")
class RandomStrategy(StrategyBase):
    """Choose `q` candidates uniformly without replacement; ignores the model."""

    needs_model = False

    def _propose(self, model: InstrumentBase | None, candidates: Tensor, q: int,
                 pending: Tensor | None, seed: int) -> Tensor:
        rng = np.random.default_rng(seed)
        return torch.as_tensor(rng.choice(candidates.shape[0], size=q, replace=False),
                               dtype=torch.long)


@register_strategy("flagged")
class FlaggedStrategy(StrategyBase):
    """Candidates whose feature `column` is > 0 first, at random; then the rest at random.

    A prior belief without a model, e.g. core-essential genes first in a
    knockout screen. Ignores the model. With a `share`, only `round(share * q)`
    flagged candidates are taken and the rest of the batch comes from the
    unflagged ones (a "mixed" start: the first fit then learns from the
    campaign's own data whether the flag marks hits).
    """

    needs_model = False

    def __init__(self, column: int, share: float | None = None) -> None:
        """Set the feature column that flags a candidate (flagged when > 0), and the share."""
        if isinstance(column, bool) or not isinstance(column, int) or column < 0:
            raise StrategyError(f"column must be a non-negative int, got {column!r}")
        if share is not None and not 0.0 <= share <= 1.0:
            raise StrategyError(f"share must be in [0, 1], got {share!r}")
        self.column = column
        self.share = share

    def _propose(self, model: InstrumentBase | None, candidates: Tensor, q: int,
                 pending: Tensor | None, seed: int) -> Tensor:
        n, d = candidates.shape
        if self.column >= d:
            raise StrategyError(f"column {self.column} is outside the {d} feature columns")
        flags = (candidates[:, self.column] > 0).cpu().numpy()
        rng = np.random.default_rng(seed)
        if self.share is None:
            first = rng.permutation(np.flatnonzero(flags))[:q]
            rest = np.setdiff1d(np.arange(n), first)
            fill = rng.choice(rest, size=q - len(first), replace=False) if q > len(first) else []
            indices = np.concatenate([first, np.asarray(fill, dtype=np.int64)])
            return torch.as_tensor(indices, dtype=torch.long)
        first = rng.permutation(np.flatnonzero(flags))[:int(round(self.share * q))]
        rest = np.setdiff1d(np.flatnonzero(~flags), first)
        fill = rng.choice(rest, size=min(q - len(first), len(rest)), replace=False)
        short = q - len(first) - len(fill)
        if short > 0:  # too few unflagged candidates: more flagged ones
            more = rng.choice(np.setdiff1d(np.arange(n), np.concatenate([first, fill])),
                              size=short, replace=False)
            fill = np.concatenate([fill, more])
        indices = np.concatenate([first, fill]).astype(np.int64)
        return torch.as_tensor(indices, dtype=torch.long)
