"""Peer tools for `loopwell bench reactions`: BayBE, Ax and random, on the same table.

Each peer is a proposer with three methods: `start(rows, y)` takes the shared
random start, `propose(q)` returns `q` rows of the table not measured yet, and
`observe(rows, y)` takes their yields. BayBE and Ax are optional benchmark
dependencies (`pip install "loopwell[bench]"`), imported only here and only
when their runner is built.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd

#: the pins that install beside torch 2.13 / botorch 0.18.1 (ax-platform 1.3.1 pins botorch)


class PeerMissing(RuntimeError):
    """A peer tool is not installed."""


def _require(module: str, package: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise PeerMissing(
            f"'{package}' is not installed; install the benchmark extras with "
            f"pip install -c .ci/constraints.txt -e '.[bench]'") from None


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)


class RandomProposer:
    """Uniformly random rows among those not measured yet."""

    def __init__(self, table, seed: int) -> None:
        self.n = len(table.y)
        self.rng = np.random.default_rng(10_000 + seed)
        self.measured: set[int] = set()

    def start(self, rows, y) -> None:
        self.measured |= {int(i) for i in rows}

    def propose(self, q: int) -> list[int]:
        rest = np.array(sorted(set(range(self.n)) - self.measured))
        return [int(i) for i in self.rng.choice(rest, size=q, replace=False)]

    def observe(self, rows, y) -> None:
        self.measured |= {int(i) for i in rows}


class BaybeProposer:
    """BayBE's default recommender over exactly the allowed runs.

    Categorical factors are `CustomDiscreteParameter`s with the cleaned
    descriptors of their levels (decorrelated by BayBE), numeric factors
    `NumericalDiscreteParameter`s; the search space is built from the table
    rows, so BayBE proposes only runs the lab can answer.
    """

    def __init__(self, table, seed: int) -> None:
        _require("baybe", "baybe")
        _quiet()
        from baybe import Campaign
        from baybe.parameters import CustomDiscreteParameter, NumericalDiscreteParameter
        from baybe.searchspace import SearchSpace
        from baybe.targets import NumericalTarget
        from baybe.utils.random import set_random_seed

        set_random_seed(seed)
        self.table = table
        params = []
        for f in table.factors:
            if f in table.numeric:
                params.append(NumericalDiscreteParameter(
                    name=f, values=tuple(sorted(table.df[f].unique()))))
            else:
                params.append(CustomDiscreteParameter(name=f, data=table.descriptors[f],
                                                      decorrelate=True))
        space = SearchSpace.from_dataframe(table.df[table.factors], parameters=params)
        self.campaign = Campaign(searchspace=space,
                                 objective=NumericalTarget(name="yield").to_objective(),
                                 allow_recommending_already_measured=False)
        self.lookup = _row_lookup(table.df, table.factors)

    def _add(self, rows, y) -> None:
        frame = self.table.df.iloc[list(rows)][self.table.factors].copy()
        frame["yield"] = np.asarray(y, dtype=float)
        self.campaign.add_measurements(frame)

    def start(self, rows, y) -> None:
        self._add(rows, y)

    def propose(self, q: int) -> list[int]:
        rec = self.campaign.recommend(batch_size=q)
        return [self.lookup[tuple(r)] for r in
                rec[self.table.factors].itertuples(index=False, name=None)]

    def observe(self, rows, y) -> None:
        self._add(rows, y)


class AxProposer:
    """Ax (`ax.api.Client`) with one choice parameter per factor, model-based from round 1.

    The shared start is attached as completed trials and the initialisation
    budget set to 0, so Ax's first batch already comes from its default
    Bayesian model. A proposed combination that is not an allowed run is marked
    abandoned and Ax asked again (counted in `not_runnable`).
    """

    def __init__(self, table, seed: int) -> None:
        _require("ax", "ax-platform")
        _quiet()
        from ax.api.client import Client
        from ax.api.configs import ChoiceParameterConfig

        self.table = table
        self.client = Client(random_seed=seed)
        params = []
        for f in table.factors:
            levels = sorted(table.df[f].unique())
            if f in table.numeric:
                params.append(ChoiceParameterConfig(name=f, values=[float(v) for v in levels],
                                                    parameter_type="float", is_ordered=True))
            else:
                params.append(ChoiceParameterConfig(name=f, values=[str(v) for v in levels],
                                                    parameter_type="str", is_ordered=False))
        self.client.configure_experiment(parameters=params, name=f"bench_{seed}")
        self.client.configure_optimization(objective="yield_pct")  # "yield" is a keyword
        self.client.configure_generation_strategy(initialization_budget=0)
        self.lookup = _row_lookup(table.df, table.factors)
        self.not_runnable = 0
        self._pending: list[int] = []

    def _key(self, p: dict[str, Any]) -> tuple:
        return tuple(float(p[f]) if f in self.table.numeric else str(p[f])
                     for f in self.table.factors)

    def start(self, rows, y) -> None:
        for i, yi in zip(rows, y):
            row = self.table.df.iloc[int(i)]
            p = {f: float(row[f]) if f in self.table.numeric else str(row[f])
                 for f in self.table.factors}
            t = self.client.attach_trial(parameters=p)
            self.client.complete_trial(trial_index=t, raw_data={"yield_pct": float(yi)})

    def propose(self, q: int) -> list[int]:
        out: list[int] = []
        self._pending = []
        for _ in range(20):
            for t, p in self.client.get_next_trials(max_trials=q - len(out)).items():
                i = self.lookup.get(self._key(p))
                if i is None or i in out:
                    self.client.mark_trial_abandoned(trial_index=t)
                    self.not_runnable += 1
                else:
                    out.append(i)
                    self._pending.append(t)
            if len(out) == q:
                return out
        raise RuntimeError("Ax keeps proposing runs that are not in the table")

    def observe(self, rows, y) -> None:
        for t, yi in zip(self._pending, y):
            self.client.complete_trial(trial_index=t, raw_data={"yield_pct": float(yi)})


def _row_lookup(df: pd.DataFrame, factors: list[str]) -> dict[tuple, int]:
    return {tuple(r): i for i, r in enumerate(df[factors].itertuples(index=False, name=None))}


PROPOSERS = {"random": RandomProposer, "baybe": BaybeProposer, "ax": AxProposer}


def available(tool: str) -> bool:
    """Return whether a peer tool can run here."""
    module = {"baybe": "baybe", "ax": "ax"}.get(tool)
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True
