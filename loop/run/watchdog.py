"""Stop the Prefect API server of a loopwell run that was killed (`kill -9`) and never resumed.

`python -m loop.run.watchdog PID` waits for process PID to end, then stops the
Prefect servers that PID started (marked by `LOOPWELL_PID`, see
`loop.run.settings`) and exits. A run starts one beside itself, in its own
session, so it outlives a `kill -9` of the run.
"""

from __future__ import annotations

import sys
import time


def watch(owner: int, interval_s: float = 1.0) -> list[int]:
    """Wait until `owner` has ended; stop the Prefect servers it left; return their pids."""
    import psutil

    from loop.run.settings import loopwell_prefect_servers, stop_processes

    while psutil.pid_exists(owner) and psutil.Process(owner).status() != psutil.STATUS_ZOMBIE:
        time.sleep(interval_s)
    return stop_processes([proc for proc, pid in loopwell_prefect_servers() if pid == owner])


if __name__ == "__main__":
    watch(int(sys.argv[1]))
