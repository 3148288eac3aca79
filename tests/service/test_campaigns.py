"""The campaign service in process: auth and roles, create, approve, results, audit."""

from __future__ import annotations

import json

import yaml


def _created(client, spec_json, **kw):
    spec = spec_json(**kw)
    r = client.post("/campaigns", json=spec, headers=client.as_("operator"))
    assert r.status_code == 201, r.text
    assert client.service.worker.wait_idle(120)
    return spec["name"]


def test_every_call_needs_a_token_of_the_right_role(client):
    assert client.get("/campaigns").status_code == 401
    assert client.get("/campaigns", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/campaigns", headers=client.as_("viewer")).json() == []
    assert client.get("/campaigns", headers=client.as_("lab")).status_code == 403
    r = client.post("/campaigns", json={}, headers=client.as_("viewer"))
    assert r.status_code == 403
    assert client.get("/tokens/me", headers=client.as_("lab")).json()["role"] == "lab"


def test_a_revoked_token_is_refused(client, service_env):
    from loop.service.tables import revoke_token

    store, _, _ = service_env
    assert revoke_token(store.engine, "viewer-1") == 1
    assert client.get("/campaigns", headers=client.as_("viewer")).status_code == 401


def test_a_bad_spec_is_422_naming_the_field(client, spec_json):
    spec = spec_json()
    spec["budget"]["rounds"] = 0
    r = client.post("/campaigns", json=spec, headers=client.as_("operator"))
    assert r.status_code == 422
    assert "budget.rounds" in r.json()["detail"]
    r = client.post("/campaigns", content=b"name: [", headers={
        **client.as_("operator"), "Content-Type": "application/yaml"})
    assert r.status_code == 422 and "YAML" in r.json()["detail"]
    spec = spec_json(name="missing-file")
    spec["design_space"]["table"] = "/nonexistent/screen.csv"
    r = client.post("/campaigns", json=spec, headers=client.as_("operator"))
    assert r.status_code == 422 and "cannot be built" in r.json()["detail"]


def test_create_from_yaml_proposes_a_batch_off_the_request_path(client, spec_json):
    spec = spec_json(name="from-yaml")
    r = client.post("/campaigns", content=yaml.safe_dump(spec).encode(), headers={
        **client.as_("operator"), "Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    assert client.service.worker.wait_idle(120)
    detail = client.get("/campaigns/from-yaml", headers=client.as_("viewer")).json()
    assert detail["status"] == "awaiting-approval", detail["worker"]
    assert detail["counts"]["experiments"] == {"proposed": 8}
    assert detail["rounds"][0]["n_proposed"] == 8
    # the same spec again is no change; another spec under that name is a conflict
    again = client.post("/campaigns", json=spec, headers=client.as_("operator"))
    assert again.status_code == 200
    spec["budget"]["batch_size"] = 9
    assert client.post("/campaigns", json=spec,
                       headers=client.as_("operator")).status_code == 409


def test_approve_reject_edit_and_the_audit_trail(client, spec_json):
    name = _created(client, spec_json)
    op = client.as_("operator")
    props = client.get(f"/campaigns/{name}/proposals", headers=op).json()
    assert len(props) == 8 and all(p["state"] == "proposed" for p in props)
    first, second = props[0]["experiment_id"], props[1]["experiment_id"]
    r = client.post(f"/campaigns/{name}/proposals/{first}/reject", json={"reason": "no reagent"},
                    headers=op)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert "no reagent" in r.json()["note"]
    asked = {p["candidate_id"] for p in props}
    free = next(c for c in client.service.cache.get(name).design.ids if c not in asked)
    r = client.post(f"/campaigns/{name}/proposals/{second}/edit",
                    json={"candidate_id": free, "reason": "prefer this one"}, headers=op)
    assert r.status_code == 200, r.text
    assert r.json()["new"]["candidate_id"] == free and r.json()["new"]["state"] == "proposed"
    assert r.json()["old"]["state"] == "cancelled"
    # an asked candidate, or one not in the design, cannot be swapped in
    third = props[2]["experiment_id"]
    assert client.post(f"/campaigns/{name}/proposals/{third}/edit",
                       json={"candidate_id": free}, headers=op).status_code == 409
    assert client.post(f"/campaigns/{name}/proposals/{third}/edit",
                       json={"candidate_id": "KO:NOPE"}, headers=op).status_code == 422
    assert client.post(f"/campaigns/{name}/proposals/{third}/reject", json={"reason": "x"},
                       headers=client.as_("viewer")).status_code == 403
    r = client.post(f"/campaigns/{name}/proposals/approve", headers=op)
    assert r.status_code == 200 and len(r.json()["approved"]) == 7
    assert client.service.worker.wait_idle(60)
    dispatched = client.get(f"/campaigns/{name}/proposals", params={"state": "dispatched"},
                            headers=client.as_("lab")).json()
    assert len(dispatched) == 7
    trail = client.get(f"/campaigns/{name}/audit", headers=client.as_("viewer")).json()
    assert [a["action"] for a in trail] == ["create", "reject", "edit", "approve"]
    assert {a["who"] for a in trail} == {"operator-1"}
    assert trail[1]["details"]["reason"] == "no reagent"


def test_results_are_judged_one_by_one(client, spec_json):
    name = _created(client, spec_json)
    op = client.as_("operator")
    client.post(f"/campaigns/{name}/proposals/approve", headers=op)
    assert client.service.worker.wait_idle(60)
    lab = client.as_("lab")
    todo = client.get(f"/campaigns/{name}/proposals", params={"state": "dispatched"},
                      headers=lab).json()
    good = [{"experiment_id": p["experiment_id"], "value": 1.5} for p in todo[:3]]
    r = client.post(f"/campaigns/{name}/results", json=good, headers=lab)
    assert r.status_code == 200 and r.json()["n_stored"] == 3
    r = client.post(f"/campaigns/{name}/results", json=good, headers=lab)
    assert r.status_code == 200 and r.json()["n_duplicate"] == 3  # idempotent
    mixed = [{"experiment_id": todo[3]["experiment_id"], "value": 2.0},
             {"experiment_id": "never-asked", "value": 1.0},
             {"experiment_id": todo[4]["experiment_id"], "value": "high"}]
    r = client.post(f"/campaigns/{name}/results", json=mixed, headers=lab)
    assert r.status_code == 422
    body = r.json()
    assert [i["outcome"] for i in body["items"]] == ["stored", "rejected", "rejected"]
    assert "never asked" in body["items"][1]["reason"]
    assert "quarantined" in body["detail"]
    r = client.post(f"/campaigns/{name}/results", content=b'{"not": "a list"}',
                    headers={**lab, "Content-Type": "application/json"})
    assert r.status_code == 422
    r = client.post(f"/campaigns/{name}/results", content=b"garbage",
                    headers={**lab, "Content-Type": "application/json"})
    assert r.status_code == 422
    store = client.service.store
    assert store.count_measurements(name) == 4
    assert len(store.rejected(name)) == 4
    assert client.post(f"/campaigns/{name}/results", json=good,
                       headers=client.as_("viewer")).status_code == 403


def test_bodies_over_the_limit_are_413(service_env):
    from fastapi.testclient import TestClient

    from loop.service.app import create_app

    store, state, secrets = service_env
    app = create_app(store, state, start_worker=False, max_body=1000)
    with TestClient(app) as c:
        r = c.post("/campaigns/x/results", content=json.dumps([{"a": "x" * 2000}]),
                   headers={"Authorization": f"Bearer {secrets['lab']}",
                            "Content-Type": "application/json"})
        assert r.status_code == 413


def test_pause_resume_cancel(client, spec_json):
    name = _created(client, spec_json)
    op = client.as_("operator")
    assert client.post(f"/campaigns/{name}/pause", headers=op).json()["status"] == "paused"
    assert client.post(f"/campaigns/{name}/pause",
                       headers=client.as_("viewer")).status_code == 403
    client.post(f"/campaigns/{name}/proposals/approve", headers=op)
    assert client.service.worker.wait_idle(60)
    detail = client.get(f"/campaigns/{name}", headers=op).json()
    assert detail["status"] == "paused" and detail["counts"]["experiments"] == {"approved": 8}
    assert client.post(f"/campaigns/{name}/resume", headers=op).status_code == 200
    assert client.service.worker.wait_idle(60)
    detail = client.get(f"/campaigns/{name}", headers=op).json()
    assert detail["status"] == "waiting-for-lab"
    assert detail["counts"]["experiments"] == {"dispatched": 8}
    r = client.post(f"/campaigns/{name}/cancel", headers=op)
    assert r.json()["status"] == "cancelled"
    assert client.post(f"/campaigns/{name}/resume", headers=op).status_code == 409
    assert [a["action"] for a in client.get(f"/campaigns/{name}/audit", headers=op).json()] \
        == ["create", "pause", "approve", "resume", "cancel"]


def test_lab_tokens_may_be_limited_to_campaigns(client, spec_json, service_env):
    from loop.service.tables import create_token

    name = _created(client, spec_json)
    store, _, _ = service_env
    _, other = create_token(store.engine, "lab", "other-lab", campaigns=["elsewhere"])
    r = client.get(f"/campaigns/{name}/proposals", headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 403
    assert client.get("/campaigns/nope/proposals", headers=client.as_("lab")).status_code == 404


def test_numbers_too_large_for_the_database_are_refused_not_500(client, spec_json):
    name = _created(client, spec_json)
    op = client.as_("operator")
    r = client.get(f"/campaigns/{name}/proposals", params={"round": 2**63}, headers=op)
    assert r.status_code == 422
    client.post(f"/campaigns/{name}/proposals/approve", headers=op)
    assert client.service.worker.wait_idle(60)
    eid = client.get(f"/campaigns/{name}/proposals", headers=op).json()[0]["experiment_id"]
    r = client.post(f"/campaigns/{name}/results", headers=client.as_("lab"), json=[
        {"experiment_id": eid, "value": 1.0, "replicate": 2**63},
        {"experiment_id": eid, "value": 1.0}])
    assert r.status_code == 422
    assert [i["outcome"] for i in r.json()["items"]] == ["rejected", "stored"]
    assert "replicate" in r.json()["items"][0]["reason"]


def test_every_route_names_its_answer_in_the_schema(client):
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            ok = [r for code, r in op["responses"].items() if code.startswith("2")]
            assert ok and all(r["content"]["application/json"]["schema"] for r in ok), \
                (method, path)
            assert {"401", "403", "422"} <= set(op["responses"]), (method, path)
            assert op["security"] == [{"HTTPBearer": []}], (method, path)
    assert "CampaignSpec" in schema["components"]["schemas"]
    assert "ResultIn" in schema["components"]["schemas"]
