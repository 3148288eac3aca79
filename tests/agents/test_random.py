import torch

from agents import RandomStrategy
from instruments.testing import FakeInstrument


def test_random_is_uniform_without_replacement_and_pure():
    candidates = torch.rand(30, 2)
    strategy = RandomStrategy()
    a = strategy.propose(FakeInstrument(), candidates, 10, seed=4)
    assert a.dtype == torch.long and a.unique().numel() == 10 and int(a.max()) < 30
    assert torch.equal(a, strategy.propose(FakeInstrument(), candidates, 10, seed=4))
    assert not torch.equal(a, strategy.propose(FakeInstrument(), candidates, 10, seed=5))


def test_random_with_q_equal_n_is_a_permutation():
    indices = RandomStrategy().propose(FakeInstrument(), torch.rand(7, 2), 7)
    assert sorted(indices.tolist()) == list(range(7))
