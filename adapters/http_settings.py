"""The settings of an HTTP lab, and the `httpx.Client` they make.

Secrets are never settings: a bearer token is read, when the client is made,
from the environment variable named by `token_env` or the file named by
`token_file`, so a campaign spec (and the store that keeps it) holds only
those names. Neither the settings, their repr, nor any error shows the token.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import certifi
import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters._text import check_http_url, clip

_SECRET_HEADERS = {"authorization", "proxy-authorization"}


class HttpLabSettings(BaseModel):
    """How to reach one lab node over HTTP.

    Attributes:
        base_url: The node's URL (``https://lab.example.org``); no credentials in it.
        base_path: Path of the node's API under `base_url`.
        timeout_s: Seconds to wait to connect, and for each read or write.
        retries: How often a transient failure is retried (tried `retries + 1` times).
        backoff_s: Wait before the first retry; it doubles on each retry (jittered).
        verify: Whether to verify the node's TLS certificate, or the path of a
            CA bundle (PEM) to verify it with (a lab's own CA).
        cert: Path of a client certificate (PEM holding the certificate and its
            key), for nodes that authenticate clients by TLS.
        token_env: NAME of an environment variable holding a bearer token.
        token_file: Path of a file holding a bearer token (surrounding
            whitespace ignored).
        headers: Extra request headers that are not secret (no Authorization:
            use `token_env` or `token_file`).
        max_response_bytes: Largest response read; a larger delivery of results
            is rejected whole, unread.
        max_results: Most results read from one delivery; the rest are
            rejected as one. 50,000 holds a genome-wide arrayed round (about
            20,000 genes) in duplicate, and about what fits in 10 MB (a result
            is about 115 bytes), while bounding what one poll can quarantine.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    base_path: str = "/"
    timeout_s: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0, le=20)
    backoff_s: float = Field(0.5, ge=0)
    verify: bool | Path = True
    cert: Path | None = None
    token_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    token_file: Path | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    max_response_bytes: int = Field(10_000_000, gt=0)
    max_results: int = Field(50_000, gt=0)

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_http_url(value, "https://lab.example.org",
                              credentials="; use token_env or token_file")

    @field_validator("headers")
    @classmethod
    def _refuse_secret_headers(cls, value: dict[str, str]) -> dict[str, str]:
        secret = sorted(name for name in value if name.lower() in _SECRET_HEADERS)
        if secret:
            raise ValueError(f"{', '.join(secret)} may not be a plain setting; put the "
                             "token in an environment variable named by token_env, or "
                             "in a file named by token_file")
        return value

    @field_validator("verify", "cert", "token_file")
    @classmethod
    def _check_file(cls, value: bool | Path | None) -> bool | Path | None:
        if isinstance(value, Path) and not value.is_file():
            raise ValueError(f"no file at {value}")
        return value

    @model_validator(mode="after")
    def _one_token_source(self) -> HttpLabSettings:
        if self.token_env and self.token_file:
            raise ValueError("give token_env or token_file, not both")
        return self


def read_token(settings: HttpLabSettings) -> str | None:
    """Return the bearer token the settings point to, if any.

    Raises:
        ValueError: If the variable is not set or the file cannot be read or
            is empty (one line naming the variable or the file, never the token).
    """
    if settings.token_env:
        token = os.environ.get(settings.token_env, "").strip()
        if not token:
            raise ValueError(f"token_env: environment variable {settings.token_env} is not "
                             "set or empty; export it with the lab's token")
        return token
    if settings.token_file:
        try:
            token = settings.token_file.read_text().strip()
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"token_file: cannot read {settings.token_file} "
                             f"({type(error).__name__})") from None
        if not token:
            raise ValueError(f"token_file: {settings.token_file} is empty; "
                             "write the lab's token in it")
        return token
    return None


def make_client(settings: HttpLabSettings, token: str | None = None, *,
                transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """Return an `httpx.Client` for the node, sending `token` as a bearer token.

    Raises:
        ValueError: If the CA bundle or client certificate cannot be loaded.
    """
    headers = dict(settings.headers)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=settings.base_url, timeout=settings.timeout_s,
                        headers=headers, verify=_tls(settings), transport=transport)


def _tls(settings: HttpLabSettings) -> bool | ssl.SSLContext:
    if settings.verify is False:
        if settings.cert is None:
            return False
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif settings.verify is True and settings.cert is None:
        return True
    else:
        cafile = certifi.where() if settings.verify is True else str(settings.verify)
        try:
            context = ssl.create_default_context(cafile=cafile)
        except (ssl.SSLError, OSError) as error:
            raise ValueError(f"verify: cannot load the CA bundle {cafile} "
                             f"({_describe(error)})") from None
    if settings.cert is not None:
        try:
            context.load_cert_chain(str(settings.cert))
        except (ssl.SSLError, OSError) as error:
            raise ValueError(f"cert: cannot load the client certificate {settings.cert} "
                             f"({_describe(error)}); it must be PEM with its key") from None
    return context


def _describe(error: BaseException) -> str:
    return clip(str(error), 160) or type(error).__name__
