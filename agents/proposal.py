"""One proposal: choose a batch by strategy name and explain each choice.

`propose_batch` is what a campaign runs beside its warm instrument (inside the
instrument's Ray actor), so its inputs and its `Proposal` are plain arrays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from botorch.models.model import Model
from torch import Tensor

from agents.explain import explain
from agents.registry import make_strategy


@dataclass(frozen=True)
class Proposal:
    """A chosen batch and what the model believed about it (picklable).

    Attributes:
        indices: `q` rows into the candidates, in the order picked.
        mean: `q` predictive means, or None without a model.
        sd: `q` predictive sds of a measurement (observation noise included),
            or None without a model.
        acquisition: `q` acquisition values, each as the strategy scored the
            candidate when it picked it, or None for a strategy that does not
            score (random, flagged).
        seconds: wall-clock seconds the strategy spent choosing.
    """

    indices: np.ndarray
    mean: np.ndarray | None
    sd: np.ndarray | None
    acquisition: np.ndarray | None
    seconds: float


def _as_tensor(values: np.ndarray | Tensor) -> Tensor:
    return torch.as_tensor(np.asarray(values) if not isinstance(values, Tensor) else values,
                           dtype=torch.float64)


def propose_batch(model: Model | None, name: str, options: dict[str, Any],
                  candidates: np.ndarray | Tensor, pending: np.ndarray | Tensor | None,
                  q: int, seed: int) -> Proposal:
    """Choose `q` rows of `candidates` with strategy `name` and explain each choice.

    Args:
        model: the fitted instrument (a plain BoTorch `Model` is wrapped), or
            None for a strategy that chooses without one ("random", "flagged").
        name: a registered strategy name; `options` are its settings.
        candidates: `n x d` features of the candidates still free.
        pending: `p x d` features of experiments the lab still owes (p may be
            0, or None).
        q: batch size.
        seed: seed of every random draw.
    """
    X = _as_tensor(candidates)
    P = None if pending is None or len(pending) == 0 else _as_tensor(pending)
    strategy = make_strategy(name, **options)
    start = time.perf_counter()
    indices = strategy.propose(model, X, q, P, seed=seed)
    seconds = time.perf_counter() - start
    acquisition = strategy.last_acquisition
    mean = sd = None
    if model is not None:
        # a measurement's predictive distribution (observation noise included), so that
        # calibration figures compare like with like
        why = explain(model, X, indices, observation_noise=True)
        mean, sd = why["mean"].cpu().numpy(), why["sd"].cpu().numpy()
    return Proposal(
        indices=indices.cpu().numpy(), mean=mean, sd=sd,
        acquisition=None if acquisition is None else acquisition.detach().cpu().numpy(),
        seconds=seconds)
