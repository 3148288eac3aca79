"""A scheduled campaign on a real Prefect server and worker, on loopback, with no hand on it.

`loopwell schedule serve` starts a Prefect server and a process worker; the
campaign's interval schedule runs it every 5 s: a run waits at most 3 s for
the lab (which answers a plate after 1 s), so each run finishes one round and
proposes the next, which the next run collects.
Then everything is stopped, started again (a new server on the same database),
and the schedule goes on. Nothing is left running afterwards.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import psutil
import pytest
import yaml

from loop.campaign.store import SqlStore

pytestmark = pytest.mark.slow


class Serve:
    """`loopwell schedule serve` as a subprocess, its output read line by line."""

    def __init__(self, env):
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "loop.run.cli", "schedule", "serve", "--sync-s", "5",
             "--limit", "1"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            print("serve:", line.rstrip(), flush=True)

    def wait_for(self, words, timeout_s):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            found = next((x for x in self.lines if words in x), None)
            if found:
                return found
            assert self.proc.poll() is None, "\n".join(self.lines)
            time.sleep(0.2)
        raise AssertionError(f"no '{words}' after {timeout_s} s:\n" + "\n".join(self.lines))

    def descendants(self):
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self):
        """Ctrl-C it; return the processes it had started that are still alive."""
        started = self.descendants()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:  # leave nothing behind, then fail
                for p in started + [psutil.Process(self.proc.pid)]:
                    p.kill()
                raise
        time.sleep(1)
        return [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _rounds_done(store, name):
    return sum(r.status == "done" for r in store.rounds(name))


def _wait_rounds(store, name, n, serve, timeout_s):
    t0 = time.monotonic()
    while _rounds_done(store, name) < n:
        assert time.monotonic() - t0 < timeout_s, (
            f"{_rounds_done(store, name)} rounds done after {timeout_s} s\n"
            + "\n".join(serve.lines))
        assert serve.proc.poll() is None, "\n".join(serve.lines)
        time.sleep(1)
    return time.monotonic() - t0


def _messages(name):
    """Return the state names and messages of a campaign's finished scheduled runs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            name=FlowRunFilterName(any_=[name])))
    return [(r.state_name, r.state.message) for r in runs if r.state and r.state.is_completed()]


def _wait_for_run(run_id, timeout_s):
    """Wait until a flow run is over; return its state."""
    from prefect.client.orchestration import get_client

    t0 = time.monotonic()
    with get_client(sync_client=True) as client:
        while not (state := client.read_flow_run(run_id).state).is_final():
            assert time.monotonic() - t0 < timeout_s, state
            time.sleep(1)
    return state


def _wait_until_idle(name, since, timeout_s):
    """Wait until no flow run of a campaign that started after `since` is pending or running.

    (A run of the first server that was killed mid-run may show as running forever.)
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter, FlowRunFilterStartTime, FlowRunFilterName, FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    busy = FlowRunFilter(
        name=FlowRunFilterName(any_=[name]),
        start_time=FlowRunFilterStartTime(after_=since),
        state=FlowRunFilterState(type=FlowRunFilterStateType(
            any_=[StateType.PENDING, StateType.RUNNING])))
    t0 = time.monotonic()
    with get_client(sync_client=True) as client:
        while client.read_flow_runs(flow_run_filter=busy):
            assert time.monotonic() - t0 < timeout_s
            time.sleep(1)


def test_a_schedule_runs_rounds_by_itself_and_resumes_after_a_restart(shared_data, tmp_path,
                                                                      monkeypatch):
    from loop.campaign.lifecycle import register
    from loop.campaign.spec import load_spec
    from loop.run.prefect_server import prefect_api
    from loop.run.schedules import list_schedules, pause_schedule, resume_schedule, run_now

    screen = str(shared_data / "screens" / "ground_truth_Scharenberg22.csv")
    raw = {
        "name": "scheduled-screen",
        "design_space": {"kind": "genes", "table": screen,
                         "gene_sets": [str(shared_data / "genesets" / "ReactomePathways.gmt")]},
        "objective": {"kind": "hits", "top_fraction": 0.05},
        "budget": {"rounds": 3, "batch_size": 8, "initial_strategy": "random"},
        "lab": {"kind": "simulated", "table": screen, "timeout_s": 3,
                "poll_interval_s": 0.05, "settings": {"latency_s": 1}},
        "schedule": {"interval_s": 5},
    }
    path = tmp_path / "scheduled.yaml"
    path.write_text(yaml.safe_dump(raw))
    spec = load_spec(path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = SqlStore(url)
    register(store, spec)  # what `loopwell schedule add` records; serve deploys it
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(LOOPWELL_HOME=str(tmp_path / "state"), LOOPWELL_STORE=url,
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    # this process finds the server `serve` runs through its record in the state folder
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("LOOPWELL_HOME", env["LOOPWELL_HOME"])
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "state" / "prefect"))
    t_start = time.monotonic()

    serve = Serve(env)
    try:
        ready = serve.wait_for("ready after", 150)
        serve.wait_for("schedules: scheduled-screen", 60)
        waited = _wait_rounds(store, spec.name, 2, serve, 150)
        print(f"two rounds done {waited:.0f} s after the deployment; {ready}")
        record = json.loads((tmp_path / "state" / "prefect" / "loopwell-server.json").read_text())
        assert record["api_url"].startswith("http://127.0.0.1:")
        with prefect_api() as api:
            assert api == record["api_url"]
            row = next(r for r in list_schedules() if r["campaign"] == spec.name)
            said = _messages(spec.name)
        assert row["schedule"] == "every 5 s" and not row["paused"] and row["store"] == url
        # each finished run says what it did and what it waits for
        # (how many rounds one run got through, none included, depends on when it fell due
        # and when the lab answered: timing, not code)
        waiting = re.compile(rf"{spec.name}: (\d+ round\(s\) finished, )?\d+ experiment\(s\) "
                             r"proposed; waiting for the lab: 8 experiments of round \d+$")
        assert any(state == "Waiting" and waiting.match(text) for state, text in said), said
        with prefect_api():
            pause_schedule(spec.name)
            row = next(r for r in list_schedules() if r["campaign"] == spec.name)
            assert row["paused"]
            resume_schedule(spec.name)
            assert not next(r for r in list_schedules() if r["campaign"] == spec.name)["paused"]
        _the_same_over_http(store, tmp_path, spec.name)
    finally:
        left = serve.stop()
    assert left == [], f"left running: {[p.cmdline() for p in left]}"
    assert not (tmp_path / "state" / "prefect" / "loopwell-server.json").exists()
    n_before = _rounds_done(store, spec.name)
    assert n_before >= 2

    # start it all again: a new server on the same database; the schedule goes on
    restarted = datetime.now(timezone.utc)
    serve = Serve(env)
    try:
        ready_again = serve.wait_for("ready after", 150)
        # (whether runs fell due while it was down depends on timing: a re-applied deployment
        # drops its upcoming runs, so "a missed schedule runs once" is not waited for here)
        _wait_rounds(store, spec.name, 3, serve, 150)  # the schedule goes on by itself
        with prefect_api():
            # paused, so that scheduled runs stop coming; a run asked for while another is
            # under way is cancelled by the concurrency limit, so ask again then
            pause_schedule(spec.name)
            for attempt in range(5):
                _wait_until_idle(spec.name, restarted, 90)
                state = _wait_for_run(run_now(spec.name), 120)
                if not state.is_cancelled():
                    break
                assert "concurrency limit" in state.message, state
            print(f"run-now: {attempt + 1} attempt(s)")
        assert state.name == "Completed" and state.message == (
            f"{spec.name}: nothing new; done: 3 rounds"), state
        print(f"after the restart: {ready_again}")
    finally:
        left = serve.stop()
    assert left == [], f"left running: {[p.cmdline() for p in left]}"
    assert store.campaign(spec.name).status == "done"
    assert len({e.candidate_id for e in store.experiments(spec.name)}) == 24
    print(f"first server {ready}; second {ready_again}; whole test "
          f"{time.monotonic() - t_start:.0f} s")


def _the_same_over_http(store, tmp_path, name):
    """The service's /schedules routes on the Prefect server `serve` runs."""
    from fastapi.testclient import TestClient

    from loop.service.app import create_app
    from loop.service.tables import create_tables, create_token

    create_tables(store.engine)
    headers = {role: {"Authorization": f"Bearer {create_token(store.engine, role, role)[1]}"}
               for role in ("viewer", "operator")}
    app = create_app(store, tmp_path / "state", start_worker=False)
    with TestClient(app) as api:
        rows = api.get("/schedules", headers=headers["viewer"]).json()
        assert [r["campaign"] for r in rows] == [name] and rows[0]["schedule"] == "every 5 s"
        assert api.post(f"/schedules/{name}/pause", headers=headers["operator"]).status_code == 200
        assert api.get("/schedules", headers=headers["viewer"]).json()[0]["paused"] is True
        assert api.post(f"/schedules/{name}/resume", headers=headers["operator"]).status_code == 200
        assert api.post("/schedules/nope/pause", headers=headers["operator"]).status_code == 404
        actions = [a["action"] for a in api.get(f"/campaigns/{name}/audit",
                                                headers=headers["viewer"]).json()]
        assert actions[-2:] == ["schedule-pause", "schedule-resume"]
