import pytest
import torch

from instruments import DeepEnsemble, InstrumentError, predict_mean_sd
from tests.instruments import _shared
from tests.instruments._synthetic import synthetic_data


def test_posterior_shapes(fitted_ensemble, data):
    X = data[2][:24].reshape(2, 4, 3, -1)  # b1 x b2 x q x d
    posterior = fitted_ensemble.posterior(X)
    assert posterior.mean.shape == (2, 4, 3, 1)
    assert posterior.variance.shape == (2, 4, 3, 1)
    assert (posterior.variance > 0).all()
    assert posterior.mean.dtype == torch.float64


def test_fit_figures_are_sane(fitted_ensemble):
    assert 0.1 <= fitted_ensemble.calibration_scale <= 10.0
    # targets have noise sd 0.2, so the noise variance is of order 0.04
    assert 0.005 < fitted_ensemble.noise_variance < 0.3


@pytest.mark.parametrize(
    "X, Y",
    [
        (torch.tensor([[0.0, float("nan")], [1.0, 2.0]]), torch.tensor([[1.0], [2.0]])),
        (torch.zeros(5, 2), torch.zeros(4, 1)),
        (torch.zeros(5, 2, 1), torch.zeros(5, 1)),
        (torch.zeros(1, 2), torch.zeros(1, 1)),
    ],
    ids=["nan", "rows", "dims", "one-point"],
)
def test_bad_data_raises(X, Y):
    with pytest.raises(InstrumentError):
        DeepEnsemble(epochs=2).fit(X, Y)


def test_posterior_before_fit_raises():
    with pytest.raises(InstrumentError, match="not fitted"):
        DeepEnsemble().posterior(torch.zeros(3, 2))


def test_wrong_feature_count_raises(fitted_ensemble):
    with pytest.raises(InstrumentError, match="features"):
        fitted_ensemble.posterior(torch.zeros(3, 2, dtype=torch.float64))


def test_accuracy_and_calibrated_coverage(fitted_ensemble, data):
    _shared.check_accuracy_and_coverage(fitted_ensemble, data[2], data[3])


def test_deterministic_for_a_seed(data):
    X, Y = synthetic_data(80, seed=5)
    first = predict_mean_sd(DeepEnsemble(seed=7, epochs=30).fit(X, Y), data[2][:50])
    second = predict_mean_sd(DeepEnsemble(seed=7, epochs=30).fit(X, Y), data[2][:50])
    other = predict_mean_sd(DeepEnsemble(seed=8, epochs=30).fit(X, Y), data[2][:50])
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], other[0])


def test_botorch_acquisition_functions(fitted_ensemble, data):
    _shared.check_acquisition_functions(fitted_ensemble, data[1], data[2])
    _shared.check_gradient(fitted_ensemble, data[2])


def test_sample_pool(fitted_ensemble, data):
    _shared.check_sample_pool(fitted_ensemble, data[2][:500])


def test_warm_start_starts_from_previous_weights(data):
    X, Y = synthetic_data(120, seed=1)
    cold = DeepEnsemble(seed=0, epochs=0).fit(X, Y)
    warm = DeepEnsemble(seed=0, epochs=60, warm_start=True).fit(X[:100], Y[:100])
    before = [p.detach().clone() for p in warm.layers]
    warm.epochs = 0
    warm.fit(X, Y)  # zero epochs: weights must be the ones from the first fit
    assert all(torch.equal(a, b) for a, b in zip(before, warm.layers))
    assert not torch.equal(before[0], cold.layers[0])
