"""Instruments for agent tests: a clustered fake and a small pathwise GP."""

from __future__ import annotations

import pytest
import torch
from botorch.models import SingleTaskGP
from botorch.posteriors.gpytorch import GPyTorchPosterior
from botorch.sampling.pathwise import draw_matheron_paths
from gpytorch.distributions import MultivariateNormal
from torch import Tensor

from instruments.base import ModelInstrument
from instruments.testing import FakeInstrument


class ClusterInstrument(FakeInstrument):
    """Mean `X[:, 0]`, unit variance; points sharing `X[:, 1]` move together.

    `sample_pool` draws one normal per cluster, so duplicates in a cluster are
    perfectly correlated and different clusters independent; `posterior` has
    the same joint covariance (what exact fantasies read).
    """

    def _posterior(self, X: Tensor, observation_noise=False) -> GPyTorchPosterior:
        clusters = X[..., 1]
        same = (clusters.unsqueeze(-1) == clusters.unsqueeze(-2)).double()
        covar = self.variance * same + 1e-9 * torch.eye(X.shape[-2], dtype=torch.float64)
        return GPyTorchPosterior(MultivariateNormal(self._mean(X), covar))

    def sample_pool(self, X: Tensor, n_samples: int, seed: int = 0) -> Tensor:
        generator = torch.Generator().manual_seed(seed)
        clusters = X[:, 1].long()
        z = torch.randn(n_samples, int(clusters.max()) + 1, generator=generator,
                        dtype=torch.float64)
        return self._mean(X) + self.variance**0.5 * z[:, clusters]


def clustered_pool(n_clusters: int = 3, size: int = 5, means: list[float] | None = None) -> Tensor:
    """Return an `(n_clusters * size) x 2` pool: column 0 the mean, column 1 the cluster."""
    means = means or [0.0] * n_clusters
    rows = [[means[c], float(c)] for c in range(n_clusters) for _ in range(size)]
    return torch.tensor(rows, dtype=torch.float64)


class PathwiseGP(ModelInstrument):
    """A fitted SingleTaskGP with `sample_pool` by Matheron's rule (pathwise sampling)."""

    def sample_pool(self, X: Tensor, n_samples: int, seed: int = 0) -> Tensor:
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(seed)
            paths = draw_matheron_paths(self.model, torch.Size([n_samples]))
            return paths(X)


@pytest.fixture
def cluster_model() -> ClusterInstrument:
    return ClusterInstrument(variance=1.0)


@pytest.fixture(scope="session")
def gp_problem() -> tuple[PathwiseGP, Tensor]:
    """A GP on a 1-d sine with 8 training points and a 200-point grid pool."""
    train_X = torch.linspace(0.05, 0.95, 8, dtype=torch.float64).unsqueeze(-1)
    train_Y = torch.sin(6 * train_X)
    gp = SingleTaskGP(train_X, train_Y)
    gp.covar_module.lengthscale = 0.1  # fixed hyperparameters: fast and deterministic
    gp.likelihood.noise = 1e-4
    gp.eval()
    pool = torch.linspace(0, 1, 200, dtype=torch.float64).unsqueeze(-1)
    return PathwiseGP(gp, noise_variance=1e-4), pool
