import pytest
import torch

from agents import Strategy, StrategyError, make_strategy, strategy_names
from instruments.testing import FakeInstrument

#: Options a strategy cannot be built without.
REQUIRED = {"flagged": {"column": 0}}


@pytest.mark.parametrize("name", strategy_names())
def test_every_strategy_meets_the_protocol_and_returns_distinct_indices(name):
    strategy = make_strategy(name, **REQUIRED.get(name, {}))
    assert isinstance(strategy, Strategy)
    candidates = torch.rand(20, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    indices = strategy.propose(FakeInstrument(), candidates, 8, candidates[:2], seed=1)
    assert indices.dtype == torch.long and indices.shape == (8,)
    assert indices.unique().numel() == 8 and 0 <= int(indices.min()) and int(indices.max()) < 20
    assert torch.equal(indices, strategy.propose(FakeInstrument(), candidates, 8, candidates[:2], seed=1))
    assert strategy.last_seconds >= 0


@pytest.mark.parametrize(
    ("candidates", "q", "pending", "message"),
    [
        (torch.rand(5, 2), 0, None, "q must be between 1 and the 5 candidates, got 0"),
        (torch.rand(5, 2), 6, None, "q must be between 1 and the 5 candidates, got 6"),
        (torch.rand(5, 2), True, None, "q must be an int"),
        (torch.rand(5), 1, None, r"candidates must be an n x d tensor, got \(5,\)"),
        (torch.rand(0, 2), 1, None, "no candidates"),
        (torch.tensor([[float("nan"), 0.0]]), 1, None, "candidates contain NaN"),
        (torch.rand(5, 2), 1, torch.rand(3, 4), r"pending must be a p x 2 tensor"),
    ],
)
def test_bad_requests_name_the_problem(candidates, q, pending, message):
    for name in strategy_names():
        with pytest.raises(StrategyError, match=message):
            make_strategy(name, **REQUIRED.get(name, {})).propose(
                FakeInstrument(), candidates, q, pending)


def test_empty_pending_is_no_pending():
    candidates = torch.rand(6, 2, dtype=torch.float64)
    strategy = make_strategy("ucb")
    assert torch.equal(strategy.propose(FakeInstrument(), candidates, 2, torch.zeros(0, 2)),
                       strategy.propose(FakeInstrument(), candidates, 2))


def test_a_plain_botorch_model_is_wrapped_in_one_place():
    from botorch.models import SingleTaskGP

    from agents import as_instrument
    from instruments import ModelInstrument

    X = torch.rand(8, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gp = SingleTaskGP(X, X.sum(-1, keepdim=True)).eval()
    assert isinstance(as_instrument(gp), ModelInstrument)
    fake = FakeInstrument()
    assert as_instrument(fake) is fake and as_instrument(None) is None
    indices = make_strategy("ucb").propose(gp, X, 3, seed=0)
    assert indices.unique().numel() == 3
    with pytest.raises(StrategyError, match="expected an instrument or a BoTorch Model, got str"):
        make_strategy("ucb").propose("gp", X, 3)
