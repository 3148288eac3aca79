"""Instruments for agent tests: a clustered fake and a small pathwise GP."""

from __future__ import annotations

import pytest
import torch
from botorch.models import SingleTaskGP
from botorch.posteriors.gpytorch import GPyTorchPosterior
from botorch.sampling.pathwise import draw_matheron_paths
from gpytorch.distributions import MultivariateNormal
from torch import Tensor

from instruments.testing import FakeInstrument


class ClusterInstrument(FakeInstrument):
    """Mean `X[:, 0]`, unit variance; points sharing `X[:, 1]` move together.

    `sample_pool` draws one normal per cluster, so duplicates in a cluster are
    perfectly correlated and different clusters independent; `posterior` has
    the same joint covariance (what exact fantasies read).
    """

    def posterior(self, X: Tensor, output_indices=None, observation_noise=False,
                  posterior_transform=None, **kwargs) -> GPyTorchPosterior:
        clusters = X[..., 1]
        same = (clusters.unsqueeze(-1) == clusters.unsqueeze(-2)).double()
        covar = self.variance * same + 1e-9 * torch.eye(X.shape[-2], dtype=torch.float64)
        posterior = GPyTorchPosterior(MultivariateNormal(self._mean(X), covar))
        return posterior_transform(posterior) if posterior_transform else posterior

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


class PathwiseGP(SingleTaskGP):
    """A SingleTaskGP with `sample_pool` by Matheron's rule (pathwise sampling)."""

    noise_variance = 1e-4

    def sample_pool(self, X: Tensor, n_samples: int, seed: int = 0) -> Tensor:
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(seed)
            paths = draw_matheron_paths(self, torch.Size([n_samples]))
            return paths(X)


@pytest.fixture
def cluster_model() -> ClusterInstrument:
    return ClusterInstrument(variance=1.0)


@pytest.fixture(scope="session")
def gp_problem() -> tuple[PathwiseGP, Tensor]:
    """A GP on a 1-d sine with 8 training points and a 200-point grid pool."""
    train_X = torch.linspace(0.05, 0.95, 8, dtype=torch.float64).unsqueeze(-1)
    train_Y = torch.sin(6 * train_X)
    model = PathwiseGP(train_X, train_Y)
    model.covar_module.lengthscale = 0.1  # fixed hyperparameters: fast and deterministic
    model.likelihood.noise = 1e-4
    model.eval()
    pool = torch.linspace(0, 1, 200, dtype=torch.float64).unsqueeze(-1)
    return model, pool
