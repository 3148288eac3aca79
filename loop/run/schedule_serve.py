"""`loopwell schedule serve`: the Prefect server, the deployments and a worker, until Ctrl-C.

See `loop.run.schedules` for what is deployed and why a worker runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Callable

from loop.run.prefect_server import prefect_api, reap_stale_server, record, serving_owner
from loop.run.schedules import (POOL, ScheduleError, ensure_pool, skip_missed_runs,
                                sync_schedules)
from loop.run.settings import configure_environment, state_dir


def start_worker(api_url: str, limit: int = 4, query_s: float = 5.0) -> subprocess.Popen:
    """Start a Prefect process worker of the `loopwell` pool, in its own process group."""
    # the worker and its flow runs log at INFO to worker.log and to the server (the
    # command line itself keeps Prefect quiet); LOOPWELL_HOME is absolute, as the
    # worker runs each flow run in a temporary folder
    env = dict(os.environ, PREFECT_API_URL=api_url, LOOPWELL_HOME=str(state_dir()),
               PREFECT_LOGGING_LEVEL="INFO")
    env.setdefault("PREFECT_WORKER_QUERY_SECONDS", f"{query_s:g}")
    env.setdefault("PREFECT_WORKER_PREFETCH_SECONDS", f"{query_s:g}")
    log = open(state_dir() / "prefect" / "worker.log", "ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL,
             "--type", "process", "--limit", str(limit)],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    finally:
        log.close()


def stop_worker(worker: subprocess.Popen, timeout_s: float = 20.0) -> None:
    """Stop the flow runs the worker started, then the worker.

    The flow runs go first, while the server is up: a flow run stopped by SIGTERM
    reports itself crashed and gives back its deployment's concurrency slot, so
    the schedule is not blocked by a run that will never end.
    """
    import psutil

    from loop.run.settings import stop_processes

    try:
        children = psutil.Process(worker.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    stop_processes(children, timeout_s)
    if worker.poll() is None:
        stop_processes([psutil.Process(worker.pid)], timeout_s)
    worker.wait(timeout_s)


def serve_schedules(store: str | None = None, *, limit: int = 4, sync_s: float = 30.0,
                    say: Callable[[str], None] = print,
                    should_stop: Callable[[], bool] = lambda: False) -> None:
    """Run the schedules until Ctrl-C (or `should_stop()`): server, deployments, worker.

    Starts a Prefect server on loopback unless `PREFECT_API_URL` is set or one
    already runs for this state folder, makes the deployments match the store
    every `sync_s` seconds, and keeps a worker of the `loopwell` pool running.
    """
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        # `kill PID` stops what we started, as Ctrl-C does
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    configure_environment()
    stale = reap_stale_server()
    if stale:
        say(f"stopped the Prefect server and worker a killed `serve` left "
            f"(pid {', '.join(map(str, stale))})")
    if serving_owner() is not None:
        raise ScheduleError(f"`loopwell schedule serve` already runs for {state_dir()} "
                            f"(pid {serving_owner()}); one is enough")
    t0 = time.perf_counter()
    with prefect_api(keep=True) as api_url:
        say(f"Prefect API {api_url} (ready after {time.perf_counter() - t0:.1f} s)")
        ensure_pool()
        worker = start_worker(api_url, limit=limit)
        record(worker=worker.pid)
        say(f"worker of pool '{POOL}' started (pid {worker.pid})")
        next_sync, known, said = 0.0, {}, None
        try:
            while not should_stop():
                if time.monotonic() >= next_sync:
                    try:
                        done = sync_schedules(store, known)
                        line = "schedules: " + (", ".join(sorted(known)) or "none") + "".join(
                            f"; {what} {', '.join(names)}" for what, names in done.items()
                            if names and what != "kept")
                        missed = skip_missed_runs()
                        if missed:
                            say(f"cancelled {len(missed)} run(s) that fell due while the "
                                "worker was busy or down (a missed schedule runs once)")
                    except Exception as exc:  # noqa: BLE001 - a bad spec or a busy server
                        line = f"could not sync schedules: {exc}"
                    if line != said:
                        say(line)
                        said = line
                    next_sync = time.monotonic() + sync_s
                if worker.poll() is not None:
                    say(f"the worker exited ({worker.returncode}); starting another")
                    worker = start_worker(api_url, limit=limit)
                    record(worker=worker.pid)
                time.sleep(0.5)
        finally:
            stop_worker(worker)


__all__ = ["serve_schedules", "start_worker", "stop_worker"]
