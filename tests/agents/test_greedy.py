import torch
from botorch.models import SingleTaskGP

from agents import EIStrategy, UCBStrategy, UncertaintyStrategy, make_strategy
from agents.fantasy import ExactFantasy, Fantasy
from agents.pool import cross_covariance, pool_moments
from instruments.base import ModelInstrument
from instruments.testing import FakeInstrument
from tests.agents.conftest import clustered_pool


def test_ucb_with_beta_zero_returns_the_top_q_means():
    candidates = torch.rand(40, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    indices = UCBStrategy(beta=0.0).propose(FakeInstrument(), candidates, 5)
    assert set(indices.tolist()) == set(candidates[:, 0].topk(5).indices.tolist())


def test_uncertainty_spreads_a_batch_over_clusters(cluster_model):
    candidates = clustered_pool(n_clusters=3, size=5)
    indices = UncertaintyStrategy().propose(cluster_model, candidates, 3)
    assert sorted(candidates[indices, 1].tolist()) == [0.0, 1.0, 2.0]


def test_ucb_batch_moves_on_from_a_covered_cluster(cluster_model):
    candidates = clustered_pool(n_clusters=3, size=5, means=[1.0, 0.9, 0.0])
    indices = UCBStrategy(beta=4.0).propose(cluster_model, candidates, 3)
    assert sorted(candidates[indices, 1].tolist()) == [0.0, 1.0, 2.0]


def test_pending_points_shrink_their_cluster(cluster_model):
    candidates = clustered_pool(n_clusters=3, size=5)
    pending = candidates[:1]  # a point of cluster 0
    for name in ("ucb", "uncertainty", "ei"):
        indices = make_strategy(name).propose(cluster_model, candidates, 2, pending)
        assert 0.0 not in candidates[indices, 1].tolist(), name


def test_ei_takes_best_f_from_the_training_targets():
    model = FakeInstrument().fit(torch.rand(4, 1, dtype=torch.float64),
                                 torch.full((4, 1), 5.0, dtype=torch.float64))
    assert EIStrategy()._best_f(model, torch.zeros(3)) == 5.0
    assert EIStrategy(best_f=1.0)._best_f(model, torch.zeros(3)) == 1.0
    assert EIStrategy()._best_f(FakeInstrument(), torch.tensor([0.0, 2.0])) == 2.0


def test_greedy_batches_on_a_gp_are_distinct_spread_and_deterministic(gp_problem):
    model, pool = gp_problem
    for name in ("ucb", "ei", "uncertainty"):
        strategy = make_strategy(name, n_samples=64)
        a = strategy.propose(model, pool, 6, pool[:3], seed=2)
        assert a.unique().numel() == 6 and torch.equal(a, strategy.propose(model, pool, 6, pool[:3], seed=2))
        assert strategy.last_seconds is not None
    indices = make_strategy("uncertainty", n_samples=64).propose(model, pool, 4)
    gaps = pool[indices, 0].sort().values.diff()
    assert gaps.min() > 0.05  # the top-4 sds alone would be neighbours on the grid


def test_exact_fantasies_match_condition_on_observations():
    train_X = torch.linspace(0.05, 0.95, 8, dtype=torch.float64).unsqueeze(-1)
    model = SingleTaskGP(train_X, torch.sin(6 * train_X), outcome_transform=None)
    model.covar_module.lengthscale, model.likelihood.noise = 0.1, 1e-3
    model.eval()
    pool = torch.linspace(0, 1, 200, dtype=torch.float64).unsqueeze(-1)
    noise = float(model.likelihood.noise)
    instrument = ModelInstrument(model, max_batch_size=64)
    mean, variance = pool_moments(instrument, pool)
    fantasy = ExactFantasy(lambda j: cross_covariance(instrument, pool, pool[j:j + 1]),
                           variance, noise)
    picks = [17, 120, 121, 60]
    for j in picks:
        fantasy.condition(j)
    X = pool[picks]
    with torch.no_grad():
        believed = model.posterior(X).mean
        conditioned = model.condition_on_observations(X, believed)  # likelihood noise
        exact = conditioned.posterior(pool).variance.reshape(-1)
        covariance = model.posterior(pool).covariance_matrix
    assert torch.allclose(fantasy.variance, exact.clamp_min(fantasy.floor), rtol=1e-6, atol=1e-9)
    K = covariance[picks][:, picks] + noise * torch.eye(4, dtype=torch.float64)
    direct = covariance - covariance[:, picks] @ torch.linalg.solve(K, covariance[picks])
    assert torch.allclose(fantasy.variance, direct.diagonal().clamp_min(fantasy.floor), atol=1e-12)


def test_small_pools_use_exact_fantasies_and_big_ones_samples(gp_problem, monkeypatch):
    model, pool = gp_problem
    made = []
    for cls in (ExactFantasy, Fantasy):
        monkeypatch.setattr(cls, "condition",
                            lambda self, j, _c=cls.condition: (made.append(type(self)), _c(self, j))[1])
    make_strategy("ei").propose(model, pool, 3)
    assert made and set(made) == {ExactFantasy}
    made.clear()
    make_strategy("ei", exact_max=100, n_samples=64).propose(model, pool, 3)
    assert made and set(made) == {Fantasy}
