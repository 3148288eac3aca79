"""The settings of an Opentrons lab (kind ``opentrons``): a robot and a plate reader's folders."""

from __future__ import annotations

from pydantic import Field, field_validator

from adapters._text import check_http_url
from adapters.opentrons_lab.protocol import DeckSettings
from adapters.plates.settings import PlateFolderSettings


class OpentronsSettings(PlateFolderSettings):
    """A plate-folder lab whose plates an Opentrons robot fills.

    Every setting of `PlateFolderSettings` (inbox, outbox, plate format,
    controls, replicates, QC, `job_timeout_s`) applies, plus:

    Attributes:
        base_url: The robot-server, ``http://<robot-ip>:31950``.
        api_version: The ``Opentrons-Version`` header sent with every request.
        timeout_s: Seconds to wait to connect, and for each read or write.
        retries: How often a transient failure of a read is retried.
        backoff_s: Wait before the first retry (doubles, jittered).
        run_timeout_s: A run that has not finished this long after it was
            played is stopped, and its plate failed (None: no limit).
        deck: Robot type, labware, pipette and API level of the protocols.
    """

    base_url: str
    api_version: str = Field("3", pattern=r"^(\*|[0-9]+)$")
    timeout_s: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0, le=20)
    backoff_s: float = Field(0.5, ge=0)
    run_timeout_s: float | None = Field(None, gt=0)
    deck: DeckSettings = DeckSettings()

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_http_url(value, "http://10.0.0.12:31950")
