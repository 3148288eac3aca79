"""A third-party lab adapter, as a plug-in package would ship it (for tests)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from adapters import SimulatedLab, register_adapter


class EchoSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    value: float = 1.0


def register() -> None:
    """Register the 'echo' kind: a lab whose every candidate measures `value`."""

    @register_adapter("echo", settings=EchoSettings)
    def make_echo(settings: EchoSettings) -> SimulatedLab:
        return SimulatedLab(_Always(settings.value))


class _Always(dict):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> float:
        return self.value
