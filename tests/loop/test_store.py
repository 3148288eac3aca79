import math
import uuid

import pytest
import sqlalchemy

from loop.base import StoreError
from loop.store import Experiment, SqlStore

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_url() -> str | None:
    try:
        engine = sqlalchemy.create_engine(PG_URL)
        with engine.connect():
            pass
        engine.dispose()
    except Exception:
        return None
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
        yield s
        s.close()
        return
    url = _postgres_url()
    if url is None:
        if __import__("os").environ.get("CI"):
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is expected in CI")
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    s = SqlStore(f"{url}?options=-csearch_path%3D{schema}")
    yield s
    s.close()
    with admin.begin() as conn:
        conn.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def _exp(i: int, state: str = "proposed") -> Experiment:
    return Experiment(id=f"c-r0-{i}", campaign="c", round=0, candidate_id=f"KO:G{i}",
                      state=state, predicted_mean=0.1 * i, predicted_sd=1.0)


def test_campaign_is_created_once_and_a_changed_spec_is_refused(store):
    assert store.create_campaign("c", {"a": 1}) is True
    assert store.create_campaign("c", {"a": 1}) is False
    with pytest.raises(StoreError, match="different spec"):
        store.create_campaign("c", {"a": 2})
    assert store.campaign("c")["spec"] == {"a": 1}
    assert store.campaign_names() == ["c"]


def test_experiments_are_inserted_once(store):
    store.create_campaign("c", {})
    assert store.add_experiments([_exp(1), _exp(2)]) == 2
    assert store.add_experiments([_exp(2), _exp(3)]) == 1
    assert [e.id for e in store.experiments("c")] == ["c-r0-1", "c-r0-2", "c-r0-3"]
    assert store.experiment("c-r0-1").predicted_mean == pytest.approx(0.1)


def test_a_repeated_delivery_is_a_no_op(store):
    store.create_campaign("c", {})
    store.add_experiments([_exp(1)])
    assert store.record_measurement("c-r0-1", 0, 2.5) is True
    assert store.record_measurement("c-r0-1", 0, 2.5) is False
    assert store.record_measurement("c-r0-1", 1, 2.7) is True
    values = [(m.replicate, m.value) for m in store.measurements("c")]
    assert values == [(0, 2.5), (1, 2.7)]
    assert store.count_measurements("c") == 2


def test_measurement_for_an_unknown_experiment_is_refused(store):
    store.create_campaign("c", {})
    with pytest.raises(StoreError, match="no experiment"):
        store.record_measurement("nope", 0, 1.0)


def test_state_transitions_follow_the_life_of_an_experiment(store):
    store.create_campaign("c", {})
    store.add_experiments([_exp(1)])
    store.set_state(["c-r0-1"], "approved")
    store.set_state(["c-r0-1"], "dispatched", job_id="job-1")
    assert store.experiment("c-r0-1").job_id == "job-1"
    store.set_state(["c-r0-1"], "done")
    with pytest.raises(StoreError, match="cannot go from done to dispatched"):
        store.set_state(["c-r0-1"], "dispatched")
    assert [e.id for e in store.experiments("c", states=["done"])] == ["c-r0-1"]


def test_rejected_inputs_are_kept_with_their_reason(store):
    store.create_campaign("c", {})
    store.quarantine("c", {"experiment_id": "x", "value": math.nan}, "unknown experiment 'x'")
    (row,) = store.rejected("c")
    assert row["reason"] == "unknown experiment 'x'"
    assert row["payload"]["experiment_id"] == "x"


def test_rounds_merge_their_info(store):
    store.create_campaign("c", {})
    store.start_round("c", 0, {"strategy": "random"})
    store.start_round("c", 0, {"strategy": "ignored"})
    store.update_round("c", 0, {"fit_s": 1.5}, status="done")
    (r,) = store.rounds("c")
    assert r["info"] == {"strategy": "random", "fit_s": 1.5}
    assert r["status"] == "done" and r["finished_at"] is not None
    with pytest.raises(StoreError):
        store.update_round("c", 7, {})
