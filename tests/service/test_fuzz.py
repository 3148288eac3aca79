"""Fuzz the service against its own OpenAPI schema with schemathesis.

Over 1,000 generated requests, spread over every operation, as each role and
without a token, half of them aimed at a real campaign and its experiments,
some of them schema-invalid on purpose: no answer may be a 5xx, every answer
must conform to the schema (status code documented, content type, headers,
body valid against the response model), and a schema-invalid request must be
refused. Not checked: that every schema-valid request is accepted, since a
valid-looking request may still name a file that does not exist or a
candidate outside the design space, which the service refuses with 422.
"""

from __future__ import annotations

import os
import random

import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance, negative_data_rejection, response_headers_conformance,
    response_schema_conformance, status_code_conformance,
)

N_REQUESTS = int(os.environ.get("LOOPWELL_FUZZ_N", "1100"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]
sent = {"n": 0, "by_status": {}}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory, shared_data):
    from loop.campaign.store import SqlStore
    from loop.service.app import create_app
    from loop.service.tables import create_tables, create_token
    from tests.service.conftest import manual_spec

    tmp = tmp_path_factory.mktemp("fuzz")
    store = SqlStore(f"sqlite:///{tmp / 'store.db'}")
    create_tables(store.engine)
    secrets = {role: create_token(store.engine, role, f"fuzz-{role}")[1]
               for role in ("viewer", "operator", "lab")}
    # the worker proposes the first batch, then stops: the fuzz is about the API, and
    # requests waiting for a run's writer lock would only make it slow
    app = create_app(store, tmp / "state", lock_wait_s=5.0)
    with TestClient(app) as client:
        r = client.post("/campaigns", json=manual_spec(shared_data, name="fuzz"),
                        headers={"Authorization": f"Bearer {secrets['operator']}"})
        assert r.status_code == 201, r.text
        assert app.state.service.worker.wait_idle(120)
        app.state.service.worker.stop()
        ids = [e.id for e in store.experiments("fuzz")]
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        yield app, operations, secrets, ids
    assert sent["n"] >= N_REQUESTS


def test_the_schema_holds_for_generated_requests(fuzzed):
    app, operations, secrets, ids = fuzzed
    # chosen by a seeded Random: hypothesis itself would favour the first of a list
    roles = ["operator", "viewer", "operator", "lab", "operator", None, "lab", "operator"]

    @settings(max_examples=N_REQUESTS, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one_request(data):
        rng = random.Random(data.draw(st.integers(0, 2**32 - 1)))
        operation = rng.choice(operations)
        mode = data.draw(st.sampled_from([GenerationMode.POSITIVE] * 3
                                         + [GenerationMode.NEGATIVE]))
        case = data.draw(operation.as_strategy(generation_mode=mode))
        if case.path_parameters and data.draw(st.booleans()):
            if "name" in case.path_parameters:
                case.path_parameters["name"] = "fuzz"
            if "experiment_id" in case.path_parameters:
                case.path_parameters["experiment_id"] = data.draw(st.sampled_from(ids))
        role = rng.choice(roles)
        # the caller's token replaces whatever Authorization the generator made up
        case.headers = {k: v for k, v in (case.headers or {}).items()
                        if k.lower() != "authorization"}
        if role:
            case.headers["Authorization"] = f"Bearer {secrets[role]}"
        response = case.call_and_validate(checks=CHECKS)
        sent["n"] += 1
        sent["by_status"][response.status_code] = sent["by_status"].get(
            response.status_code, 0) + 1
        assert response.status_code < 500

    one_request()
    print(f"\nschemathesis: {sent['n']} requests, by status {sorted(sent['by_status'].items())}")
    assert sent["n"] >= N_REQUESTS
