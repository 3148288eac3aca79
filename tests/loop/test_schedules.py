"""Schedules: the spec's schedule field, and one scheduled run, without a Prefect server.

The run against a real Prefect server and worker is in test_schedules_server.py.
"""

import os
import subprocess
import sys

import pytest

from loop.campaign.lifecycle import writer_lock
from loop.campaign.spec import SpecError
from loop.campaign.store import SqlStore
from loop.run.schedules import run_scheduled

SLOW_LAB = {"timeout_s": 0, "poll_interval_s": 0.01, "settings": {"latency_s": 3600}}


def test_a_schedule_is_a_cron_line_in_a_time_zone_or_an_interval(make_spec):
    spec = make_spec(schedule={"cron": "0 6 * * 1-5", "timezone": "Europe/Berlin"})
    assert spec.schedule.cron == "0 6 * * 1-5" and spec.schedule.timezone == "Europe/Berlin"
    assert make_spec(schedule={"interval_s": 3600}).schedule.interval_s == 3600
    assert make_spec().schedule is None


@pytest.mark.parametrize("schedule, field, words", [
    ({"cron": "0 6 * *"}, "schedule.cron", "five-field cron line"),
    ({"cron": "0 25 * * 1-5"}, "schedule.cron", "five-field cron line"),
    ({"cron": "0 6 * * 1-5", "timezone": "Europe/Berlim"}, "schedule.timezone",
     "unknown time zone 'Europe/Berlim'"),
    ({"interval_s": 0.5}, "schedule.interval_s", "greater than or equal to 1"),
    ({"cron": "0 6 * * *", "interval_s": 60}, "schedule", "exactly one of cron or interval_s"),
    ({"every": "day"}, "schedule.every", "Extra inputs"),
])
def test_a_bad_schedule_names_the_field(make_spec, schedule, field, words):
    with pytest.raises(SpecError) as caught:
        make_spec(schedule=schedule)
    line = next(x for x in str(caught.value).splitlines() if x.strip().startswith(field + ":"))
    assert words in line


def test_importing_the_schedules_does_not_import_prefect_or_torch():
    code = ("import sys, loop.run.cli, loop.run.schedules, loop.run.prefect_server, "
            "loop.run.schedule_serve; print('prefect' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOPWELL_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "state" / "prefect"))
    return tmp_path


def _stored(make_spec, home, **overrides):
    from loop.campaign.lifecycle import register

    spec = make_spec(budget={"rounds": 3, "batch_size": 8, "initial_strategy": "random"},
                     schedule={"interval_s": 60}, **overrides)
    url = f"sqlite:///{home / 'store.db'}"
    register(SqlStore(url), spec)
    return spec, url


def test_a_scheduled_run_proposes_then_says_it_waits_for_the_lab(make_spec, home):
    spec, url = _stored(make_spec, home, lab=SLOW_LAB)
    status, message = run_scheduled(spec.name, url)
    assert status == "waiting-for-lab"
    assert message == (f"{spec.name}: 8 experiment(s) proposed; waiting for the lab: "
                       "8 experiments of round 0")
    status, message = run_scheduled(spec.name, url)  # the lab has not answered yet
    assert status == "waiting-for-lab"
    assert message == f"{spec.name}: nothing new; waiting for the lab: 8 experiments of round 0"
    assert len(SqlStore(url).experiments(spec.name)) == 8


def test_a_scheduled_run_skips_a_campaign_someone_else_runs(make_spec, home):
    spec, url = _stored(make_spec, home, lab=SLOW_LAB)
    store = SqlStore(url)
    with writer_lock(store, spec.name):
        status, message = run_scheduled(spec.name, url)
    assert status == "busy" and "skipped" in message and "being run by" in message
    assert store.experiments(spec.name) == []


def test_a_scheduled_run_leaves_paused_and_deleted_campaigns_alone(make_spec, home):
    spec, url = _stored(make_spec, home, lab=SLOW_LAB)
    SqlStore(url).set_campaign_status(spec.name, "paused")
    assert run_scheduled(spec.name, url) == ("paused", f"{spec.name}: paused by a person; "
                                                       "nothing done")
    status, message = run_scheduled("gone", url)
    assert status == "missing" and "no such campaign" in message


def test_serve_stops_what_a_killed_serve_left(home):
    import json

    import psutil

    from loop.run.prefect_server import reap_stale_server, serving_owner

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)",
                             "prefect-server-stand-in"], start_new_session=True)
    try:
        folder = home / "state" / "prefect"
        folder.mkdir(parents=True)
        record = {"api_url": "http://127.0.0.1:9/api", "pid": left.pid, "owner": dead.pid}
        (folder / "loopwell-server.json").write_text(json.dumps(record))
        assert serving_owner() is None
        assert reap_stale_server(timeout_s=10) == [left.pid]
        assert left.wait(10) is not None and not (folder / "loopwell-server.json").exists()
        # a live owner's server is left alone
        (folder / "loopwell-server.json").write_text(json.dumps({**record, "owner": os.getpid()}))
        assert reap_stale_server() == [] and serving_owner() == os.getpid()
    finally:
        if left.poll() is None:
            left.kill()
            left.wait()
    assert not psutil.pid_exists(left.pid) or psutil.Process(left.pid).status() == "zombie"


def test_the_schedule_commands_exist_and_a_file_without_a_schedule_is_refused(
        make_spec, tmp_path, capsys):
    import yaml

    from loop.run.cli import run_cli

    assert run_cli(["schedule", "--help"]) == 0
    out = capsys.readouterr().out
    for command in ("add", "list", "pause", "resume", "run-now", "remove", "serve"):
        assert command in out
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(make_spec().model_dump(mode="json")))
    assert run_cli(["schedule", "add", str(path), "--store", f"sqlite:///{tmp_path}/s.db"]) == 2
    assert "no `schedule` in the campaign file" in capsys.readouterr().err
