import pickle
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
import torch

from agents import Proposal, StrategyError, propose_batch
from instruments.testing import FakeInstrument


def old_propose_without_model(name, flags, q, seed):
    """loop/campaign.py's `_propose_without_model` before it moved to agents, verbatim."""
    rng = np.random.default_rng(seed)
    n = len(flags)
    if name == "random":
        return {"indices": rng.choice(n, size=q, replace=False)}
    first = np.flatnonzero(flags)
    first = rng.permutation(first)[:q]
    rest = np.setdiff1d(np.arange(n), first)
    fill = rng.choice(rest, size=q - len(first), replace=False) if q > len(first) else []
    return {"indices": np.concatenate([first, np.asarray(fill, dtype=np.int64)])}


def _candidates(n=40, d=3, column=1, n_flagged=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    X[:, column] = 0.0
    X[rng.choice(n, size=n_flagged, replace=False), column] = 1.0
    return X


@pytest.mark.parametrize("q", [3, 6, 10])
@pytest.mark.parametrize("seed", [0, 7, 100_003])
def test_flagged_without_a_model_draws_the_old_round_zero_batch(q, seed):
    X = _candidates()
    proposal = propose_batch(None, "flagged", {"column": 1}, X, np.zeros((0, 3)), q, seed)
    expected = old_propose_without_model("essential", X[:, 1] > 0, q, seed)["indices"]
    assert np.array_equal(proposal.indices, expected)
    flagged = set(np.flatnonzero(X[:, 1] > 0))
    assert set(proposal.indices[:min(q, 6)]) <= flagged  # flagged ones first
    assert proposal.mean is None and proposal.sd is None and proposal.acquisition is None


@pytest.mark.parametrize("seed", [0, 7, 100_003])
def test_random_without_a_model_draws_the_old_round_zero_batch(seed):
    X = _candidates()
    proposal = propose_batch(None, "random", {}, torch.as_tensor(X), None, 8, seed)
    expected = old_propose_without_model("random", X[:, 1] > 0, 8, seed)["indices"]
    assert np.array_equal(proposal.indices, expected)
    assert proposal.mean is None and proposal.acquisition is None and proposal.seconds >= 0


def test_a_strategy_that_needs_a_model_refuses_none():
    with pytest.raises(StrategyError, match="strategy 'ucb' needs a fitted instrument"):
        propose_batch(None, "ucb", {}, _candidates(), None, 2, 0)


def test_with_a_model_each_pick_is_explained_and_scored():
    model = FakeInstrument(weights=torch.tensor([1.0, 0.0, 0.0]), variance=0.25)
    model.noise_variance = 0.0
    X = _candidates()
    proposal = propose_batch(model, "ucb", {"beta": 4.0}, X, X[:2], 4, seed=1)
    assert proposal.indices.shape == (4,) and len(set(proposal.indices)) == 4
    assert np.allclose(proposal.mean, X[proposal.indices, 0])
    assert np.allclose(proposal.sd, 0.5)
    # the fake's points are independent, so no pick changes another's score
    assert np.allclose(proposal.acquisition, X[proposal.indices, 0] + 2.0 * 0.5)


def test_proposal_is_frozen_and_picklable():
    proposal = propose_batch(None, "random", {}, _candidates(), None, 3, 0)
    again = pickle.loads(pickle.dumps(proposal))
    assert isinstance(again, Proposal) and np.array_equal(again.indices, proposal.indices)
    with pytest.raises(FrozenInstanceError):
        proposal.seconds = 0.0
