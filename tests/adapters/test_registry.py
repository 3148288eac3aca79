"""Tests of `adapters.registry`."""

from __future__ import annotations

import httpx
import pytest

from adapters import HttpLab, LabAdapter, SimulatedLab, adapter_kinds, make_adapter
from adapters import registry
from adapters.registry import register_adapter

from .conftest import LOOKUP


@pytest.fixture
def scratch_registry(monkeypatch):
    """Let a test register kinds without leaving them behind."""
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))


def test_known_kinds():
    assert adapter_kinds() == ["http", "simulated"]


def test_make_a_simulated_lab(make_batch, tmp_path):
    lab = make_adapter("simulated", lookup=LOOKUP, noise_sd=0.0, failure_rate=0.0,
                       seed=4, state_path=str(tmp_path / "lab.json"))
    assert isinstance(lab, SimulatedLab) and lab.seed == 4
    job = lab.submit(make_batch(["KO:CD5"])).job_id
    assert lab.collect(job)[0].value == LOOKUP["KO:CD5"]
    assert (tmp_path / "lab.json").exists()


def test_make_an_http_lab_without_touching_the_network():
    lab = make_adapter("http", base_url="http://lab.invalid/api", timeout_s=5, retries=1)
    assert isinstance(lab, HttpLab) and isinstance(lab, LabAdapter)
    assert lab.client.base_url == httpx.URL("http://lab.invalid/api/")
    assert lab.client.timeout == httpx.Timeout(5)
    assert lab.retries == 1
    lab.close()
    assert lab.client.is_closed


def test_an_unknown_kind_lists_the_known_ones():
    message = r"unknown lab adapter kind .sila.; known kinds: http, simulated"
    with pytest.raises(ValueError, match=message):
        make_adapter("sila")


@pytest.mark.parametrize(("kind", "settings"), [
    ("simulated", {}),
    ("simulated", {"lookup": {}, "noise": 1.0}),
    ("http", {"base_url": "http://x", "timeout": 3}),
])
def test_settings_that_do_not_fit_raise(kind, settings):
    with pytest.raises(ValueError, match=f"bad settings for lab adapter '{kind}'"):
        make_adapter(kind, **settings)


def test_registering_a_kind_twice_is_refused(scratch_registry):
    with pytest.raises(ValueError, match="'simulated' is already registered"):
        @register_adapter("simulated")
        def other(**settings):  # pragma: no cover - never registered
            raise AssertionError


def test_a_registered_kind_can_be_made(scratch_registry):
    @register_adapter("echo")
    def make_echo(*, lookup):
        return SimulatedLab(lookup)

    assert "echo" in adapter_kinds()
    assert isinstance(make_adapter("echo", lookup=LOOKUP), SimulatedLab)
