import pytest
import torch
from botorch.acquisition import LogExpectedImprovement, UpperConfidenceBound

from instruments import BlockLinearGP, InstrumentError, make_instrument
from instruments.calibration import interval_coverage, predict_mean_sd
from tests.instruments import _shared


def _membership(n=3000, d=300, seed=0):
    """Sparse 0/1 'gene x set' features, an indicator block, and a response."""
    g = torch.Generator().manual_seed(seed)
    A = (torch.rand(n, d, generator=g) < 0.02).double()
    flag = (torch.rand(n, 1, generator=g) < 0.05).double()
    X = torch.cat([A, flag], dim=1)
    w = torch.randn(d, generator=g, dtype=torch.float64)
    f = A @ w + 3.0 * flag.squeeze(-1)
    Y = (f + 0.3 * torch.randn(n, generator=g, dtype=torch.float64))[:, None]
    return X, Y, f


def test_learns_block_scales_and_predicts_held_out_points():
    X, Y, f = _membership()
    model = BlockLinearGP(blocks=[[0, 300], [300, 301]]).fit(X[:600], Y[:600])
    mean, sd = predict_mean_sd(model, X[600:], observation_noise=True)
    held_out_mse = ((mean - Y[600:, 0]) ** 2).mean()
    assert held_out_mse < 0.6 * Y[600:, 0].var()
    assert 0.8 <= interval_coverage(mean, sd, Y[600:, 0], level=0.9) <= 0.97
    # the flag block carries a large effect: its scale must be learned as such
    assert model.block_scales[1] > model.block_scales[0]


def test_pool_moments_and_samples_agree_with_the_posterior():
    X, Y, _ = _membership(n=800)
    model = make_instrument("linear", blocks=[[0, 300], [300, 301]]).fit(X[:200], Y[:200])
    mean, var = model.predict_moments(X)
    posterior = model.posterior(X[:50])
    assert torch.allclose(posterior.mean.squeeze(-1), mean[:50])
    assert torch.allclose(posterior.variance.squeeze(-1), var[:50])
    samples = model.sample_pool(X, 2000, seed=1)
    assert samples.shape == (2000, 800)
    assert torch.allclose(samples.var(0) / var, torch.ones(800, dtype=torch.float64), atol=0.15)
    assert torch.equal(samples, model.sample_pool(X, 2000, seed=1))


def test_botorch_acquisition_works_on_it():
    X, Y, _ = _membership(n=500)
    model = BlockLinearGP().fit(X[:100], Y[:100])
    assert UpperConfidenceBound(model, beta=0.25)(X[:7, None, :]).shape == (7,)
    assert LogExpectedImprovement(model, best_f=Y.max())(X[:7, None, :]).shape == (7,)


def test_bad_blocks_and_unfitted_use_are_refused():
    X, Y, _ = _membership(n=100)
    with pytest.raises(ValueError, match="outside"):
        BlockLinearGP(blocks=[[0, 999]]).fit(X, Y)
    with pytest.raises(InstrumentError, match="not fitted"):
        BlockLinearGP().posterior(X[:3])


def test_host_checkpoint_restores_identical_predictions(tmp_path):
    X, Y, _ = _membership(n=400)
    _shared.check_host_checkpoint("linear", {"blocks": [[0, 300], [300, 301]]}, X[:100], Y[:100],
                                  X[100:], tmp_path)


def test_quantile_calibration_holds_90_percent_under_heavy_tails():
    # screens are heavy-tailed: a few huge effects inflate mean(z^2), so matching
    # the variance leaves the typical interval too wide; matching the 90% quantile
    # of the leave-one-out z-scores does not
    X, _, f = _membership(n=4000)
    torch.manual_seed(1)
    noise = torch.distributions.StudentT(1.5).sample((4000,)) * 0.3
    Y = (f + noise)[:, None]
    coverage = {}
    for calibrate in ("quantile", "variance"):
        model = BlockLinearGP(blocks=[[0, 300], [300, 301]], calibrate=calibrate)
        model.fit(X[:800], Y[:800])
        mean, sd = predict_mean_sd(model, X[800:], observation_noise=True)
        coverage[calibrate] = interval_coverage(mean, sd, Y[800:, 0], level=0.9)
    assert 0.85 <= coverage["quantile"] <= 0.93
    assert coverage["variance"] > coverage["quantile"] + 0.03
    with pytest.raises(ValueError, match="calibrate"):
        BlockLinearGP(calibrate="loo")


def test_heteroscedastic_calibration_fits_the_unmeasured_bulk_when_hits_vary_more():
    # an agent measures the high-scoring genes most, and they vary more than the
    # bulk: one variance factor for all (quantile) is then too wide on the bulk
    # still unmeasured; letting it grow with the predicted level is not
    X, _, f = _membership(n=6000, seed=2)
    g = torch.Generator().manual_seed(3)
    Y = (f + 0.3 * torch.exp(0.3 * f) * torch.randn(6000, generator=g, dtype=torch.float64))
    Y = Y[:, None]
    top = torch.argsort(f[:3000], descending=True)[:300]
    train = torch.cat([top, torch.arange(3000, 3300)])
    bulk = torch.arange(3300, 6000)
    coverage = {}
    for calibrate in ("heteroscedastic", "quantile"):
        model = BlockLinearGP(blocks=[[0, 300], [300, 301]], calibrate=calibrate)
        model.fit(X[train], Y[train])
        mean, sd = predict_mean_sd(model, X[bulk], observation_noise=True)
        coverage[calibrate] = interval_coverage(mean, sd, Y[bulk, 0], level=0.9)
    assert model._level_slope == 0.0
    assert 0.85 <= coverage["heteroscedastic"] <= 0.95
    assert coverage["quantile"] > coverage["heteroscedastic"] + 0.02


def test_the_heteroscedastic_factor_is_bounded_even_for_a_wild_slope():
    from instruments.linear import LEVEL_FACTOR_BOUNDS

    X, Y, _ = _membership(n=400)
    model = BlockLinearGP(blocks=[[0, 300], [300, 301]]).fit(X[:100], Y[:100])
    model._level_slope, model._level_range, model._level_centre = 500.0, (-1.0, 1.0), 0.0
    h = model._level_factor(torch.tensor([-5.0, 0.0, 5.0], dtype=torch.float64))
    assert h.tolist() == [LEVEL_FACTOR_BOUNDS[0], 1.0, LEVEL_FACTOR_BOUNDS[1]]
    mean, var = model.predict_moments(X[100:])
    assert torch.isfinite(var).all() and (var > 0).all()
