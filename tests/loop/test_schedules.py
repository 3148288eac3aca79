"""Schedules: the spec's schedule field, and one scheduled run, without a Prefect server.

The run against a real Prefect server and worker is in test_schedules_server.py.
"""

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
    code = ("import sys, loop.run.cli, loop.run.schedules, loop.run.prefect_server; "
            "print('prefect' in sys.modules, 'torch' in sys.modules)")
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
