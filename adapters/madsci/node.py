"""A simulated assay instrument as a real MADSci REST node (the `madsci-node-module` package).

`AssayNode` subclasses madsci's `RestNode` and offers one action,
``measure(sample_ids, candidates)``: it looks each candidate up in a table (like
`adapters.simulated`), takes `sample_time_s` per sample, and returns
``{"values": {sample_id: value}}`` as the action's JSON result. A candidate not
in the table fails the action (``SampleNotFound``, nothing measured). The
admin commands ``pause``, ``resume`` and ``cancel`` pause, resume and cancel
the running action (its status becomes ``paused``, ``running`` again, or
``cancelled``).

It runs with madsci's own server (`RestNode.start_node`, uvicorn)::

    python -m adapters.madsci.node lookup.json --port 2000

where lookup.json is a JSON object candidate -> value. Importing this module
does not import madsci; `main` does.
"""

# No `from __future__ import annotations`: madsci reads action annotations as types.
import argparse
import json
import time
from pathlib import Path


def node_class() -> type:
    """Return the `AssayNode` class (madsci is imported here, not at module import)."""
    from madsci.common.types.action_types import (
        ActionCancelled,
        ActionFailed,
        ActionPaused,
        ActionRunning,
    )
    from madsci.common.types.base_types import Error
    from madsci.node_module.helpers import action
    from madsci.node_module.rest_node_module import RestNode

    class AssayNode(RestNode):
        """A simulated plate-reader-like assay: one value per sample, from a table."""

        lookup: dict[str, float] = {}
        sample_time_s: float = 0.05
        _paused = False
        _cancelling = False

        @action
        def measure(self, sample_ids: list[str], candidates: list[str]) -> dict:
            """Measure each sample (candidate) and return {"values": {sample_id: value}}."""
            if len(sample_ids) != len(candidates):
                return ActionFailed(errors=[Error(
                    message=f"{len(sample_ids)} sample ids for {len(candidates)} candidates",
                    error_type="BadRequest")])
            unknown = sorted({c for c in candidates if c not in self.lookup})
            if unknown:
                return ActionFailed(errors=[Error(
                    message=f"candidates not on the plate map: {', '.join(unknown)}; "
                            "the batch was not measured", error_type="SampleNotFound")])
            self._cancelling = False
            values: dict[str, float] = {}
            for sample_id, candidate in zip(sample_ids, candidates):
                while self._paused and not self._cancelling:
                    time.sleep(0.02)
                if self._cancelling:
                    return ActionCancelled(errors=[Error(
                        message=f"cancelled after {len(values)} of {len(sample_ids)} samples",
                        error_type="Cancelled")])
                time.sleep(self.sample_time_s)
                values[sample_id] = float(self.lookup[candidate])
            return {"values": values}

        def pause(self) -> bool:
            """Admin command: hold the running actions between samples."""
            self._paused = True
            for action_id in list(self.node_status.running_actions):
                self._extend_action_history(ActionPaused(action_id=action_id))
            return True

        def resume(self) -> bool:
            """Admin command: go on with the paused actions."""
            self._paused = False
            for action_id in list(self.node_status.running_actions):
                self._extend_action_history(ActionRunning(action_id=action_id))
            return True

        def cancel(self) -> bool:
            """Admin command: stop the running action before its next sample."""
            self._cancelling = True
            return True

    return AssayNode


def run_node(lookup: dict[str, float], *, host: str = "127.0.0.1", port: int = 2000,
             sample_time_s: float = 0.05) -> None:
    """Serve the simulated instrument with madsci's own server until it is stopped."""
    from madsci.common.types.node_types import RestNodeConfig

    node_cls = node_class()
    node_cls.lookup = dict(lookup)
    node_cls.sample_time_s = sample_time_s
    config = RestNodeConfig(node_url=f"http://{host}:{port}/", node_name="loopwell_assay",
                            enable_rate_limiting=False, enable_registry_resolution=False)
    node = node_cls(node_config=config)
    node.start_node()


def main(argv: list[str] | None = None) -> None:
    """Run the node from a shell: a JSON lookup table, a host and a port."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lookup", type=Path, help="JSON object: candidate id -> value")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2000)
    parser.add_argument("--sample-time-s", type=float, default=0.05)
    args = parser.parse_args(argv)
    lookup = {str(k): float(v) for k, v in json.loads(args.lookup.read_text()).items()}
    run_node(lookup, host=args.host, port=args.port, sample_time_s=args.sample_time_s)


if __name__ == "__main__":
    main()
