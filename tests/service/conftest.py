"""A service over a fresh SQLite store, with one token per role."""

from __future__ import annotations

import pytest

from tests.loop.conftest import small_spec


def manual_spec(shared_data, name: str = "serve-test", **overrides):
    """The small Scharenberg campaign, answered through the API: 2 rounds x 8, manual approval."""
    raw = small_spec(shared_data, name=name, budget={"rounds": 2, "batch_size": 8,
                                                     "initial_strategy": "random"},
                     lab={"kind": "manual"}, approval="manual", **overrides)
    return raw.model_dump(mode="json")


@pytest.fixture
def spec_json(shared_data):
    return lambda **kw: manual_spec(shared_data, **kw)


@pytest.fixture
def service_env(tmp_path):
    """(app factory, store URL, tokens by role) over a store in tmp_path."""
    from loop.campaign.store import SqlStore
    from loop.service.tables import create_tables, create_token

    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = SqlStore(url)
    create_tables(store.engine)
    secrets = {role: create_token(store.engine, role, f"{role}-1")[1]
               for role in ("viewer", "operator", "lab")}
    return store, tmp_path / "state", secrets


@pytest.fixture
def client(service_env):
    """A TestClient of the service with its worker running; `client.auth(role)` gives headers."""
    from fastapi.testclient import TestClient

    from loop.service.app import create_app

    store, state, secrets = service_env
    app = create_app(store, state, lock_wait_s=30.0)
    with TestClient(app) as c:
        c.service = app.state.service
        c.secrets = secrets
        c.as_ = lambda role: {"Authorization": f"Bearer {secrets[role]}"}
        yield c
