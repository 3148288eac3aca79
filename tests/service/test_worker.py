"""The worker and the writer lock; the webhook's signature; the token commands."""

from __future__ import annotations

import time

from loop.campaign.lifecycle import writer_lock
from loop.service.webhook import is_signed, sign


def test_a_busy_campaign_is_run_once_the_lock_is_free(service_env, spec_json):
    from fastapi.testclient import TestClient

    from loop.service.app import create_app

    store, state, secrets = service_env
    app = create_app(store, state, lock_wait_s=0.3)
    app.state.service.worker.retry_s = 0.2
    op = {"Authorization": f"Bearer {secrets['operator']}"}
    with TestClient(app) as client:
        assert client.post("/campaigns", json=spec_json(), headers=op).status_code == 201
        assert app.state.service.worker.wait_idle(120)
        with writer_lock(store, "serve-test"):  # another process runs the campaign
            r = client.post("/campaigns/serve-test/proposals/approve", headers=op)
            assert r.status_code == 409 and r.headers["Retry-After"]
            app.state.service.worker.enqueue("serve-test")
            time.sleep(0.5)  # tried, found busy, will try again
            assert store.campaign("serve-test").status == "awaiting-approval"
        r = client.post("/campaigns/serve-test/proposals/approve", headers=op)
        assert r.status_code == 200
        assert app.state.service.worker.wait_idle(60)
        assert store.campaign("serve-test").status == "waiting-for-lab"


def test_a_failing_run_is_reported_and_the_worker_goes_on(client, spec_json):
    name = "broken"
    r = client.post("/campaigns", json=spec_json(name=name), headers=client.as_("operator"))
    assert r.status_code == 201
    assert client.service.worker.wait_idle(120)
    campaign = client.service.cache.get(name)
    campaign.run = lambda: (_ for _ in ()).throw(RuntimeError("the instrument broke"))
    client.post(f"/campaigns/{name}/proposals/approve", headers=client.as_("operator"))
    assert client.service.worker.wait_idle(60)
    detail = client.get(f"/campaigns/{name}", headers=client.as_("viewer")).json()
    assert detail["worker"]["last_error"] == "RuntimeError: the instrument broke"


def test_the_signature_is_an_hmac_of_the_exact_body():
    body = b'{"campaign": "x"}'
    header = sign("key", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert is_signed("key", body, header)
    assert not is_signed("other", body, header)
    assert not is_signed("key", body + b" ", header)
    assert not is_signed("key", body, None)


def test_token_commands_print_the_secret_once_and_store_its_hash(tmp_path, capsys):
    from loop.campaign.store import SqlStore
    from loop.run.cli import run_cli
    from loop.service.tables import find_token, list_tokens

    url = f"sqlite:///{tmp_path / 's.db'}"
    assert run_cli(["token", "create", "--role", "operator", "--name", "ana",
                    "--store", url]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    engine = SqlStore(url).engine
    assert find_token(engine, secret).name == "ana"
    with engine.connect() as conn:
        assert secret not in str(conn.exec_driver_sql("select * from service_tokens").all())
    assert run_cli(["token", "list", "--store", url]) == 0
    assert "ana (operator)" in capsys.readouterr().out
    assert run_cli(["token", "revoke", "ana", "--store", url]) == 0
    assert find_token(engine, secret) is None and list_tokens(engine)[0].revoked_at
    assert run_cli(["token", "create", "--role", "admin", "--store", url]) == 2
    assert run_cli(["status", "--server", "http://127.0.0.1:9"]) == 2  # no token
    assert run_cli(["status", "--server", "http://127.0.0.1:9", "--token", "t"]) == 2
    assert "cannot reach" in capsys.readouterr().err


def test_a_lab_that_answers_by_itself_is_polled_not_waited_for(service_env, shared_data):
    from fastapi.testclient import TestClient

    from loop.service.app import create_app
    from tests.loop.conftest import small_spec

    store, state, secrets = service_env
    spec = small_spec(shared_data, name="simulated", budget={
        "rounds": 2, "batch_size": 8, "initial_strategy": "random"},
        lab={"settings": {"latency_s": 0.5}, "timeout_s": 3600})
    app = create_app(store, state, poll_s=0.2)
    op = {"Authorization": f"Bearer {secrets['operator']}"}
    with TestClient(app) as client:
        r = client.post("/campaigns", json=spec.model_dump(mode="json"), headers=op)
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 180
        while store.campaign("simulated").status != "done" and time.monotonic() < deadline:
            assert not app.state.service.worker.errors, app.state.service.worker.errors
            time.sleep(0.1)
    assert store.campaign("simulated").status == "done"
    assert store.count_measurements("simulated") == 16
    assert store.campaign("simulated").spec["lab"]["timeout_s"] == 3600  # the spec kept


def test_loopwell_serve_starts_on_the_port_asked_and_wants_a_token(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LOOPWELL_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "loop.run.cli", "serve", "--port", str(port),
                             "--store", f"sqlite:///{tmp_path / 's.db'}", "--log-level",
                             "warning"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/campaigns")
                break
            except httpx.ConnectError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert r.status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 200
    finally:
        proc.terminate()
        proc.wait(30)
