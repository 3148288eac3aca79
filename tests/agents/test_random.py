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


def _flagged_pool(n=1000, n_flagged=100):
    import numpy as np
    import torch

    flags = np.zeros(n, dtype=bool)
    flags[np.random.default_rng(0).choice(n, n_flagged, replace=False)] = True
    X = torch.zeros(n, 2, dtype=torch.float64)
    X[:, 1] = torch.as_tensor(flags, dtype=torch.float64)
    return X, flags


@pytest.mark.parametrize("share, expected", [(0.25, 32), (0.5, 64), (0.0, 0), (None, 100)])
def test_flagged_takes_its_share_of_flagged_candidates(share, expected):
    from agents import propose_batch

    X, flags = _flagged_pool()
    out = propose_batch(None, "flagged", {"column": 1, "share": share}, X, None, 128, seed=1)
    idx = out.indices
    assert len(set(idx.tolist())) == 128 and int(flags[idx].sum()) == expected


def test_a_mixed_start_fills_from_flagged_when_the_unflagged_run_out():
    from agents import propose_batch

    X, flags = _flagged_pool(n=40, n_flagged=30)
    idx = propose_batch(None, "flagged", {"column": 1, "share": 0.25}, X, None, 20, seed=0).indices
    assert len(set(idx.tolist())) == 20 and int(flags[idx].sum()) == 10  # 5 + 5 to fill
