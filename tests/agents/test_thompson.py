import torch

from agents import ThompsonStrategy
from agents.thompson import _condition_samples, _distinct_argmax
from tests.agents.conftest import clustered_pool


def test_distinct_argmax_skips_chosen_columns():
    samples = torch.tensor([[0.0, 3.0, 1.0], [0.0, 3.0, 2.0], [5.0, 3.0, 2.0]])
    assert _distinct_argmax(samples).tolist() == [1, 2, 0]


def test_thompson_is_deterministic_per_seed_and_varies_across_seeds(gp_problem):
    model, pool = gp_problem
    strategy = ThompsonStrategy()
    a = strategy.propose(model, pool, 5, seed=0)
    assert torch.equal(a, strategy.propose(model, pool, 5, seed=0))
    assert a.unique().numel() == 5
    assert any(not torch.equal(a, strategy.propose(model, pool, 5, seed=s)) for s in (1, 2, 3))


def test_conditioning_on_pending_removes_the_spread_of_its_cluster():
    z = torch.randn(300, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    samples = torch.stack([z[:, 0], z[:, 0], z[:, 1]], dim=1)  # pending, its duplicate, another
    conditioned = _condition_samples(samples, n_pending=1, n_keep=300, noise=1e-6)
    assert conditioned[:, 1].std() < 0.01
    assert conditioned[:, 2].std() > 0.8


def test_thompson_with_pending_returns_distinct_candidates(cluster_model):
    candidates = clustered_pool(n_clusters=3, size=5)
    indices = ThompsonStrategy(n_samples=64).propose(cluster_model, candidates, 4, candidates[:2], seed=1)
    assert indices.unique().numel() == 4 and int(indices.max()) < 15
