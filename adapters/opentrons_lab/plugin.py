"""The ``opentrons`` kind, registered through the ``loopwell.adapters`` entry point."""

from __future__ import annotations

from adapters.opentrons_lab.lab import OpentronsLab
from adapters.opentrons_lab.settings import OpentronsSettings
from adapters.registry import adapter_is_registered, register_adapter

KIND = "opentrons"


def register() -> None:
    """Register the ``opentrons`` kind (once: a second call does nothing)."""
    if adapter_is_registered(KIND):
        return

    @register_adapter(KIND, settings=OpentronsSettings)
    def make_opentrons(settings: OpentronsSettings) -> OpentronsLab:
        """Make an `OpentronsLab` with its own client to the robot (closed by `close`)."""
        return OpentronsLab.from_settings(settings)
