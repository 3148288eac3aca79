"""Tests of `adapters.registry`: kinds, settings models, plug-ins."""

from __future__ import annotations

import importlib.metadata

import httpx
import pytest
from pydantic import BaseModel, ConfigDict

from adapters import (
    HttpLab,
    HttpLabSettings,
    LabAdapter,
    SimulatedLab,
    SimulatedLabSettings,
    adapter_kinds,
    adapter_settings_model,
    make_adapter,
    register_adapter,
    registry,
    validate_settings,
)

from .conftest import LOOKUP


def _plugins(monkeypatch, *points: tuple[str, str]) -> list[str]:
    """Install fake `loopwell.adapters` entry points; return the groups asked for."""
    asked = []

    def entry_points(*, group: str):
        asked.append(group)
        return [importlib.metadata.EntryPoint(name, value, group) for name, value in points]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    return asked


def test_known_kinds(scratch_registry, monkeypatch):
    _plugins(monkeypatch)
    assert adapter_kinds() == ["http", "manual", "simulated"]


def test_settings_models_by_kind():
    assert adapter_settings_model("http") is HttpLabSettings
    assert adapter_settings_model("simulated") is SimulatedLabSettings
    assert validate_settings("simulated", {"noise_sd": 0.5}) == SimulatedLabSettings(noise_sd=0.5)
    for model in (HttpLabSettings, SimulatedLabSettings):
        assert model.model_config["frozen"] and model.model_config["extra"] == "forbid"


def test_make_a_simulated_lab(make_batch, tmp_path):
    lab = make_adapter("simulated", lookup=LOOKUP, noise_sd=0.0, failure_rate=0.0,
                       seed=4, state_path=str(tmp_path / "lab.json"))
    assert isinstance(lab, SimulatedLab) and lab.seed == 4
    job = lab.submit(make_batch(["KO:CD5"])).job_id
    assert lab.collect(job)[0].value == LOOKUP["KO:CD5"]
    assert (tmp_path / "lab.json").exists()


def test_lookup_and_state_path_are_not_user_settings():
    assert {"lookup", "state_path"}.isdisjoint(SimulatedLabSettings.model_fields)
    with pytest.raises(ValueError, match="lab adapter 'simulated' cannot be made: .*lookup"):
        make_adapter("simulated", noise_sd=0.1)


def test_make_an_http_lab_without_touching_the_network():
    lab = make_adapter("http", base_url="http://lab.invalid/api", timeout_s=5, retries=1)
    assert isinstance(lab, HttpLab) and isinstance(lab, LabAdapter)
    assert lab.client.base_url == httpx.URL("http://lab.invalid/api/")
    assert lab.client.timeout == httpx.Timeout(5)
    assert lab.retries == 1
    lab.close()
    assert lab.client.is_closed


def test_an_unknown_kind_lists_the_known_ones(scratch_registry, monkeypatch):
    asked = _plugins(monkeypatch)
    message = r"unknown lab adapter kind .sila.; known kinds: http, manual, simulated$"
    with pytest.raises(ValueError, match=message):
        make_adapter("sila")
    with pytest.raises(ValueError, match=message):
        adapter_settings_model("sila")
    assert asked == ["loopwell.adapters"]  # looked for plug-ins once


@pytest.mark.parametrize(("kind", "settings", "lines"), [
    ("simulated", {"lookup": {}, "noise": 1.0}, ["noise: Extra inputs are not permitted"]),
    ("simulated", {"lookup": {}, "noise_sd": -1, "failure_rate": "often"},
     ["noise_sd: Input should be greater than or equal to 0",
      "failure_rate: Input should be a valid number"]),
    ("http", {"base_url": "http://x", "timeout": 3}, ["timeout: Extra inputs are not permitted"]),
    ("http", {}, ["base_url: Field required"]),
    ("http", {"base_url": "ftp://x"}, ["base_url: Value error, must be an http:// or https://"]),
])
def test_bad_settings_give_one_line_per_field(kind, settings, lines):
    with pytest.raises(ValueError) as raised:
        make_adapter(kind, **settings)
    got = str(raised.value).splitlines()
    assert len(got) == len(lines)
    for line, expected in zip(got, lines):
        assert line.startswith(f"bad setting for lab adapter '{kind}': {expected}")


def test_registering_a_kind_twice_is_refused(scratch_registry):
    with pytest.raises(ValueError, match="'simulated' is already registered"):
        @register_adapter("simulated", settings=SimulatedLabSettings)
        def other(settings):  # pragma: no cover - never registered
            raise AssertionError


def test_a_factory_parameter_may_not_shadow_a_setting(scratch_registry):
    with pytest.raises(ValueError, match=r"factory parameters \['seed'\]"):
        @register_adapter("twin", settings=SimulatedLabSettings)
        def twin(settings, *, seed):  # pragma: no cover - never registered
            raise AssertionError


def test_a_registered_kind_gets_its_validated_settings(scratch_registry):
    class Knobs(BaseModel):
        model_config = ConfigDict(frozen=True, extra="forbid")
        noise_sd: float = 0.0

    seen = []

    @register_adapter("echo", settings=Knobs)
    def make_echo(settings: Knobs, *, lookup):
        seen.append(settings)
        return SimulatedLab(lookup, noise_sd=settings.noise_sd)

    assert "echo" in adapter_kinds()
    assert isinstance(make_adapter("echo", lookup=LOOKUP, noise_sd="0.5"), SimulatedLab)
    assert seen == [Knobs(noise_sd=0.5)]


def test_a_plug_in_registers_itself_on_first_use(scratch_registry, monkeypatch, make_batch):
    asked = _plugins(monkeypatch, ("echo", "tests.adapters._plugin:register"))
    assert "echo" not in registry._KINDS  # lazy: nothing loaded yet
    lab = make_adapter("echo", value=7.0)
    job = lab.submit(make_batch(["anything"])).job_id
    assert lab.collect(job)[0].value == 7.0
    assert adapter_settings_model("echo").__name__ == "EchoSettings"
    assert adapter_kinds() == ["echo", "http", "manual", "simulated"] and asked == ["loopwell.adapters"]


def test_a_plug_in_module_registers_on_import(scratch_registry, monkeypatch, tmp_path):
    (tmp_path / "loopwell_fake_sila.py").write_text(
        "from tests.adapters._plugin import register\nregister()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _plugins(monkeypatch, ("echo", "loopwell_fake_sila"))
    assert "echo" in adapter_kinds()


def test_a_broken_plug_in_is_named_in_one_line(scratch_registry, monkeypatch):
    _plugins(monkeypatch, ("sila", "loopwell_no_such_module:register"),
             ("echo", "tests.adapters._plugin:register"))
    with pytest.raises(ValueError) as raised:
        make_adapter("sila")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("lab adapter plug-in 'sila' (loopwell_no_such_module:register) "
                              "failed to load: ModuleNotFoundError")
    assert isinstance(make_adapter("echo"), SimulatedLab)  # the others still load
    with pytest.raises(ValueError, match="unknown lab adapter kind 'x'; known kinds: echo, "
                                         "http, manual, simulated; lab adapter plug-in 'sila'"):
        make_adapter("x")


def test_the_manual_lab_hands_out_and_collects_nothing():
    from adapters import BatchRequest, ExperimentRequest, JobStatus, ManualLab

    lab = make_adapter("manual")
    assert isinstance(lab, ManualLab)
    receipt = lab.submit(BatchRequest(campaign="c", round=2, experiments=[
        ExperimentRequest(experiment_id="e", candidate_id="KO:A")]))
    assert (receipt.job_id, receipt.n_accepted) == ("manual-c-r2", 1)
    assert lab.poll(receipt.job_id).status == JobStatus.RUNNING
    assert lab.collect(receipt.job_id) == []
    with pytest.raises(ValueError, match="Extra inputs"):
        make_adapter("manual", base_url="http://lab")
