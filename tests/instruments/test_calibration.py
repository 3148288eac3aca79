import math

import pytest
import torch

from instruments import gaussian_nll, interval_coverage, predict_mean_sd
from instruments.calibration import fit_variance_scale
from instruments.testing import FakeInstrument


def test_interval_coverage_of_gaussian_draws():
    generator = torch.Generator().manual_seed(0)
    y = torch.randn(20000, generator=generator, dtype=torch.float64)
    zeros, ones = torch.zeros_like(y), torch.ones_like(y)
    assert interval_coverage(zeros, ones, y, level=0.9) == pytest.approx(0.9, abs=0.01)
    assert interval_coverage(zeros, ones, y, level=0.5) == pytest.approx(0.5, abs=0.01)
    assert interval_coverage(zeros, 0.01 * ones, y) < 0.05


def test_interval_coverage_rejects_bad_level():
    with pytest.raises(ValueError):
        interval_coverage(torch.zeros(3), torch.ones(3), torch.zeros(3), level=1.0)


def test_gaussian_nll_matches_torch():
    mean, sd, y = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0]), torch.tensor([0.5, -1.0])
    expected = -torch.distributions.Normal(mean, sd).log_prob(y).mean().item()
    assert gaussian_nll(mean, sd, y) == pytest.approx(expected)
    assert gaussian_nll(torch.zeros(1), torch.ones(1), torch.zeros(1)) == pytest.approx(
        0.5 * math.log(2 * math.pi)
    )


def test_fit_variance_scale():
    generator = torch.Generator().manual_seed(0)
    z = 2.0 * torch.randn(50000, generator=generator)
    assert fit_variance_scale(z) == pytest.approx(4.0, rel=0.03)
    assert fit_variance_scale(torch.tensor([float("nan"), 2.0])) == pytest.approx(4.0)
    assert fit_variance_scale(torch.zeros(10)) == 0.1  # clamped below
    assert fit_variance_scale(torch.full((10,), 100.0)) == 10.0  # clamped above
    assert fit_variance_scale(torch.empty(0)) == 1.0


class _CountingInstrument(FakeInstrument):
    """Records the size of every posterior call."""

    def __init__(self):
        super().__init__(variance=4.0)
        self.calls = []

    def posterior(self, X, **kwargs):
        self.calls.append(tuple(X.shape))
        return super().posterior(X, **kwargs)


def test_predict_mean_sd_chunks_the_pool():
    model = _CountingInstrument()
    X = torch.arange(25, dtype=torch.float64).reshape(25, 1)
    mean, sd = predict_mean_sd(model, X, max_batch_size=10)
    assert [shape[0] for shape in model.calls] == [10, 10, 5]
    assert torch.equal(mean, X[:, 0]) and torch.allclose(sd, torch.full((25,), 2.0, dtype=torch.float64))


def test_predict_mean_sd_rejects_batched_input():
    with pytest.raises(ValueError):
        predict_mean_sd(FakeInstrument(), torch.zeros(2, 3, 1))
