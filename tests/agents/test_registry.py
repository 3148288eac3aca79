import pytest

from agents import registry
from agents import (
    FlaggedStrategy,
    StrategyBase,
    UCBStrategy,
    make_strategy,
    register_strategy,
    strategy_class,
    strategy_names,
)


def test_builtin_strategies_are_registered():
    assert strategy_names() == ["ei", "flagged", "random", "thompson", "ucb", "uncertainty"]
    assert strategy_class("flagged") is FlaggedStrategy


def test_make_strategy_passes_options():
    strategy = make_strategy("ucb", beta=1.0, n_samples=32)
    assert isinstance(strategy, UCBStrategy) and strategy.beta == 1.0 and strategy.name == "ucb"
    assert strategy.n_samples == 32


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown strategy 'qei'; known: ei, flagged, random"):
        make_strategy("qei")


def test_unknown_option_is_named_and_the_accepted_ones_listed():
    with pytest.raises(ValueError, match="strategy 'random' takes no option 'beta'; "
                                         "it accepts: no options"):
        make_strategy("random", beta=2.0)
    # options forwarded to the parent's constructor are accepted and listed
    with pytest.raises(ValueError, match="strategy 'ucb' takes no option 'bta'; it accepts: "
                                         "beta, n_samples, noise, exact_max, exact_max_fantasies"):
        make_strategy("ucb", bta=2.0)


def test_missing_option_is_named(monkeypatch):
    # register into a copy, so the test strategy does not outlive the test
    monkeypatch.setattr(registry._STRATEGIES, "_classes", dict(registry._STRATEGIES._classes))

    @register_strategy("needs-k")
    class NeedsK(StrategyBase):
        def __init__(self, k: int) -> None:
            self.k = k

        def _propose(self, model, candidates, q, pending, seed):
            raise NotImplementedError

    with pytest.raises(ValueError, match="strategy 'needs-k' needs option 'k'; it accepts: k"):
        make_strategy("needs-k")
    assert make_strategy("needs-k", k=3).k == 3
    with pytest.raises(ValueError, match="strategy 'flagged' needs option 'column'; "
                                         "it accepts: column"):
        make_strategy("flagged")


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="strategy 'ucb' is already registered"):

        @register_strategy("ucb")
        class Another(StrategyBase):
            def _propose(self, model, candidates, q, pending, seed):
                raise NotImplementedError
