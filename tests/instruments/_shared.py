"""Checks every instrument must pass, called from each instrument's test module."""

from __future__ import annotations

import torch
from botorch.acquisition import (
    LogExpectedImprovement,
    UpperConfidenceBound,
    qLogExpectedImprovement,
)

from instruments import InstrumentHost, interval_coverage, predict_mean_sd


def check_acquisition_functions(model, train_Y, X_pool) -> None:
    """Analytic and MC BoTorch acquisition functions evaluate on `model`."""
    best_f = train_Y.max()
    analytic = X_pool[:10].unsqueeze(-2)  # 10 x 1 x d
    for acqf in (UpperConfidenceBound(model, beta=2.0), LogExpectedImprovement(model, best_f)):
        values = acqf(analytic)
        assert values.shape == (10,) and torch.isfinite(values).all()
    batch = X_pool[:12].reshape(4, 3, -1)  # 4 x 3 x d
    values = qLogExpectedImprovement(model, best_f)(batch)
    assert values.shape == (4,) and torch.isfinite(values).all()


def check_gradient(model, X_pool) -> None:
    """Acquisition values are differentiable with respect to the inputs."""
    X = X_pool[:5].unsqueeze(-2).clone().requires_grad_(True)
    UpperConfidenceBound(model, beta=2.0)(X).sum().backward()
    assert X.grad is not None and torch.isfinite(X.grad).all() and X.grad.abs().sum() > 0


def check_accuracy_and_coverage(model, test_X, test_Y, observation_noise=False) -> float:
    """Held-out error beats the mean predictor and 90% intervals cover about 90%."""
    mean, sd = predict_mean_sd(model, test_X, observation_noise=observation_noise)
    rmse = (mean - test_Y.squeeze(-1)).square().mean().sqrt()
    assert rmse < 0.6 * test_Y.std()
    coverage = interval_coverage(mean, sd, test_Y, level=0.9)
    assert 0.75 <= coverage <= 0.98, coverage
    return coverage


def check_sample_pool(model, X_pool) -> None:
    """Pool samples have the right shape, are seeded, and average to the posterior mean."""
    samples = model.sample_pool(X_pool, n_samples=256, seed=3)
    assert samples.shape == (256, X_pool.shape[0])
    assert torch.equal(samples, model.sample_pool(X_pool, n_samples=256, seed=3))
    assert not torch.equal(samples, model.sample_pool(X_pool, n_samples=256, seed=4))
    mean, sd = predict_mean_sd(model, X_pool)
    # the sample mean is within a few standard errors of the posterior mean
    error = (samples.mean(0) - mean).abs() / (sd / 256**0.5)
    assert error.median() < 2.0
    assert (samples.std(0) > 0).all()


def check_host_checkpoint(kind, options, train_X, train_Y, X_pool, directory) -> None:
    """A second host on the same checkpoint folder predicts exactly as the first."""
    host = InstrumentHost(kind, options, str(directory))
    host.fit(train_X, train_Y)
    again = InstrumentHost(kind, options, str(directory))
    assert again.is_fitted
    for a, b in zip(host.predict(X_pool), again.predict(X_pool)):
        assert torch.allclose(a, b)
