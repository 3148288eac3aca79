import pytest
import torch

from instruments import GPInstrument, InstrumentError, predict_mean_sd
from instruments.gp import _loo_z
from tests.instruments import _shared
from tests.instruments._synthetic import synthetic_data


def test_posterior_shapes_and_dtype(fitted_gp, data):
    X = data[2][:24].reshape(2, 4, 3, -1)
    posterior = fitted_gp.posterior(X)
    assert posterior.mean.shape == (2, 4, 3, 1)
    assert posterior.distribution.covariance_matrix.shape == (2, 4, 3, 3)
    assert posterior.mean.dtype == torch.float64


def test_covariance_is_scaled_by_calibration(data):
    model = GPInstrument(seed=0).fit(data[0][:60], data[1][:60])
    X = data[2][:7]
    model.calibration_scale = 1.0
    base = model.posterior(X).variance
    model.calibration_scale = 2.5
    assert torch.allclose(model.posterior(X).variance, 2.5 * base)


def test_loo_z_matches_brute_force():
    generator = torch.Generator().manual_seed(0)
    A = torch.randn(8, 8, generator=generator, dtype=torch.float64)
    K = A @ A.T + 0.5 * torch.eye(8, dtype=torch.float64)
    r = torch.randn(8, generator=generator, dtype=torch.float64)
    expected = []
    for i in range(8):
        keep = torch.arange(8) != i
        solve = torch.linalg.solve(K[keep][:, keep], K[keep, i])
        mu = solve @ r[keep]
        var = K[i, i] - solve @ K[keep, i]
        expected.append((r[i] - mu) / var.sqrt())
    assert torch.allclose(_loo_z(K, r), torch.stack(expected))


@pytest.mark.parametrize(
    "X, Y",
    [
        (torch.tensor([[0.0, float("inf")], [1.0, 2.0]]), torch.tensor([[1.0], [2.0]])),
        (torch.zeros(5, 2), torch.zeros(5, 2)),
        (torch.zeros(1, 2), torch.zeros(1, 1)),
        (torch.rand(5, 2), torch.ones(5, 1)),
    ],
    ids=["inf", "two-outputs", "one-point", "constant-targets"],
)
def test_bad_data_raises(X, Y):
    with pytest.raises(InstrumentError):
        GPInstrument().fit(X, Y)


def test_posterior_before_fit_raises():
    with pytest.raises(InstrumentError, match="not fitted"):
        GPInstrument().posterior(torch.zeros(3, 2))


def test_accuracy_and_calibrated_coverage(fitted_gp, data):
    # held-out targets are noisy, so the interval must include observation noise
    _shared.check_accuracy_and_coverage(fitted_gp, data[2], data[3], observation_noise=True)
    assert 0.5 <= fitted_gp.calibration_scale <= 2.0
    assert 0.01 < fitted_gp.noise_variance < 0.1  # true noise variance 0.04


def test_deterministic_for_a_seed(data):
    X, Y = synthetic_data(60, seed=5)
    first = predict_mean_sd(GPInstrument(seed=1).fit(X, Y), data[2][:50])
    second = predict_mean_sd(GPInstrument(seed=1).fit(X, Y), data[2][:50])
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_botorch_acquisition_functions(fitted_gp, data):
    _shared.check_acquisition_functions(fitted_gp, data[1], data[2])
    _shared.check_gradient(fitted_gp, data[2])


def test_sample_pool(fitted_gp, data):
    _shared.check_sample_pool(fitted_gp, data[2][:500])


def test_warm_start_reuses_hyperparameters(data):
    model = GPInstrument(seed=0, maxiter=50).fit(data[0][:80], data[1][:80])
    lengthscale = model.model.covar_module.lengthscale.detach().clone()
    model.maxiter = 0
    model.fit(data[0][:100], data[1][:100])
    assert torch.allclose(model.model.covar_module.lengthscale, lengthscale, rtol=0.02)
    cold = GPInstrument(seed=0, warm_start=False, maxiter=0).fit(data[0][:100], data[1][:100])
    assert not torch.allclose(cold.model.covar_module.lengthscale, lengthscale, rtol=0.2)
