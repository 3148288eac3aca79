"""How to reach a SiLA 2 server: address, TLS, timeouts, retries, the saved job book."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class SilaLabSettings(BaseModel):
    """The settings of a `sila` lab.

    Attributes:
        host: The SiLA server's host name or IP address.
        port: Its gRPC port.
        insecure: Talk without TLS. The SiLA 2 standard requires TLS: only for
            a server on loopback in tests.
        root_certs: PEM file of the CA that signed the server's certificate
            (a lab's own CA, or the server's self-signed certificate); without
            it the system's CAs are used.
        client_cert: PEM certificate chain for servers that authenticate
            clients by TLS (with `client_key`).
        client_key: PEM private key of `client_cert`.
        feature: Identifier of the feature with the measuring command.
        command: Identifier of the observable command that measures a batch
            (parameters ``Samples`` [(SampleId, Candidate)] and ``BatchKey``;
            response ``Values`` [(SampleId, Value)]; intermediate response
            ``SamplesDone``).
        timeout_s: Deadline of each call to the server, in seconds.
        retries: How often a call that could not reach the server is retried
            (tried `retries + 1` times); the only retries of a lab call.
        backoff_s: Wait before the first retry; it doubles on each retry (jittered).
        state_file: JSON file of the jobs this adapter sent (their idempotency
            keys and command execution UUIDs), so a run after a crash sends
            nothing twice. Without it the book lives only in memory and the
            server's batch keys are the only guard.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    insecure: bool = False
    root_certs: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    feature: str = Field("AssayInstrument", pattern=r"^[A-Z][A-Za-z0-9]*$")
    command: str = Field("MeasureBatch", pattern=r"^[A-Z][A-Za-z0-9]*$")
    timeout_s: float = Field(10.0, gt=0)
    retries: int = Field(3, ge=0, le=20)
    backoff_s: float = Field(0.5, ge=0)
    state_file: Path | None = None

    @field_validator("root_certs", "client_cert", "client_key")
    @classmethod
    def _check_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no file at {value}")
        return value

    @model_validator(mode="after")
    def _tls_fits(self) -> SilaLabSettings:
        if self.insecure and (self.root_certs or self.client_cert or self.client_key):
            raise ValueError("insecure: a connection without TLS takes no root_certs, "
                             "client_cert or client_key; drop them or set insecure: false")
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together: give both or neither")
        return self
