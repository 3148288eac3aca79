import pytest
import torch

from agents.pool import cross_covariance, pool_moments
from instruments import AdditiveGP, InstrumentError, make_instrument
from instruments.calibration import interval_coverage, predict_mean_sd
from tests.instruments import _shared


def _factorial(seed=0, noise=0.05):
    """A 6 x 5 x 4 factorial design with a 2-d descriptor per level; additive truth."""
    g = torch.Generator().manual_seed(seed)
    levels = [6, 5, 4]
    desc = [torch.rand(k, 2, generator=g, dtype=torch.float64) for k in levels]
    grid = torch.cartesian_prod(*[torch.arange(k) for k in levels])
    X = torch.cat([desc[f][grid[:, f]] for f in range(3)], dim=1)
    effects = [torch.sin(4 * d[:, 0]) + d[:, 1] for d in desc]
    f = sum(2.0 * effects[k][grid[:, k]] / (k + 1) for k in range(3))
    Y = (f + noise * torch.randn(len(f), generator=g, dtype=torch.float64))[:, None]
    return X, Y, f


BLOCKS = [[0, 2], [2, 4], [4, 6]]


def test_additive_kernel_predicts_unseen_combinations_better_than_one_block():
    X, Y, f = _factorial()
    train = torch.randperm(len(Y), generator=torch.Generator().manual_seed(1))[:40]
    test = torch.ones(len(Y), dtype=torch.bool)
    test[train] = False
    additive = AdditiveGP(blocks=BLOCKS).fit(X[train], Y[train])
    joint = AdditiveGP().fit(X[train], Y[train])  # one ARD RBF over all columns
    mse = {name: ((model.predict_moments(X[test])[0] - f[test]) ** 2).mean()
           for name, model in {"additive": additive, "joint": joint}.items()}
    assert mse["additive"] < 0.5 * mse["joint"]
    assert mse["additive"] < 0.2 * f[test].var()
    mean, sd = predict_mean_sd(additive, X[test], observation_noise=True)
    assert 0.75 <= interval_coverage(mean, sd, Y[test, 0], level=0.9) <= 1.0


def test_moments_cross_covariance_and_samples_agree_with_the_joint_posterior():
    X, Y, _ = _factorial()
    model = make_instrument("additive", blocks=BLOCKS, interaction=True).fit(X[:40], Y[:40])
    posterior = model.posterior(X[:60])
    mean, var = pool_moments(model, X[:60])
    assert torch.allclose(posterior.mean.squeeze(-1), mean)
    assert torch.allclose(posterior.variance.squeeze(-1), var, atol=1e-6)
    covariance = posterior.distribution.covariance_matrix
    assert torch.allclose(cross_covariance(model, X[:60], X[7:8]), covariance[:, 7], atol=1e-6)
    _shared.check_sample_pool(model, X[:60])
    samples = model.sample_pool(X[:60], 3000, seed=2)
    assert torch.allclose(samples.mean(0), mean, atol=0.1 * float(var.sqrt().max()))
    assert torch.allclose(samples.var(0) / var, torch.ones(60, dtype=torch.float64), atol=0.2)
    noisy = model.posterior(X[:5], observation_noise=True).variance.squeeze(-1)
    assert torch.allclose(noisy - var[:5], torch.full((5,), model.noise_variance, dtype=torch.float64), atol=1e-6)


def test_batched_posterior_and_botorch_acquisition():
    X, Y, _ = _factorial()
    model = AdditiveGP(blocks=BLOCKS).fit(X[:30], Y[:30])
    assert model.posterior(X[:12].reshape(4, 3, 6)).mean.shape == (4, 3, 1)
    _shared.check_acquisition_functions(model, Y[:30], X[30:])
    _shared.check_gradient(model, X[30:])


def test_warm_start_refit_and_bad_input_are_handled():
    X, Y, _ = _factorial()
    model = AdditiveGP(blocks=BLOCKS, maxiter=200).fit(X[:30], Y[:30])
    first = model.theta.clone()
    model.fit(X[:31], Y[:31])
    assert model.theta.shape == first.shape and not torch.equal(model.theta, first)
    with pytest.raises(InstrumentError, match="outside"):
        AdditiveGP(blocks=[[0, 99]]).fit(X[:30], Y[:30])
    with pytest.raises(InstrumentError, match="equal"):
        AdditiveGP().fit(X[:5], torch.ones(5, 1))
    with pytest.raises(InstrumentError, match="not fitted"):
        AdditiveGP().posterior(X[:3])
    with pytest.raises(InstrumentError, match="features"):
        model.posterior(X[:3, :4])


def test_host_checkpoint_restores_identical_predictions(tmp_path):
    X, Y, _ = _factorial()
    _shared.check_host_checkpoint("additive", {"blocks": BLOCKS}, X[:30], Y[:30], X[30:],
                                  tmp_path)
