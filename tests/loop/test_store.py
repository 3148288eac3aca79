import math
import uuid

import pytest
import sqlalchemy

from loop.campaign import Experiment, RoundStatus, SqlStore, Store, StoreError

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
    assert store.campaign("c").spec == {"a": 1}
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
    values = [(m.round, m.replicate, m.value) for m in store.measurements("c")]
    assert values == [(0, 0, 2.5), (0, 1, 2.7)]
    assert store.measurement_value("c-r0-1", 1) == 2.7
    assert store.measurement_value("c-r0-1", 5) is None
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


def test_rejected_inputs_are_kept_once_with_their_reason(store):
    store.create_campaign("c", {})
    payload = {"experiment_id": "x", "value": math.nan}
    assert store.quarantine("c", payload, "unknown experiment 'x'") is True
    # the same bad input delivered again is not kept twice
    assert store.quarantine("c", payload, "unknown experiment 'x'") is False
    (row,) = store.rejected("c")
    assert row.reason == "unknown experiment 'x'"
    assert row.payload["experiment_id"] == "x"


def test_round_summaries_merge_their_fields(store):
    store.create_campaign("c", {})
    store.start_round("c", 0)
    store.update_round("c", 0, strategy="random")
    store.start_round("c", 0)  # a no-op: the round has started
    summary = store.update_round("c", 0, fit_s=1.5, strategy=None, status=RoundStatus.DONE)
    (r,) = store.rounds("c")
    assert r == summary
    assert (r.round, r.strategy, r.fit_s, r.status) == (0, "random", 1.5, "done")
    with pytest.raises(StoreError):
        store.update_round("c", 7)


def test_measurements_are_queried_by_round(store):
    store.create_campaign("c", {})
    store.add_experiments([_exp(1), Experiment(id="c-r1-2", campaign="c", round=1,
                                               candidate_id="KO:G2", state="proposed")])
    store.record_measurement("c-r0-1", 0, 1.0)
    store.record_measurement("c-r1-2", 0, 2.0)
    assert [m.value for m in store.measurements("c", round=1)] == [2.0]
    assert [e.id for e in store.experiments("c", round=1, states=["proposed"])] == ["c-r1-2"]


def test_a_campaign_is_deleted_with_everything_recorded_for_it(store):
    store.create_campaign("c", {})
    store.create_campaign("d", {})
    store.add_experiments([_exp(1)])
    store.record_measurement("c-r0-1", 0, 1.0)
    store.start_round("c", 0)
    store.quarantine("c", {}, "bad")
    assert store.delete_campaign("c") is True
    assert store.campaign("c") is None and store.campaign_names() == ["d"]
    assert store.measurements("c") == [] and store.rounds("c") == [] and store.rejected("c") == []
    assert store.delete_campaign("c") is False


def test_one_writer_holds_the_lock(store):
    store.create_campaign("c", {})
    assert store.acquire_lock("c", "run-a", ttl_s=60) is None
    assert store.acquire_lock("c", "run-a", ttl_s=60) is None  # renewing our own
    assert store.acquire_lock("c", "run-b", ttl_s=60) == "run-a"
    # a holder known to be gone (e.g. killed) is taken over
    assert store.acquire_lock("c", "run-b", ttl_s=60, is_stale=lambda h: h == "run-a") is None
    store.release_lock("c", "run-a")  # not the holder any more: nothing happens
    assert store.acquire_lock("c", "run-a", ttl_s=60) == "run-b"
    store.release_lock("c", "run-b")
    assert store.acquire_lock("c", "run-a", ttl_s=60) is None


def test_an_expired_lock_is_taken_over(store):
    store.create_campaign("c", {})
    assert store.acquire_lock("c", "run-a", ttl_s=-1) is None
    assert store.acquire_lock("c", "run-b", ttl_s=60) is None


def test_the_store_satisfies_the_protocol(store):
    assert isinstance(store, Store)


def test_the_store_never_shows_its_password():
    url = _postgres_url()
    if url is None:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    # the server trusts local connections, so any password connects
    store = SqlStore(url.replace("postgres@", "postgres:s3cret@"))
    assert "s3cret" not in store.display_url and "***" in store.display_url
    store.close()


def test_an_older_store_gains_the_new_columns(tmp_path):
    """A store written before measurements knew their round opens, and learns them."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        for stmt in (
            "CREATE TABLE campaigns (name VARCHAR(64) PRIMARY KEY, spec TEXT NOT NULL, "
            "status VARCHAR(16) NOT NULL, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL)",
            "CREATE TABLE experiments (id VARCHAR(200) PRIMARY KEY, campaign VARCHAR(64) NOT NULL, "
            "round INTEGER NOT NULL, candidate_id VARCHAR(200) NOT NULL, state VARCHAR(16) NOT NULL, "
            "job_id VARCHAR(200), predicted_mean FLOAT, predicted_sd FLOAT, note TEXT, "
            "updated_at DATETIME NOT NULL)",
            "CREATE TABLE measurements (experiment_id VARCHAR(200), replicate INTEGER, "
            "campaign VARCHAR(64) NOT NULL, candidate_id VARCHAR(200) NOT NULL, value FLOAT NOT NULL, "
            "received_at DATETIME NOT NULL, PRIMARY KEY (experiment_id, replicate))",
            "INSERT INTO campaigns VALUES ('c', '{}', 'done', '2026-01-01', '2026-01-01')",
            "INSERT INTO experiments VALUES ('c-r2-G', 'c', 2, 'KO:G', 'done', NULL, NULL, NULL, "
            "NULL, '2026-01-01')",
            "INSERT INTO measurements VALUES ('c-r2-G', 0, 'c', 'KO:G', 1.5, '2026-01-01')",
        ):
            conn.execute(sqlalchemy.text(stmt))
    engine.dispose()
    store = SqlStore(url)
    (m,) = store.measurements("c", round=2)
    assert (m.candidate_id, m.value) == ("KO:G", 1.5)
    assert store.experiment("c-r2-G").acquisition is None
    store.close()


def test_two_spellings_of_one_sqlite_file_are_one_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = SqlStore("sqlite:///store.db")
    b = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    assert a.identity == b.identity


def test_counts_by_state_and_per_campaign(store):
    store.create_campaign("c", {})
    store.create_campaign("d", {})
    store.add_experiments([_exp(1), _exp(2)])
    store.set_state(["c-r0-2"], "approved")
    store.start_round("c", 0)
    store.record_measurement("c-r0-1", 0, 1.0)
    store.quarantine("c", {}, "bad")
    assert store.count_experiments("c") == {"proposed": 1, "approved": 1}
    assert store.count_rejected("c") == 1 and store.count_rejected("d") == 0
    assert store.campaign_counts() == {"c": (1, 1)}
    assert [r.name for r in store.campaigns()] == ["c", "d"]
