"""A campaign can be corrected, extended and deleted; one run writes it at a time."""

import pytest

from loop.campaign import Campaign, Experiment, SpecError, SqlStore
from loop.campaign.spec import incompatible_changes, spec_changes
from loop.campaign.store.base import CampaignBusy


def _campaign(spec, tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    return Campaign(spec, store, state_dir=tmp_path / "state", compute="local")


def test_spec_changes_are_dotted_paths_and_some_are_compatible():
    old = {"budget": {"rounds": 3, "batch_size": 8}, "lab": {"settings": {"token_env": "A"}},
           "description": "x", "seed": 0}
    new = {"budget": {"rounds": 5, "batch_size": 8}, "lab": {"settings": {"token_env": "B"}},
           "description": "y", "seed": 1}
    assert spec_changes(old, new) == ["budget.rounds", "description", "lab.settings.token_env",
                                      "seed"]
    assert incompatible_changes(old, new) == ["seed"]


def test_a_failed_start_registers_nothing_and_a_fixed_spec_runs(make_spec, tmp_path):
    broken = make_spec(design_space={"table": str(tmp_path / "missing.csv")})
    with pytest.raises(FileNotFoundError):
        _campaign(broken, tmp_path)
    store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    assert store.campaign_names() == []
    fixed = _campaign(make_spec(), tmp_path)
    assert fixed.store.campaign_names() == ["scharenberg-test"]


def test_before_anything_reaches_the_lab_any_change_applies(make_spec, tmp_path):
    first = _campaign(make_spec(), tmp_path)
    first.store.add_experiments([Experiment(id="p", campaign=first.name, round=0,
                                            candidate_id="KO:A", state="proposed")])
    changed = _campaign(make_spec(seed=7), tmp_path)
    assert changed.store.campaign(changed.name).spec["seed"] == 7
    assert changed.store.experiments(changed.name) == []  # proposals of the old spec dropped


def test_after_dispatch_only_compatible_changes_apply(make_spec, tmp_path):
    first = _campaign(make_spec(), tmp_path)
    first.store.add_experiments([Experiment(id="d", campaign=first.name, round=0,
                                            candidate_id="KO:A", state="dispatched")])
    more = _campaign(make_spec(budget={"rounds": 6}, description="six rounds now"), tmp_path)
    record = more.store.campaign(more.name)
    assert record.spec["budget"]["rounds"] == 6 and record.spec["description"] == "six rounds now"
    assert [e.id for e in more.store.experiments(more.name)] == ["d"]
    with pytest.raises(SpecError, match="budget.batch_size cannot change"):
        _campaign(make_spec(budget={"rounds": 6, "batch_size": 5}), tmp_path)


def test_one_run_at_a_time(make_spec, tmp_path):
    a = _campaign(make_spec(), tmp_path)
    b = _campaign(make_spec(), tmp_path)
    with a.writing():
        with pytest.raises(CampaignBusy, match="is being run by"):
            b.run()
    with b.writing():  # released when the first run ended
        pass


def test_a_spec_recorded_before_a_new_field_keeps_its_proposals(make_spec, tmp_path):
    import json

    from sqlalchemy import update

    from loop.campaign.store.sql import campaigns

    first = _campaign(make_spec(), tmp_path)
    first.store.add_experiments([Experiment(id="p", campaign=first.name, round=0,
                                            candidate_id="KO:A", state="proposed")])
    old = {k: v for k, v in first.store.campaign(first.name).spec.items() if k != "schedule"}
    with first.store.engine.begin() as conn:  # as an older loopwell stored it
        conn.execute(update(campaigns).where(campaigns.c.name == first.name)
                     .values(spec=json.dumps(old, sort_keys=True)))
    again = _campaign(make_spec(), tmp_path)
    assert [e.id for e in again.store.experiments(again.name)] == ["p"]
    assert "schedule" in again.store.campaign(again.name).spec
