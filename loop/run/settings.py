"""Where loopwell keeps its state, and the environment its parts need."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_STATE_DIR = ".loopwell"
OWNER_VARIABLE = "LOOPWELL_PID"
_PREFECT_SERVER_APP = "prefect.server.api.server:create_app"


def state_dir() -> Path:
    """Return the state folder (`$LOOPWELL_HOME`, default `./.loopwell`), creating it."""
    path = Path(os.environ.get("LOOPWELL_HOME", DEFAULT_STATE_DIR)).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_store_url() -> str:
    """Return the store URL: `$LOOPWELL_STORE` or a SQLite file in the state folder."""
    return os.environ.get("LOOPWELL_STORE") or f"sqlite:///{state_dir() / 'loopwell.db'}"


def configure_environment() -> None:
    """Set the environment Prefect and Ray need before either is imported.

    Prefect keeps its home (and its ephemeral API's SQLite file) in the state
    folder and sends no analytics; Ray runs locally without auth or usage stats.
    Values the user has set are kept.
    """
    home = state_dir()
    # marks the Prefect API server this process starts (it inherits the environment)
    # as ours, so that a later run can tell one orphaned by a kill -9
    os.environ[OWNER_VARIABLE] = str(os.getpid())
    os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # the command line says what went wrong in one line; Prefect's own tracebacks of a
    # failed flow run are shown with --debug (LOOPWELL_DEBUG=1)
    debug = os.environ.get("LOOPWELL_DEBUG", "").lower() in ("1", "true", "yes")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING" if debug else "CRITICAL")
    # the ephemeral API starts in ~6 s here, longer on a busy machine (default: 20 s)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # Ray starts its workers at niceness 15: on a busy machine the instrument's
    # actor then starves (fits took 30x longer here). It is our main compute.
    os.environ.setdefault("RAY_worker_niceness", "0")


def loopwell_prefect_servers():
    """Yield `(process, owner pid)` for each Prefect API server a loopwell run started.

    Without a Prefect server to talk to, Prefect runs flows on an ephemeral API:
    a uvicorn child process that inherits the environment, so it carries
    `LOOPWELL_PID` (set by `configure_environment`). Servers without it, or
    that this user may not inspect, are not yielded.
    """
    import psutil

    for proc in psutil.process_iter(["ppid", "cmdline"]):
        try:
            if _PREFECT_SERVER_APP not in (proc.info["cmdline"] or []):
                continue
            owner = proc.environ().get(OWNER_VARIABLE, "")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if owner.isdigit():
            yield proc, int(owner)


def reap_orphaned_prefect_servers(timeout: float = 5.0) -> list[int]:
    """Stop Prefect API servers whose loopwell process was killed; return their pids.

    Prefect's parent process stops its ephemeral server at exit; a `kill -9` of
    the parent skips that, and the server lives on, holding ~220 MB and a port.
    A loopwell server is orphaned when its parent is no longer its owner.
    Servers of live runs and of other programs are left alone.
    """
    return stop_processes([proc for proc, owner in loopwell_prefect_servers()
                           if owner != proc.info["ppid"]], timeout)


def stop_processes(procs: list, timeout: float = 5.0) -> list[int]:
    """Terminate `procs` (psutil processes), kill those still alive; return their pids."""
    import psutil

    stopped = []
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            continue
        stopped.append(proc)
    _, alive = psutil.wait_procs(stopped, timeout=timeout)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=timeout)
    return [proc.pid for proc in stopped]


def start_watchdog() -> None:
    """Start `loop.run.watchdog` for this process, in its own session (it outlives kill -9)."""
    import subprocess
    import sys

    subprocess.Popen([sys.executable, "-m", "loop.run.watchdog", str(os.getpid())],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
