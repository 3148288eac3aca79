"""Prefect API servers orphaned by a killed run are stopped by the next run, and only those."""

import os
import subprocess
import sys
import time

import psutil

from loop.run.settings import OWNER_VARIABLE, reap_orphaned_prefect_servers

# a stand-in for Prefect's ephemeral server: the same application argument, no server
SERVER = [sys.executable, "-c", "import time; time.sleep(120)",
          "prefect.server.api.server:create_app"]


def _orphan(owner_pid: str | None = None) -> int:
    """Start a stand-in server from an intermediate process that then exits; return its pid."""
    spawn = ("import os, subprocess, sys; "
             "env = dict(os.environ); "
             f"env.update({{'{OWNER_VARIABLE}': {owner_pid!r} or str(os.getpid())}}); "
             f"p = subprocess.Popen({SERVER!r}, env=env, start_new_session=True, "
             "stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
             "print(p.pid)")
    out = subprocess.run([sys.executable, "-c", spawn], capture_output=True, text=True,
                         check=True)
    return int(out.stdout)


def _wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


def test_an_orphaned_server_is_stopped_and_a_live_runs_server_is_not():
    live = subprocess.Popen(SERVER, env={**os.environ, OWNER_VARIABLE: str(os.getpid())})
    foreign = subprocess.Popen(SERVER, env={k: v for k, v in os.environ.items()
                                            if k != OWNER_VARIABLE})
    orphan = _orphan()
    try:
        assert psutil.pid_exists(orphan)
        stopped = reap_orphaned_prefect_servers()
        assert orphan in stopped
        assert _wait_gone(orphan)
        assert live.pid not in stopped and live.poll() is None  # its loopwell run is alive
        assert foreign.pid not in stopped and foreign.poll() is None  # not started by loopwell
    finally:
        for proc in (live, foreign):
            proc.kill()
            proc.wait()
        if psutil.pid_exists(orphan):
            psutil.Process(orphan).kill()


def test_a_server_with_a_malformed_owner_is_left_alone():
    orphan = _orphan(owner_pid="not-a-pid")
    try:
        assert orphan not in reap_orphaned_prefect_servers()
        assert psutil.pid_exists(orphan)
    finally:
        psutil.Process(orphan).kill()


def test_the_watchdog_stops_the_server_of_a_run_that_ends_and_leaves_others():
    from loop.run.watchdog import watch

    run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1)"])
    mine = subprocess.Popen(SERVER, env={**os.environ, OWNER_VARIABLE: str(run.pid)})
    other = subprocess.Popen(SERVER, env={**os.environ, OWNER_VARIABLE: str(os.getpid())})
    try:
        stopped = watch(run.pid, interval_s=0.1)  # returns once the run has ended
        assert run.poll() is not None  # the run had ended (a zombie counts as ended)
        assert stopped == [mine.pid]
        assert mine.wait(timeout=10) is not None
        assert other.poll() is None
    finally:
        for proc in (run, mine, other):
            proc.kill()
            proc.wait()
