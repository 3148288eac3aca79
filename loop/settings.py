"""Where loopwell keeps its state, and the environment its parts need."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_STATE_DIR = ".loopwell"


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
