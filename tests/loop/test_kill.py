"""kill -9 in the middle of a round, then `loopwell run` again: nothing lost, nothing twice."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import yaml

from adapters import SimulatedLab
from loop.campaign import Campaign
from loop.run.lab import lookup_table
from loop.run.settings import loopwell_prefect_servers
from loop.campaign.store import SqlStore


@pytest.mark.slow
def test_kill_9_during_a_round_then_run_again(make_spec, tmp_path):
    spec = make_spec(name="killed", budget={"rounds": 3, "batch_size": 16},
                     lab={"settings": {"latency_s": 3.0}, "poll_interval_s": 0.2})
    spec_file = tmp_path / "killed.yaml"
    spec_file.write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    env = {**os.environ, "LOOPWELL_HOME": str(tmp_path / "home")}
    cmd = [sys.executable, "-m", "loop.run.cli", "run", str(spec_file), "--compute", "local",
           "--store", url]
    log = open(tmp_path / "first-run.log", "w")
    # its own session, so that the clean-up below can take everything it started
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    store = SqlStore(url)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:  # wait until round 1 is with the lab
            if store.campaign("killed") and store.experiments("killed", round=1,
                                                               states=["dispatched"]):
                break
            assert proc.poll() is None, (tmp_path / "first-run.log").read_text()[-3000:]
            time.sleep(0.1)
        else:
            pytest.fail("round 1 was never dispatched")
        os.kill(proc.pid, signal.SIGKILL)  # as `kill -9 PID` would: no clean-up at all
        proc.wait()
        # Prefect's local API server outlives its parent; the run's watchdog stops it
        # without any further run
        stop_by = time.monotonic() + 30
        while time.monotonic() < stop_by and [
                p for p, owner in loopwell_prefect_servers() if owner == proc.pid
                and p.is_running() and p.status() != psutil.STATUS_ZOMBIE]:
            time.sleep(0.5)
        assert not [p for p, owner in loopwell_prefect_servers() if owner == proc.pid
                    and p.status() != psutil.STATUS_ZOMBIE], "the killed run's server lives on"
        assert store.count_measurements("killed") == 16
        again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "killed: done" in again.stdout
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the first run's session
        except ProcessLookupError:
            pass

    reference = Campaign(spec, SqlStore(f"sqlite:///{tmp_path / 'ref.db'}"),
                         state_dir=tmp_path / "ref", compute="local")
    reference.run()

    def values(s):
        return sorted((m.candidate_id, m.replicate, m.value) for m in s.measurements("killed"))

    assert values(store) == values(reference.store)
    (folder,) = (tmp_path / "home" / "campaigns").glob("killed-*")
    lab = SimulatedLab(lookup_table(spec, None), state_path=folder / "lab.json")
    assert lab.n_submitted == 48  # each experiment asked of the lab exactly once
    assert len(set(lab.submitted_ids())) == 48
