"""Agents: turn instruments' posteriors into the next batch of experiments.

`propose(model, candidates, q, pending) -> indices`, pure per seed. Strategies
are built by name (`make_strategy("ucb", beta=4.0)`); every proposal can be
explained (`explain(model, candidates, indices)`).
"""

from agents.base import Strategy, StrategyBase, StrategyError, as_instrument, validate_request
from agents.explain import explain
from agents.greedy import EIStrategy, GreedyStrategy, UCBStrategy, UncertaintyStrategy
from agents.random import RandomStrategy
from agents.registry import make_strategy, register_strategy, strategy_class, strategy_names
from agents.thompson import ThompsonStrategy

__all__ = [
    "EIStrategy",
    "GreedyStrategy",
    "RandomStrategy",
    "Strategy",
    "StrategyBase",
    "StrategyError",
    "ThompsonStrategy",
    "UCBStrategy",
    "UncertaintyStrategy",
    "as_instrument",
    "explain",
    "make_strategy",
    "register_strategy",
    "strategy_class",
    "strategy_names",
    "validate_request",
]
