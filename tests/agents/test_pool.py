import pytest
import torch
from botorch.acquisition.analytic import UpperConfidenceBound

from agents.base import StrategyError
from agents.pool import _PoolModel, index_points, observation_noise, pool_moments, pool_samples
from instruments.testing import FakeInstrument


def test_pool_model_scores_every_index_with_botorch_ucb():
    mean = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    variance = torch.tensor([4.0, 1.0, 0.0], dtype=torch.float64)
    scores = UpperConfidenceBound(_PoolModel(mean, variance), beta=4.0)(index_points(3))
    assert torch.allclose(scores, mean + 2 * variance.clamp_min(1e-10).sqrt())


def test_pool_moments_in_chunks_match_one_call():
    model = FakeInstrument(weights=torch.tensor([1.0, -2.0]), variance=0.5)
    model.max_batch_size = 3
    X = torch.rand(10, 2, dtype=torch.float64)
    mean, variance = pool_moments(model, X)
    assert torch.allclose(mean, X @ torch.tensor([1.0, -2.0], dtype=torch.float64))
    assert torch.allclose(variance, torch.full((10,), 0.5, dtype=torch.float64))


def test_pool_samples_refuse_a_wrong_shape():
    class Wrong(FakeInstrument):
        def sample_pool(self, X, n_samples, seed=0):
            return torch.zeros(n_samples, X.shape[0] + 1)

    with pytest.raises(StrategyError, match="sample_pool returned shape"):
        pool_samples(Wrong(), torch.rand(3, 2), 2, seed=0)


def test_observation_noise_prefers_option_then_model():
    variance = torch.ones(3, dtype=torch.float64)
    model = FakeInstrument()
    model.noise_variance = 0.25
    assert observation_noise(model, variance, 0.5) == 0.5
    assert observation_noise(model, variance) == 0.25
    with pytest.raises(StrategyError, match="noise variance"):
        observation_noise(model, variance, -1.0)
