"""Round 0 without a model: random, essential first, or a mixed share."""

import numpy as np
import pytest

from loop.initial import propose_initial


def _flags(n=1000, n_flagged=100):
    flags = np.zeros(n, dtype=bool)
    flags[np.random.default_rng(0).choice(n, n_flagged, replace=False)] = True
    return flags


@pytest.mark.parametrize("name, share, expected", [
    ("mixed", 0.25, 32), ("mixed", 0.5, 64), ("mixed", 0.0, 0), ("essential", 0.25, 100)])
def test_the_flagged_share_of_round_0(name, share, expected):
    flags = _flags()
    idx = propose_initial(name, flags, 128, seed=1, share=share)["indices"]
    assert len(set(idx.tolist())) == 128 and idx.max() < len(flags)
    assert int(flags[idx].sum()) == expected


def test_mixed_fills_from_flagged_when_the_unflagged_run_out():
    flags = _flags(n=40, n_flagged=30)
    idx = propose_initial("mixed", flags, 20, seed=0, share=0.25)["indices"]
    assert len(set(idx.tolist())) == 20 and int(flags[idx].sum()) == 10  # 5 + 5 to fill


def test_random_ignores_flags_and_seeds_repeat():
    flags = _flags()
    a = propose_initial("random", flags, 128, seed=3)["indices"]
    assert np.array_equal(a, propose_initial("random", flags, 128, seed=3)["indices"])
    assert 2 <= int(flags[a].sum()) <= 30  # ~12.8 expected
    with pytest.raises(ValueError, match="mixed"):
        propose_initial("ucb", flags, 8, seed=0)
