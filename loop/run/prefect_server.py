"""A Prefect server on loopback for schedules: found at `PREFECT_API_URL`, or started by us.

Prefect's ephemeral API (what `loopwell run` uses) lives only as long as one
flow run and has no scheduler, so scheduled campaigns need a real server.
`prefect_api()` yields the URL of one: `$PREFECT_API_URL` when set (the
user's server, never stopped by us), else the server a `loopwell schedule
serve` of this state folder already runs (recorded in
`<state>/prefect/loopwell-server.json`), else one it starts for the block:
`prefect server start --host 127.0.0.1 --port P` with `PREFECT_HOME` in the
state folder, stopped (its whole process group) when the block ends.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from loop.run.settings import OWNER_VARIABLE, configure_environment, state_dir

HOST = "127.0.0.1"
RECORD = "loopwell-server.json"


class PrefectServerError(RuntimeError):
    """The Prefect server did not start, or cannot be reached."""


def free_port() -> int:
    """Return a TCP port free on loopback now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def is_healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether the Prefect API at `api_url` (ending in /api) answers its health check."""
    import httpx

    try:
        return httpx.get(f"{api_url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


class PrefectServer:
    """One `prefect server start` subprocess on 127.0.0.1, in its own process group.

    Args:
        home: PREFECT_HOME of the server (its SQLite database and logs).
        port: TCP port (default: a free one).
    """

    def __init__(self, home: Path, port: int | None = None) -> None:
        self.home = Path(home)
        self.port = port or free_port()
        self.api_url = f"http://{HOST}:{self.port}/api"
        self.process: subprocess.Popen | None = None
        self.start_s: float | None = None

    def start(self, timeout_s: float = 120.0) -> "PrefectServer":
        """Start the server and wait until /api/health answers; record how long it took."""
        self.home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
        # not a loopwell run's ephemeral server: `reap_orphaned_prefect_servers` must
        # leave it alone (its parent is `prefect server start`, never the run)
        env.pop(OWNER_VARIABLE, None)
        env.update(PREFECT_HOME=str(self.home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   PREFECT_SERVER_API_HOST=HOST, PREFECT_SERVER_API_PORT=str(self.port))
        log = open(self.home / "server.log", "ab")
        t0 = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", HOST,
             "--port", str(self.port)],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        while not is_healthy(self.api_url, timeout=1.0):
            if self.process.poll() is not None:
                raise PrefectServerError(
                    f"the Prefect server exited with code {self.process.returncode} "
                    f"while starting; see {self.home / 'server.log'}")
            if time.perf_counter() - t0 > timeout_s:
                self.stop()
                raise PrefectServerError(f"the Prefect server did not answer at "
                                         f"{self.api_url} within {timeout_s:.0f} s")
            time.sleep(0.25)
        self.start_s = time.perf_counter() - t0
        return self

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop the server's process group: SIGTERM, then SIGKILL after `timeout_s`."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout_s)
        # uvicorn children of the group that outlived their parent
        _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _record_path() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or state_dir() / "prefect") / RECORD


def record(**fields) -> None:
    """Add fields (e.g. the worker's pid) to the record of this state folder's server."""
    path = _record_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if data.get("owner") == os.getpid():  # only the server this process started
        path.write_text(json.dumps({**data, **fields}))


def serving_owner() -> int | None:
    """Return the pid of the live `loopwell schedule serve` of this state folder, if any."""
    import psutil

    try:
        owner = json.loads(_record_path().read_text()).get("owner")
    except (OSError, ValueError, AttributeError):
        return None
    return owner if isinstance(owner, int) and psutil.pid_exists(owner) else None


def reap_stale_server(timeout_s: float = 20.0) -> list[int]:
    """Stop the server and worker a killed `loopwell schedule serve` left; return their pids.

    The record names the `serve` process (`owner`), its server and its worker,
    each the leader of its own process group. When the owner no longer runs,
    each group whose leader is still a Prefect process is stopped, and the
    record removed.
    """
    import psutil

    path = _record_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    owner = data.get("owner")
    if isinstance(owner, int) and psutil.pid_exists(owner):
        return []
    stopped = []
    for pid in (data.get("worker"), data.get("pid")):
        try:
            proc = psutil.Process(pid)
            if "prefect" not in " ".join(proc.cmdline()):
                continue  # the pid was reused by someone else
        except (psutil.Error, TypeError, ValueError):
            continue
        _signal_group(pid, signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except psutil.TimeoutExpired:
            _signal_group(pid, signal.SIGKILL)
        stopped.append(pid)
    path.unlink(missing_ok=True)
    return stopped


def running_server() -> str | None:
    """Return the API URL of the server `loopwell schedule serve` runs for this state folder."""
    path = _record_path()
    try:
        url = json.loads(path.read_text())["api_url"]
    except (OSError, ValueError, KeyError):
        return None
    return url if is_healthy(url) else None


@contextmanager
def prefect_api(*, keep: bool = False, timeout_s: float = 120.0) -> Iterator[str]:
    """Yield a Prefect API URL (see the module), with `PREFECT_API_URL` set to it inside.

    Args:
        keep: Record a server started here as this state folder's server while
            the block runs (`loopwell schedule serve`), so other commands use it.
        timeout_s: How long a server started here may take to answer.
    """
    configure_environment()
    given = os.environ.get("PREFECT_API_URL")
    if given:
        if not is_healthy(given):
            raise PrefectServerError(f"no Prefect API answers at PREFECT_API_URL={given}")
        yield given
        return
    url = running_server()
    server = None
    if url is None:
        server = PrefectServer(Path(os.environ["PREFECT_HOME"])).start(timeout_s)
        url = server.api_url
        if keep:
            _record_path().write_text(json.dumps({
                "api_url": url, "pid": server.process.pid, "owner": os.getpid(),
                "start_s": round(server.start_s, 1)}))
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # the environment for the processes we start, the settings for this one (Prefect
    # reads the environment once, at import)
    os.environ["PREFECT_API_URL"] = url
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        if server is not None:
            if keep:
                _record_path().unlink(missing_ok=True)
            server.stop()


__all__ = ["PrefectServer", "PrefectServerError", "is_healthy", "prefect_api",
           "reap_stale_server", "record", "running_server", "serving_owner"]
