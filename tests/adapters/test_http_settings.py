"""Tests of `HttpLabSettings`: TLS, tokens from the environment or a file, no secrets shown."""

from __future__ import annotations

import certifi
import httpx
import pytest
from pydantic import ValidationError

from adapters import HttpLab, HttpLabSettings, LabRejected, LabUnavailable, make_adapter

TOKEN = "s3cr3t-t0ken-value"


def _echo_authorization(status: int):
    """A node that quotes the Authorization header it got back in its error."""
    seen = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        return httpx.Response(status, json={"detail": f"bad {request.headers['Authorization']}"})

    return app, seen


def test_defaults():
    settings = HttpLabSettings(base_url="https://lab.test")
    assert (settings.timeout_s, settings.retries, settings.verify) == (30.0, 3, True)
    assert (settings.max_response_bytes, settings.max_results) == (10_000_000, 50_000)
    with pytest.raises(ValidationError):
        settings.retries = 5  # frozen


def test_a_token_from_the_environment_is_sent_and_never_shown(monkeypatch):
    monkeypatch.setenv("LAB_TOKEN", TOKEN)
    settings = HttpLabSettings(base_url="https://lab.test", token_env="LAB_TOKEN")
    app, seen = _echo_authorization(403)
    lab = HttpLab.from_settings(settings, transport=httpx.MockTransport(app))
    with pytest.raises(LabRejected) as raised:
        lab.poll("j")
    assert seen == [f"Bearer {TOKEN}"]
    for text in (str(raised.value), raised.value.detail, repr(settings),
                 str(settings.model_dump()), repr(lab), repr(lab.client.headers)):
        assert TOKEN not in text
    assert "bad Bearer ***" in str(raised.value)


def test_the_token_is_redacted_from_unavailable_errors_too(monkeypatch):
    monkeypatch.setenv("LAB_TOKEN", TOKEN)
    settings = HttpLabSettings(base_url="https://lab.test", token_env="LAB_TOKEN", retries=0)
    app, _ = _echo_authorization(503)
    lab = HttpLab.from_settings(settings, transport=httpx.MockTransport(app))
    with pytest.raises(LabUnavailable) as raised:
        lab.collect("j")
    assert TOKEN not in str(raised.value) and "***" in str(raised.value)


def test_a_missing_token_variable_is_one_line_naming_it(monkeypatch):
    monkeypatch.delenv("LAB_TOKEN", raising=False)
    with pytest.raises(ValueError) as raised:
        make_adapter("http", base_url="https://lab.test", token_env="LAB_TOKEN")
    assert str(raised.value) == ("token_env: environment variable LAB_TOKEN is not set or "
                                 "empty; export it with the lab's token")


def test_a_token_from_a_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(f"  {TOKEN}\n")
    app, seen = _echo_authorization(404)
    lab = HttpLab.from_settings(HttpLabSettings(base_url="https://lab.test", token_file=path),
                                transport=httpx.MockTransport(app))
    with pytest.raises(LabRejected):
        lab.cancel("j")
    assert seen == [f"Bearer {TOKEN}"]
    path.write_text("\n")
    with pytest.raises(ValueError, match=r"token_file: .* is empty"):
        make_adapter("http", base_url="https://lab.test", token_file=str(path))


def test_a_missing_token_file_is_a_bad_setting(tmp_path):
    with pytest.raises(ValueError, match=r"^bad setting for lab adapter 'http': token_file: "
                                         r"Value error, no file at .*nope$"):
        make_adapter("http", base_url="https://lab.test", token_file=str(tmp_path / "nope"))


def test_an_authorization_header_setting_is_refused_without_echoing_it():
    with pytest.raises(ValueError) as raised:
        make_adapter("http", base_url="https://lab.test",
                     headers={"authorization": f"Bearer {TOKEN}", "X-Lab": "a"})
    message = str(raised.value)
    assert TOKEN not in message and "\n" not in message
    assert "headers: Value error, authorization may not be a plain setting" in message
    assert "token_env" in message and "token_file" in message


def test_plain_headers_are_sent():
    seen = []

    def app(request):
        seen.append(request.headers["X-Lab-Client"])
        return httpx.Response(204)

    settings = HttpLabSettings(base_url="https://lab.test", headers={"X-Lab-Client": "loopwell"})
    HttpLab.from_settings(settings, transport=httpx.MockTransport(app)).cancel("j")
    assert seen == ["loopwell"]


def test_one_token_source_only(tmp_path, monkeypatch):
    path = tmp_path / "token"
    path.write_text(TOKEN)
    with pytest.raises(ValueError, match="settings: Value error, give token_env or "
                                         "token_file, not both"):
        make_adapter("http", base_url="https://lab.test", token_env="X", token_file=str(path))


@pytest.mark.parametrize("url", ["https://user:pw@lab.test", "https://:pw@lab.test"])
def test_credentials_in_the_url_are_refused(url):
    with pytest.raises(ValueError, match="base_url: Value error, must not hold credentials") \
            as raised:
        make_adapter("http", base_url=url)
    assert "pw" not in str(raised.value)


def test_tls_verification_can_be_turned_off():
    lab = make_adapter("http", base_url="https://lab.test", verify=False)
    assert isinstance(lab, HttpLab)
    lab.close()


def test_tls_with_a_ca_bundle():
    lab = make_adapter("http", base_url="https://lab.test", verify=certifi.where())
    assert isinstance(lab, HttpLab)
    lab.close()


def test_a_missing_ca_bundle_is_a_bad_setting(tmp_path):
    with pytest.raises(ValueError, match=r"verify: Value error, no file at"):
        make_adapter("http", base_url="https://lab.test", verify=str(tmp_path / "ca.pem"))


@pytest.mark.parametrize("field", ["verify", "cert"])
def test_a_file_that_is_not_pem_is_one_line(tmp_path, field):
    path = tmp_path / "junk.pem"
    path.write_text("not a certificate")
    with pytest.raises(ValueError) as raised:
        make_adapter("http", base_url="https://lab.test", **{field: str(path)})
    assert str(raised.value).startswith(f"{field}: cannot load")
    assert "\n" not in str(raised.value)
