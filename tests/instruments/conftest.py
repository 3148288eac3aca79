"""Fitted instruments shared by the tests of this package (fitting once saves time)."""

from __future__ import annotations

import pytest

from instruments import DeepEnsemble, GPInstrument
from tests.instruments._synthetic import synthetic_data


@pytest.fixture(scope="session")
def data():
    """Training (300 points) and held-out (1000 points) synthetic data."""
    X, Y = synthetic_data(1300)
    return X[:300], Y[:300], X[300:], Y[300:]


@pytest.fixture(scope="session")
def fitted_ensemble(data):
    train_X, train_Y, _, _ = data
    return DeepEnsemble(seed=0).fit(train_X, train_Y)


@pytest.fixture(scope="session")
def fitted_gp(data):
    train_X, train_Y, _, _ = data
    return GPInstrument(seed=0).fit(train_X, train_Y)
