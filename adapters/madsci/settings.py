"""How to reach a MADSci node: its URL, the action, timeouts, retries, polling, the job book."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters._text import check_http_url


class MadsciLabSettings(BaseModel):
    """The settings of a `madsci` lab.

    Attributes:
        node_url: The node's REST URL (``http://127.0.0.1:2000``); no credentials in it.
        action: The node's action that measures a batch: it takes
            ``sample_ids`` and ``candidates`` (lists of strings, in the same
            order) and returns ``{"values": {sample_id: value}}`` as its JSON result.
        timeout_s: Seconds to wait for each request to the node.
        retries: How often a request that could not reach the node (a
            connection error, a timeout, HTTP 429 or 5xx) is retried (tried
            `retries + 1` times); the only retries of a lab call (the madsci
            client's own retries are turned off).
        backoff_s: Wait before the first retry; it doubles on each retry (jittered).
        max_unknown_polls: How many polls in a row may find a started action
            ``unknown`` to the node (it restarted and forgot it) before the
            job is reported failed, with that reason.
        state_file: JSON file of the actions this adapter created and started,
            so a run after a crash (kill -9) starts nothing twice. Without it
            the book lives only in memory.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    node_url: str
    action: str = Field("measure", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout_s: float = Field(10.0, gt=0)
    retries: int = Field(3, ge=0, le=20)
    backoff_s: float = Field(0.5, ge=0)
    max_unknown_polls: int = Field(10, ge=1)
    state_file: Path | None = None

    @field_validator("node_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_http_url(value, "http://127.0.0.1:2000", credentials="").rstrip("/")
