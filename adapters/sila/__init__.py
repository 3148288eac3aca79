"""The `sila` lab kind: loopwell as a SiLA 2 client (the `sila2` package, extra ``loopwell[sila]``).

`SilaLab` drives a SiLA 2 server's observable measuring command; `SilaLabSettings`
says where the server is. `adapters.sila.instrument` serves a simulated assay
instrument over real SiLA 2, for tests and demos. Importing this package does
not import sila2 (it is imported when a `SilaLab` first connects).

The kind is registered by `register`, which the ``loopwell.adapters`` entry
point ``sila`` names, so `make_adapter("sila", ...)` finds it.
"""

from __future__ import annotations

from adapters.registry import register_adapter
from adapters.sila.lab import SilaLab
from adapters.sila.settings import SilaLabSettings

__all__ = ["SilaLab", "SilaLabSettings", "register"]


def register() -> None:
    """Register the `sila` kind (a no-op if it is registered already)."""
    try:
        @register_adapter("sila", settings=SilaLabSettings)
        def make_sila(settings: SilaLabSettings) -> SilaLab:
            """Make a `SilaLab` (it connects on first use)."""
            return SilaLab(settings)
    except ValueError as error:
        if "already registered" not in str(error):
            raise
