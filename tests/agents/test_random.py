import numpy as np
import pytest
import torch

from agents import FlaggedStrategy, RandomStrategy, StrategyError
from instruments.testing import FakeInstrument


def test_random_is_uniform_without_replacement_and_pure():
    candidates = torch.rand(30, 2)
    strategy = RandomStrategy()
    a = strategy.propose(FakeInstrument(), candidates, 10, seed=4)
    assert a.dtype == torch.long and a.unique().numel() == 10 and int(a.max()) < 30
    assert torch.equal(a, strategy.propose(None, candidates, 10, seed=4))  # the model is ignored
    assert not torch.equal(a, strategy.propose(FakeInstrument(), candidates, 10, seed=5))


def test_random_with_q_equal_n_is_a_permutation():
    indices = RandomStrategy().propose(FakeInstrument(), torch.rand(7, 2), 7)
    assert sorted(indices.tolist()) == list(range(7))


def test_flagged_takes_flagged_rows_first_then_fills_at_random():
    candidates = torch.zeros(20, 2)
    candidates[[3, 8, 15], 1] = 1.0
    indices = FlaggedStrategy(column=1).propose(None, candidates, 5, seed=2)
    assert set(indices[:3].tolist()) == {3, 8, 15}
    assert indices.unique().numel() == 5
    assert set(FlaggedStrategy(column=1).propose(None, candidates, 2, seed=2).tolist()) <= {3, 8, 15}


def test_flagged_refuses_a_column_outside_the_features():
    with pytest.raises(StrategyError, match="column 4 is outside the 2 feature columns"):
        FlaggedStrategy(column=4).propose(None, torch.zeros(5, 2), 1)
    with pytest.raises(StrategyError, match="non-negative int"):
        FlaggedStrategy(column=np.int64(-1).item())
