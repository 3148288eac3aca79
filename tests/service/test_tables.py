"""The service's tables on SQLite and on PostgreSQL (when one is on 127.0.0.1:5432)."""

from __future__ import annotations

from loop.service import tables
from tests.loop.test_store import store  # noqa: F401 - the sqlite/postgresql store fixture


def test_tokens_are_kept_hashed_found_and_revoked(store):  # noqa: F811
    tables.create_tables(store.engine)
    tables.create_tables(store.engine)  # again: a no-op
    lab, secret = tables.create_token(store.engine, "lab", "robot", campaigns=["b", "a"])
    assert lab.campaigns == ("a", "b") and lab.may_use("a") and not lab.may_use("c")
    op, op_secret = tables.create_token(store.engine, tables.Role.OPERATOR, "ana")
    assert op.campaigns is None and op.may_use("anything")
    assert secret != op_secret and secret.startswith("lw_")
    assert tables.find_token(store.engine, secret).name == "robot"
    assert tables.find_token(store.engine, secret + "x") is None
    assert [t.name for t in tables.list_tokens(store.engine)] == ["robot", "ana"]
    assert tables.revoke_token(store.engine, str(op.id)) == 1
    assert tables.revoke_token(store.engine, str(op.id)) == 0
    assert tables.find_token(store.engine, op_secret) is None


def test_the_audit_trail_and_webhooks(store):  # noqa: F811
    tables.create_tables(store.engine)
    tables.record(store.engine, "c1", "ana", "reject", experiment="e1", reason="no reagent")
    tables.record(store.engine, "c2", "bo", "approve", experiments=["e2"])
    trail = tables.audit_trail(store.engine, "c1")
    assert [(a.who, a.action, a.details) for a in trail] == [
        ("ana", "reject", {"experiment": "e1", "reason": "no reagent"})]
    assert trail[0].at.tzinfo is not None
    tables.set_webhook(store.engine, "c1", "http://127.0.0.1:9/hook")
    assert tables.webhook_of(store.engine, "c1") == "http://127.0.0.1:9/hook"
    tables.set_webhook(store.engine, "c1", None)
    assert tables.webhook_of(store.engine, "c1") is None
