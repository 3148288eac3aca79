"""A real campaign round through a plate-folder lab: dispatch, a rejected plate, a good read."""

from __future__ import annotations

from adapters.plates import Role

from ..loop.conftest import small_spec
from .test_plates_folder import _drop, _long, _values


def test_a_campaign_round_goes_out_as_a_plate_and_comes_back_from_the_reader(
        shared_data, tmp_path, scratch_registry):
    from loop.campaign import Campaign, Experiment, SqlStore

    settings = {"inbox": str(tmp_path / "inbox"), "outbox": str(tmp_path / "outbox"),
                "settle_s": 0, "positive_controls": ["KO:CD3E"],
                "negative_controls": ["KO:AAVS1"]}
    spec = small_spec(shared_data, budget={"rounds": 1, "batch_size": 6},
                      lab={"kind": "plate_folder", "table": None, "settings": settings,
                           "timeout_s": 0})
    store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    campaign = Campaign(spec, store, state_dir=tmp_path / "state", compute="local")
    # the round's batch, approved (how it was proposed is not this test's business)
    campaign.store.start_round(spec.name, 0)
    campaign.store.add_experiments([
        Experiment(id=f"{spec.name}-r0-{cid}", campaign=spec.name, round=0, candidate_id=cid,
                   state="approved") for cid in campaign.design.ids[:6]])
    job = campaign.dispatch(0)
    assert campaign.dispatch(0) == job  # dispatched once
    (plate,) = campaign.lab.plates(job)
    assert sum(w.role == Role.SAMPLE for w in plate.wells) == 12
    assert campaign.collect(0) == 0

    _drop(campaign.lab.settings, "bad.csv", _long(_values(plate, spread=30.0), plate.plate_id))
    assert campaign.collect(0) == 0
    (quarantined,) = campaign.store.rejected(spec.name)
    assert "Z'" in quarantined.reason and "not ingested" in quarantined.reason
    assert {e.state for e in campaign.store.experiments(spec.name)} == {"dispatched"}

    _drop(campaign.lab.settings, "good.csv", _long(_values(plate), plate.plate_id))
    assert campaign.collect(0) == 12
    assert {e.state for e in campaign.store.experiments(spec.name)} == {"done"}
    assert campaign.open_experiments(0) == []


def test_the_lab_sections_of_docs_labs_md_validate(scratch_registry):
    import re
    from pathlib import Path

    import yaml

    from loop.campaign.spec import LabSpec

    text = (Path(__file__).resolve().parents[2] / "docs" / "labs.md").read_text()
    blocks = [yaml.safe_load(b)["lab"] for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]
    kinds = [LabSpec.model_validate(lab).kind for lab in blocks]
    assert kinds == ["plate_folder", "opentrons", "sila", "madsci", "http"]
