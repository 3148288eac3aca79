"""A real uvicorn on 127.0.0.1: a campaign created, approved and answered over HTTP.

The lab is a fake that polls for dispatched work and POSTs the published
Scharenberg values later, in parts and once twice; the worker proposes the
next round when the first one closes. A webhook receiver checks the signed
"batch ready" calls. Nothing may be lost: the store holds every measurement once.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from loop.run.lab import lookup_table
from loop.service.webhook import HEADER, is_signed
from tests._live import served as live_server
from tests.loop.conftest import small_spec

SECRET = "s3cret"


class _Receiver(BaseHTTPRequestHandler):
    got: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.got.append((body, self.headers.get(HEADER)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.got = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Receiver.got
    server.shutdown()


@pytest.fixture
def served(service_env):
    from loop.service.app import create_app

    store, state, secrets = service_env
    with live_server(create_app(store, state, webhook_secret=SECRET)) as url:
        yield url, secrets, store


def _wait_for(client, name, status, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        detail = client.get(f"/campaigns/{name}").json()
        assert detail["worker"]["last_error"] is None, detail["worker"]
        if detail["status"] == status:
            return detail
        time.sleep(0.1)
    raise AssertionError(f"{name} never became {status}: {detail['status']}")


def _fake_lab(url, token, name, table, stop):
    """Answer dispatched experiments later: half now, the rest (and one again) a bit after."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as lab:
        while not stop.is_set():
            todo = lab.get(f"/campaigns/{name}/proposals", params={"state": "dispatched"}).json()
            if todo:
                results = [{"experiment_id": p["experiment_id"], "candidate_id": p["candidate_id"],
                            "value": table[p["candidate_id"]]} for p in todo]
                half = len(results) // 2
                for part in (results[half:], results[:half] + results[-1:]):
                    time.sleep(0.2)
                    r = lab.post(f"/campaigns/{name}/results", json=part)
                    assert r.status_code == 200, r.text
            time.sleep(0.1)


def test_a_campaign_over_http_with_a_lab_that_answers_later(served, receiver, shared_data):
    from loop.run.cli import run_cli

    url, secrets, store = served
    hook_url, calls = receiver
    spec = small_spec(shared_data, name="e2e", budget={"rounds": 2, "batch_size": 8,
                                                       "initial_strategy": "random"},
                      lab={"kind": "manual"}, approval="manual")
    table = lookup_table(small_spec(shared_data), None)
    op = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secrets['operator']}"},
                      timeout=60)
    r = op.post("/campaigns", json=spec.model_dump(mode="json"),
                params={"webhook_url": hook_url})
    assert r.status_code == 201, r.text
    _wait_for(op, "e2e", "awaiting-approval")
    assert op.post("/campaigns/e2e/proposals/approve").status_code == 200

    stop = threading.Event()
    lab = threading.Thread(target=_fake_lab, args=(url, secrets["lab"], "e2e", table, stop),
                           daemon=True)
    lab.start()
    try:
        detail = _wait_for(op, "e2e", "awaiting-approval")  # round 1, proposed by the worker
        while len(detail["rounds"]) < 2:
            detail = _wait_for(op, "e2e", "awaiting-approval")
        assert detail["rounds"][0]["status"] == "done"
        assert detail["rounds"][1]["instrument"] == "linear"  # a model proposed round 1
        # round 1 is approved through the command line's service mode
        assert run_cli(["approve", "e2e", "--server", url, "--token",
                        secrets["operator"]]) == 0
        detail = _wait_for(op, "e2e", "done")
    finally:
        stop.set()
        lab.join(10)
    assert run_cli(["status", "e2e", "--server", url, "--token", secrets["viewer"]]) == 0
    assert [r["status"] for r in detail["rounds"]] == ["done", "done"]
    assert detail["counts"]["experiments"] == {"done": 16}
    assert store.count_measurements("e2e") == 16  # nothing lost, nothing twice
    assert detail["counts"]["rejected"] == 0
    assert {m.candidate_id: m.value for m in store.measurements("e2e")} == {
        m.candidate_id: table[m.candidate_id] for m in store.measurements("e2e")}
    # the webhook was told of each batch, signed
    events = [json.loads(body) for body, _ in calls]
    assert all(is_signed(SECRET, body, sig) for body, sig in calls)
    assert [(e["round"], e["status"]) for e in events] == [
        (0, "awaiting-approval"), (0, "waiting-for-lab"),
        (1, "awaiting-approval"), (1, "waiting-for-lab")]
    assert len(events[0]["experiments"]) == 8
    op.close()
