"""A synthetic regression problem shared by the instrument tests."""

from __future__ import annotations

import torch
from torch import Tensor


def synthetic_data(n: int, d: int = 6, noise_sd: float = 0.2, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Return `n x d` features in `[-1, 1]^d` and `n x 1` noisy targets of a smooth function."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=generator, dtype=torch.float64) * 2 - 1
    f = torch.sin(2.5 * X[:, 0]) + 0.8 * X[:, 1] + X[:, 2] * X[:, 3]
    Y = f + noise_sd * torch.randn(n, generator=generator, dtype=torch.float64)
    return X, Y.unsqueeze(-1)
