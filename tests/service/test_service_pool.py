"""PostgreSQL connections that die in the pool (server restart, idle sessions dropped) are replaced
before a request uses them; busy connections are not pinged on every request."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from spinemets.service import db
from spinemets.service.pgtemp import TempPostgres
from spinemets.service.storage import AssessmentStore
from tests.service.conftest import fresh_pg_url

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(postgres_server: TempPostgres) -> Iterator[tuple[AssessmentStore, TempPostgres]]:
    store = AssessmentStore(fresh_pg_url(postgres_server))
    try:
        yield store, postgres_server
    finally:
        store.close()


def _create(store: AssessmentStore) -> str:
    return store.create(
        {"patient_id": "P1"}, {"ok": True}, author="t", patient_id="P1", ruleset_version="r"
    ).id


def _kill_pooled_connections(store: AssessmentStore, server: TempPostgres) -> int:
    """Terminate every server session of the store's database (what a server restart does to them)."""
    name = store.engine.url.database
    with psycopg.connect(
        f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres", autocommit=True
    ) as c:
        rows = c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


def test_a_connection_killed_while_idle_is_replaced_before_use(
    pg_store: tuple[AssessmentStore, TempPostgres], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, server = pg_store
    first = _create(store)
    assert _kill_pooled_connections(store, server) >= 1
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # every pooled connection counts as idle
    second = _create(store)
    assert {first, second} <= {a.id for a in store.list()}


def test_without_the_idle_check_the_dead_connection_reaches_the_request(
    pg_store: tuple[AssessmentStore, TempPostgres], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counterpart: the check above is what saves the request."""
    store, server = pg_store
    _create(store)
    _kill_pooled_connections(store, server)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
    with pytest.raises(Exception, match=r"terminat|closed|connection"):
        _create(store)


def test_busy_connections_are_not_pinged_on_every_request(
    pg_store: tuple[AssessmentStore, TempPostgres], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = pg_store
    pings: list[object] = []
    real_ping = db._ping
    monkeypatch.setattr(db, "_ping", lambda conn: (pings.append(conn), real_ping(conn)))
    for _ in range(5):
        _create(store)
    assert pings == []  # returned a moment ago: no round trip before reuse
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    for _ in range(3):
        _create(store)
    assert len(pings) >= 3  # idle long enough (here: any time): checked before use
