"""The `madsci` lab kind: loopwell drives a MADSci REST node (extra ``loopwell[madsci]``).

`MadsciLab` creates, starts and follows a node's measuring action;
`MadsciLabSettings` says where the node is. `adapters.madsci.node` is a
simulated assay instrument as a real MADSci node, for tests and demos.
Importing this package does not import madsci (it is imported when a
`MadsciLab` first talks to its node).

The kind is registered by `register`, which the ``loopwell.adapters`` entry
point ``madsci`` names, so `make_adapter("madsci", ...)` finds it.
"""

from __future__ import annotations

from adapters.madsci.lab import MadsciLab
from adapters.madsci.settings import MadsciLabSettings
from adapters.registry import register_adapter

__all__ = ["MadsciLab", "MadsciLabSettings", "register"]


def register() -> None:
    """Register the `madsci` kind (a no-op if it is registered already)."""
    try:
        @register_adapter("madsci", settings=MadsciLabSettings)
        def make_madsci(settings: MadsciLabSettings) -> MadsciLab:
            """Make a `MadsciLab` (it connects on first use)."""
            return MadsciLab(settings)
    except ValueError as error:
        if "already registered" not in str(error):
            raise
