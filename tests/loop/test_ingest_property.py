"""Thousands of generated malformed deliveries at ingest: nothing stored half, the campaign goes on."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loop.campaign import Campaign

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=6)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory, shared_data):
    from tests.loop.conftest import small_spec

    tmp = tmp_path_factory.mktemp("property")
    spec = small_spec(shared_data, name="fuzzed", budget={"rounds": 2, "batch_size": 16},
                      lab={"kind": "manual", "table": None})
    c = Campaign.open(spec, store=f"sqlite:///{tmp / 's.db'}", state_dir=tmp / "state")
    c.ask()
    return c


def _results(ids):
    """A result: well formed for a real experiment, or broken in one of many ways."""
    real = st.sampled_from(ids)
    good = st.fixed_dictionaries({"experiment_id": real,
                                  "value": st.floats(-1e6, 1e6, allow_nan=False)})
    wrong_type = st.fixed_dictionaries({"experiment_id": real, "value": JSON})
    extra_key = st.text(min_size=1, max_size=6).filter(
        lambda k: k not in {"experiment_id", "value"})
    extra = st.builds(lambda e, v, k, x: {"experiment_id": e, "value": v, k: x},
                      real, st.floats(), extra_key, JSON)
    unknown = st.fixed_dictionaries({"experiment_id": st.text(max_size=30),
                                     "value": st.floats()})
    failed = st.fixed_dictionaries({"experiment_id": real, "status": st.just("failed"),
                                    "error": st.text(max_size=30)})
    replicate = st.fixed_dictionaries({"experiment_id": real, "value": st.floats(),
                                       "replicate": st.integers(-3, 3)})
    return st.one_of(good, wrong_type, extra, unknown, failed, replicate, JSON)


@settings(max_examples=1000, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_every_result_is_stored_once_or_quarantined(campaign, data):
    ids = [e.id for e in campaign.store.experiments(campaign.name)]
    delivery = data.draw(st.lists(_results(ids), max_size=6))
    n_before = campaign.store.count_measurements(campaign.name)
    outcomes = campaign.ingest_each(delivery)
    assert len(outcomes) == len(delivery)  # one outcome per item, whatever it was
    assert {o for _, o, _ in outcomes} <= {"stored", "duplicate", "failed", "rejected"}
    n_stored = sum(o == "stored" for _, o, _ in outcomes)
    assert campaign.store.count_measurements(campaign.name) == n_before + n_stored
    for _, outcome, reason in outcomes:
        if outcome == "rejected":
            assert reason and "\n" not in reason
    measured = campaign.store.measurements(campaign.name)
    for m in measured:  # nothing unusable was stored
        assert math.isfinite(m.value) and m.replicate >= 0
    with_value = {m.experiment_id for m in measured}
    for e in campaign.store.experiments(campaign.name):  # done means a value is stored
        assert (e.state == "done") == (e.id in with_value)


def test_the_campaign_goes_on_after_the_fuzzing(campaign):
    owed = campaign.ask()  # whatever the fuzzing left pending is still owed, nothing stuck
    assert set(owed["state"]) <= {"dispatched"}
