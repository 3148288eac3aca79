"""One proposal, run beside the warm instrument (inside its Ray actor)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def propose_batch(model, name: str, options: dict[str, Any], candidates: np.ndarray,
                  pending: np.ndarray, q: int, seed: int) -> dict[str, Any]:
    """Choose `q` rows of `candidates` with strategy `name` and explain each choice.

    Args:
        model: the fitted instrument (a BoTorch `Model`).
        name: a registered strategy name; `options` are its settings.
        candidates: `n x d` features of the candidates still free.
        pending: `p x d` features of experiments the lab still owes (p may be 0).
        q: batch size.
        seed: seed of every random draw.

    Returns:
        `indices` (q rows into `candidates`), the predicted `mean` and `sd` of
        each chosen candidate, and `seconds` spent choosing.
    """
    import torch

    from agents import explain, make_strategy

    X = torch.as_tensor(candidates, dtype=torch.float64)
    P = torch.as_tensor(pending, dtype=torch.float64) if len(pending) else None
    strategy = make_strategy(name, **options)
    t0 = time.perf_counter()
    indices = strategy.propose(model, X, q, P, seed=seed)
    seconds = time.perf_counter() - t0
    # predictive distribution of a measurement (observation noise included), so that
    # the calibration figures compare like with like
    why = explain(model, X, indices, observation_noise=True)
    return {"indices": indices.cpu().numpy(), "mean": why["mean"].cpu().numpy(),
            "sd": why["sd"].cpu().numpy(), "seconds": seconds}
