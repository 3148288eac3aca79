"""The strategy seam: turn an instrument's posterior into the next batch."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Protocol, runtime_checkable

import torch
from botorch.models.model import Model
from torch import Tensor

from instruments.base import InstrumentBase, ModelInstrument


@runtime_checkable
class Strategy(Protocol):
    """Choose `q` of `n` candidates to measure next.

    Pure: the same model, candidates, pending points and seed give the same batch.
    """

    name: str

    def propose(
        self,
        model: Model | None,
        candidates: Tensor,
        q: int,
        pending: Tensor | None = None,
        *,
        seed: int = 0,
    ) -> Tensor:
        """Return a `q`-dim long tensor of distinct row indices into `candidates`.

        Args:
            model: a fitted instrument (`instruments.InstrumentBase`; a plain
                BoTorch `Model` is wrapped), or None for a strategy that
                chooses without one.
            candidates: `n x d` features of the candidates still allowed.
            q: batch size; at most `n`.
            pending: `p x d` features of experiments dispatched but not yet
                measured; the batch is chosen as if they were already measured.
            seed: seed for every random draw.
        """
        ...


class StrategyError(ValueError):
    """Raised for a proposal request that cannot be met."""


def validate_request(candidates: Tensor, q: int, pending: Tensor | None) -> Tensor | None:
    """Check a proposal request; return `pending` as `p x d` (or `None` if empty).

    Args:
        candidates: `n x d` features.
        q: batch size, `1 <= q <= n`.
        pending: `p x d` features or `None`.
    """
    if not isinstance(candidates, Tensor) or candidates.dim() != 2:
        shape = tuple(candidates.shape) if isinstance(candidates, Tensor) else type(candidates)
        raise StrategyError(f"candidates must be an n x d tensor, got {shape}")
    n, d = candidates.shape
    if n == 0:
        raise StrategyError("there are no candidates to choose from")
    if isinstance(q, bool) or not isinstance(q, int):
        raise StrategyError(f"q must be an int, got {q!r}")
    if not 1 <= q <= n:
        raise StrategyError(f"q must be between 1 and the {n} candidates, got {q}")
    if not torch.isfinite(candidates).all():
        raise StrategyError("candidates contain NaN or infinite values")
    if pending is None:
        return None
    if not isinstance(pending, Tensor) or pending.dim() != 2 or pending.shape[-1] != d:
        shape = tuple(pending.shape) if isinstance(pending, Tensor) else type(pending)
        raise StrategyError(f"pending must be a p x {d} tensor like candidates, got {shape}")
    if not torch.isfinite(pending).all():
        raise StrategyError("pending contains NaN or infinite values")
    return pending if pending.shape[0] > 0 else None


def as_instrument(model: Model | None) -> InstrumentBase | None:
    """Return `model` as an instrument: itself, a plain BoTorch `Model` wrapped, or None.

    The one place agents accept a model that is not an `InstrumentBase`: the
    wrapper (`instruments.ModelInstrument`) gives it the base class's
    defaults and no observation noise.
    """
    if model is None or isinstance(model, InstrumentBase):
        return model
    if isinstance(model, Model):
        return ModelInstrument(model)
    raise StrategyError(f"expected an instrument or a BoTorch Model, got {type(model).__name__}")


class StrategyBase(ABC):
    """Shared behaviour: public `propose` validates and times, `_propose` chooses.

    Attributes:
        name: the registry name, set by `register_strategy`.
        needs_model: False for strategies that choose without a model
            (`model=None` is then allowed).
        last_seconds: wall-clock seconds of the last `propose`, model calls included.
        last_acquisition: `q` acquisition values of the last batch, each as
            scored when picked, for strategies that score (else None).
    """

    name: str = "strategy"
    needs_model: bool = True
    last_seconds: float | None = None
    last_acquisition: Tensor | None = None

    def propose(self, model: Model | None, candidates: Tensor, q: int,
                pending: Tensor | None = None, *, seed: int = 0) -> Tensor:
        """Return a `q`-dim long tensor of distinct row indices into `candidates`.

        Args:
            model: a fitted single-output instrument (a plain BoTorch `Model`
                is wrapped); None for a strategy that does not need one.
            candidates: `n x d` features of the candidates still allowed.
            q: batch size, `1 <= q <= n`.
            pending: `p x d` features of experiments dispatched but not measured.
            seed: seed for every random draw.
        """
        start = time.perf_counter()
        pending = validate_request(candidates, q, pending)
        if model is None and self.needs_model:
            raise StrategyError(f"strategy {self.name!r} needs a fitted instrument")
        self.last_acquisition = None
        indices = self._propose(as_instrument(model), candidates, q, pending, int(seed))
        self.last_seconds = time.perf_counter() - start
        return indices

    @abstractmethod
    def _propose(self, model: InstrumentBase | None, candidates: Tensor, q: int,
                 pending: Tensor | None, seed: int) -> Tensor:
        """Choose `q` indices from a validated request (`pending` is `p x d`, p > 0, or None).

        May set `self.last_acquisition` to the `q` values the picks were scored with.
        """

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                            if not k.startswith("last_"))
        return f"{type(self).__name__}({options})"
