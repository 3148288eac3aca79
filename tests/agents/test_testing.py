import pytest
import torch

from agents import Strategy, StrategyError
from agents.testing import FailingStrategy, FixedStrategy
from instruments.testing import FakeInstrument


def test_fixed_strategy_proposes_its_indices_and_records_calls():
    strategy = FixedStrategy([4, 1, 9, 2])
    assert isinstance(strategy, Strategy)
    indices = strategy.propose(FakeInstrument(), torch.rand(5, 2), 3, torch.rand(2, 2), seed=7)
    assert indices.tolist() == [4, 1, 2]
    assert strategy.calls == [{"n": 5, "q": 3, "seed": 7, "n_pending": 2}]
    with pytest.raises(StrategyError, match="asked for 4"):
        strategy.propose(FakeInstrument(), torch.rand(5, 2), 4)


def test_failing_strategy_raises_its_message():
    with pytest.raises(StrategyError, match="lab closed"):
        FailingStrategy("lab closed").propose(FakeInstrument(), torch.rand(2, 2), 1)
