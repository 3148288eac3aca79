"""The instrument contract: template methods and the defaults agents rely on."""

import pytest
import torch
from botorch.acquisition.objective import ScalarizedPosteriorTransform
from botorch.models import SingleTaskGP
from botorch.posteriors.gpytorch import GPyTorchPosterior
from torch import Tensor

from instruments import InstrumentBase, InstrumentError, ModelInstrument
from instruments.testing import FakeInstrument


class TinyGP(InstrumentBase):
    """A minimal instrument: only `_fit` and `_posterior` (an exact GP, fixed hyperparameters)."""

    def _fit(self, train_X: Tensor, train_Y: Tensor) -> None:
        self.train_X, self.train_Y = train_X, train_Y
        self.gp = SingleTaskGP(train_X, train_Y, outcome_transform=None)
        self.gp.covar_module.lengthscale = 0.2
        self.gp.likelihood.noise = 1e-3
        self.gp.eval()

    def _posterior(self, X: Tensor, observation_noise) -> GPyTorchPosterior:
        return self.gp.posterior(X, observation_noise=observation_noise)


@pytest.fixture
def tiny():
    X = torch.linspace(0, 1, 7, dtype=torch.float64).unsqueeze(-1)
    model = TinyGP().fit(X, torch.sin(5 * X))
    model.max_batch_size = 4  # several chunks over the pools below
    return model


def test_posterior_checks_fitted_ness_and_features_once():
    with pytest.raises(InstrumentError, match="the instrument instrument is not fitted yet"):
        TinyGP().posterior(torch.zeros(3, 1))
    X = torch.rand(5, 2, dtype=torch.float64)
    model = TinyGP().fit(X, X[:, :1])
    with pytest.raises(InstrumentError, match="expected 2 features, got 3"):
        model.predict_moments(torch.zeros(3, 3))


def test_posterior_transform_is_applied(tiny):
    X = torch.rand(4, 1, dtype=torch.float64)
    transform = ScalarizedPosteriorTransform(weights=torch.tensor([-2.0], dtype=torch.float64))
    assert torch.allclose(tiny.posterior(X, posterior_transform=transform).mean,
                          -2 * tiny.posterior(X).mean)


def test_default_predict_moments_are_the_marginals_in_chunks(tiny):
    pool = torch.rand(10, 1, dtype=torch.float64)
    mean, variance = tiny.predict_moments(pool)
    joint = tiny.posterior(pool)
    assert torch.allclose(mean, joint.mean.squeeze(-1))
    assert torch.allclose(variance, joint.variance.squeeze(-1))
    _, noisy = tiny.predict_moments(pool, observation_noise=True)
    assert torch.allclose(noisy, variance + 1e-3)


def test_default_cross_covariance_is_a_column_of_the_joint_covariance(tiny):
    pool = torch.rand(10, 1, dtype=torch.float64)
    covariance = tiny.posterior(pool).covariance_matrix
    assert torch.allclose(tiny.cross_covariance(pool, pool[6:7]), covariance[:, 6])


def test_default_sample_pool_is_seeded_and_joint(tiny):
    pool = torch.linspace(0, 1, 9, dtype=torch.float64).unsqueeze(-1)
    samples = tiny.sample_pool(pool, 4000, seed=1)
    assert samples.shape == (4000, 9)
    assert torch.equal(samples, tiny.sample_pool(pool, 4000, seed=1))
    assert not torch.equal(samples, tiny.sample_pool(pool, 4000, seed=2))
    covariance = tiny.posterior(pool).covariance_matrix.squeeze()
    assert torch.allclose(samples.T.cov(), covariance, atol=0.05 * float(covariance.diagonal().max()))


def test_model_instrument_wraps_a_plain_botorch_model():
    X = torch.rand(6, 2, dtype=torch.float64)
    gp = SingleTaskGP(X, X.sum(-1, keepdim=True)).eval()
    wrapped = ModelInstrument(gp, noise_variance=0.5)
    assert wrapped.is_fitted and wrapped.noise_variance == 0.5
    mean, _ = wrapped.predict_moments(X)
    assert torch.allclose(mean, gp.posterior(X).mean.squeeze(-1))
    with pytest.raises(InstrumentError, match="fitted by its owner"):
        wrapped.fit(X, X[:, :1])


def test_fake_instrument_has_fixed_moments_and_needs_no_fit():
    fake = FakeInstrument(weights=torch.tensor([1.0, 2.0]), variance=0.25)
    X = torch.rand(5, 2, dtype=torch.float64)
    mean, variance = fake.predict_moments(X)
    assert torch.allclose(mean, X @ torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert torch.equal(variance, torch.full((5,), 0.25, dtype=torch.float64))
    # independent draws per point, even at the same features
    assert torch.equal(fake.cross_covariance(X, X[2:3]), torch.zeros(5, dtype=torch.float64))
