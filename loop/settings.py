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
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # the ephemeral API starts in ~6 s here, longer on a busy machine (default: 20 s)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # Ray starts its workers at niceness 15: on a busy machine the instrument's
    # actor then starves (fits took 30x longer here). It is our main compute.
    os.environ.setdefault("RAY_worker_niceness", "0")


def reap_orphaned_prefect_servers(timeout: float = 5.0) -> list[int]:
    """Stop Prefect API servers whose loopwell process was killed; return their pids.

    Without a Prefect server to talk to, Prefect runs flows on an ephemeral API:
    a uvicorn child process that its parent stops at exit. A `kill -9` of the
    parent skips that, and the server lives on, holding ~220 MB and a port. A
    server is ours when it carries `LOOPWELL_PID` (set by
    `configure_environment`) and orphaned when its parent is no longer that
    process. Servers of live runs and of other programs are left alone.
    """
    import psutil

    stopped = []
    for proc in psutil.process_iter(["pid", "ppid", "cmdline"]):
        try:
            if _PREFECT_SERVER_APP not in (proc.info["cmdline"] or []):
                continue
            owner = proc.environ().get(OWNER_VARIABLE)
            if owner is None or not owner.isdigit() or int(owner) == proc.info["ppid"]:
                continue
            proc.terminate()
            stopped.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    _, alive = psutil.wait_procs(stopped, timeout=timeout)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=timeout)
    return [proc.pid for proc in stopped]
