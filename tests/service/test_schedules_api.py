"""Schedules over HTTP: who may do what, and a clear 409 when no Prefect server runs them."""


def test_without_a_schedules_server_the_api_says_how_to_start_one(client, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    answer = client.get("/schedules", headers=client.as_("viewer"))
    assert answer.status_code == 409
    assert "loopwell serve --schedules" in answer.json()["detail"]
    assert client.get("/schedules").status_code == 401


def test_only_an_operator_steers_a_schedule(client):
    for role in ("viewer", "lab"):
        answer = client.post("/schedules/any/pause", headers=client.as_(role))
        assert answer.status_code == 403
