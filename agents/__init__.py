"""Agents: turn instruments' posteriors into the next batch of experiments.

`propose(model, candidates, q, pending) -> indices`, pure per seed. Strategies
are built by name (`make_strategy("ucb", beta=4.0)`); `propose_batch` runs one
by name and explains every choice (`Proposal`: indices, predicted mean and sd,
acquisition values). "random" and "flagged" work without a model.
"""

from agents.base import Strategy, StrategyBase, StrategyError, as_instrument, validate_request
from agents.explain import explain
from agents.greedy import EIStrategy, GreedyStrategy, UCBStrategy, UncertaintyStrategy
from agents.proposal import Proposal, propose_batch
from agents.random import FlaggedStrategy, RandomStrategy
from agents.registry import make_strategy, register_strategy, strategy_class, strategy_names
from agents.thompson import ThompsonStrategy

__all__ = [
    "EIStrategy",
    "FlaggedStrategy",
    "GreedyStrategy",
    "Proposal",
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
    "propose_batch",
    "register_strategy",
    "strategy_class",
    "strategy_names",
    "validate_request",
]
