import pytest

from agents import StrategyBase, UCBStrategy, make_strategy, register_strategy, strategy_names


def test_builtin_strategies_are_registered():
    assert strategy_names() == ["ei", "random", "thompson", "ucb", "uncertainty"]


def test_make_strategy_passes_options():
    strategy = make_strategy("ucb", beta=1.0, n_samples=32)
    assert isinstance(strategy, UCBStrategy) and strategy.beta == 1.0 and strategy.name == "ucb"


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown strategy 'qei'; known: ei, random"):
        make_strategy("qei")


def test_bad_options_are_a_value_error():
    with pytest.raises(ValueError, match="bad options for strategy 'random'"):
        make_strategy("random", beta=2.0)


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="already registered"):

        @register_strategy("ucb")
        class Another(StrategyBase):
            def _propose(self, model, candidates, q, pending, seed):
                raise NotImplementedError
