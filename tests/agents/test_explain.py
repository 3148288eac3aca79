import pytest
import torch

from agents import StrategyError, explain
from instruments.testing import FakeInstrument


def test_explain_gives_mean_and_sd_of_each_proposed_candidate():
    candidates = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]], dtype=torch.float64)
    record = explain(FakeInstrument(variance=4.0), candidates, torch.tensor([2, 0]))
    assert record["mean"].tolist() == [3.0, 1.0] and record["sd"].tolist() == [2.0, 2.0]


def test_explain_refuses_bad_indices():
    with pytest.raises(StrategyError, match="out of range"):
        explain(FakeInstrument(), torch.rand(3, 2), torch.tensor([3]))
    with pytest.raises(StrategyError, match="1-dim long"):
        explain(FakeInstrument(), torch.rand(3, 2), torch.tensor([0.0]))


def test_explain_can_give_the_sd_of_a_measurement():
    from botorch.models import SingleTaskGP

    X = torch.rand(12, 2, dtype=torch.float64)
    model = SingleTaskGP(X, X.sum(-1, keepdim=True)).eval()
    latent = explain(model, X, torch.tensor([0, 5]))
    noisy = explain(model, X, torch.tensor([0, 5]), observation_noise=True)
    assert torch.allclose(noisy["mean"], latent["mean"])
    assert (noisy["sd"] > latent["sd"]).all()
