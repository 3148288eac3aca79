"""The ``plate_folder`` kind, registered through the ``loopwell.adapters`` entry point.

loopwell's own pyproject declares ``plate_folder =
"adapters.plates.plugin:register"`` the way a lab's package declares its own
kinds; the registry calls it the first time a kind it does not know is asked for.
"""

from __future__ import annotations

from adapters.plates.folder import PlateFolderLab
from adapters.plates.settings import PlateFolderSettings
from adapters.registry import adapter_is_registered, register_adapter

KIND = "plate_folder"


def register() -> None:
    """Register the ``plate_folder`` kind (once: a second call does nothing)."""
    if adapter_is_registered(KIND):
        return

    @register_adapter(KIND, settings=PlateFolderSettings)
    def make_plate_folder(settings: PlateFolderSettings) -> PlateFolderLab:
        """Make a `PlateFolderLab` over the settings' inbox and outbox."""
        return PlateFolderLab(settings)
