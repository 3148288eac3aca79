"""Batch Thompson sampling: one joint posterior sample per batch member."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from agents.base import StrategyBase, StrategyError
from agents.fantasy import Fantasy
from agents.greedy import n_fantasy_samples
from agents.pool import observation_noise, pool_samples
from agents.registry import register_strategy
from instruments.base import InstrumentBase


def _distinct_argmax(samples: Tensor) -> Tensor:
    """Return, for each of the `q x n` samples in turn, its best unchosen column.

    Returns:
        A `q`-dim long tensor of distinct indices into the `n` columns.
    """
    q, n = samples.shape
    taken = torch.zeros(n, dtype=torch.bool)
    chosen = torch.empty(q, dtype=torch.long)
    for k in range(q):
        j = int(torch.nan_to_num(samples[k], nan=-torch.inf).masked_fill(taken, -torch.inf).argmax())
        chosen[k] = j
        taken[j] = True
    return chosen


def _condition_samples(samples: Tensor, n_pending: int, n_keep: int, noise: float) -> Tensor:
    """Condition an ensemble on believed observations of its first `p` columns.

    The ensemble mean stays (kriging believer); the spread around it is shrunk
    by the square-root ensemble Kalman updates of `agents.fantasy`, so the
    samples vary less near the pending points.

    Args:
        samples: `S x m` joint samples.
        n_pending: `p`, the leading columns to condition on.
        n_keep: number of conditioned samples to return (`<= S`).
        noise: observation noise variance.

    Returns:
        `n_keep x m` conditioned samples.
    """
    S = samples.shape[0]
    fantasy = Fantasy(samples, samples.var(0), noise, rescale=False)
    for j in range(n_pending):
        fantasy.condition(j)
    return samples.mean(0) + math.sqrt(S - 1) * fantasy.anomalies(slice(0, n_keep))


@register_strategy("thompson")
class ThompsonStrategy(StrategyBase):
    """Batch Thompson sampling over the pool.

    Draws joint samples with `model.sample_pool` and takes each sample's best
    candidate not yet in the batch; a pick's acquisition value is its sample's
    value there. With pending points,
    `max(q, n_samples)` samples over pool and pending are conditioned on
    believed observations of the pending points first (`_condition_samples`),
    and the first `q` are used.
    """

    def __init__(self, *, n_samples: int | None = None, noise: float | None = None) -> None:
        """Set the conditioning options (used only with pending points).

        Args:
            n_samples: ensemble size for conditioning; default `max(256, 2 p)`.
            noise: noise variance of a believed observation; default
                `model.noise_variance`, else a small fraction of the variance.
        """
        if n_samples is not None and n_samples < 2:
            raise StrategyError(f"n_samples must be at least 2, got {n_samples}")
        self.n_samples = n_samples
        self.noise = noise

    def _propose(self, model: InstrumentBase, candidates: Tensor, q: int,
                 pending: Tensor | None, seed: int) -> Tensor:
        if pending is None:
            samples = pool_samples(model, candidates, q, seed)
        else:
            p = pending.shape[0]
            S = max(q, 2, n_fantasy_samples(self.n_samples, p))
            X = torch.cat([pending, candidates])
            samples = pool_samples(model, X, S, seed)
            noise = observation_noise(model, samples.var(0), self.noise)
            samples = _condition_samples(samples, p, q, noise)[:, p:]
        chosen = _distinct_argmax(samples)
        # each pick is scored by the value its own sample gives it
        self.last_acquisition = samples[torch.arange(q), chosen].double()
        return chosen
