"""Session-wide fixtures: one Ray runtime and one Prefect test harness per run."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_worker_niceness", "0")
# the CLI's state folder (store, features, reports) defaults to ./.loopwell: tests get
# their own, so that a run of the suite never writes into a developer's own store
os.environ.setdefault("LOOPWELL_HOME", tempfile.mkdtemp(prefix="loopwell-tests-"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real published data beside the project (`../shared/data`)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the project")
    return SHARED_DATA


@pytest.fixture(scope="session")
def ray_session():
    """Start one local Ray runtime for the whole test session."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True,
             log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """One Prefect test harness (a temporary local API) for the whole session."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
