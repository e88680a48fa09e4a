"""AssessmentStore against SQLite and a real PostgreSQL server: versions, search, soft delete, audit."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from spinemets.errors import InvalidInputError
from spinemets.service import audit
from spinemets.service.db import current_revision, head_revision
from spinemets.service.schema import AssessmentRow
from spinemets.service.storage import AssessmentDeletedError, AssessmentNotFoundError, AssessmentStore


def _patient(pid: str, day: str = "2026-03-01", kps: int = 70) -> dict:
    return {"patient_id": pid, "assessment_date": day, "performance": {"kps": kps}}


def _create(
    store: AssessmentStore, pid: str = "P1", day: str = "2026-03-01", kps: int = 70, author: str = "dr.a"
):
    return store.create(
        _patient(pid, day, kps), {"kps_seen": kps}, author=author, patient_id=pid, ruleset_version="rules 1"
    )


def test_store_migrates_to_head_on_open(store: AssessmentStore) -> None:
    assert current_revision(store.engine) == head_revision()
    # opening again on a migrated database is a no-op
    AssessmentStore(store.url).close()
    assert current_revision(store.engine) == head_revision()


def test_create_then_get_round_trips_inputs_outputs_and_provenance(store: AssessmentStore) -> None:
    created = _create(store, "P1", kps=60)
    got = store.get(created.id)
    assert got == created
    assert (got.version, got.author, got.ruleset_version, got.deleted) == (1, "dr.a", "rules 1", False)
    assert got.inputs == _patient("P1", kps=60)
    assert got.outputs == {"kps_seen": 60}
    assert got.assessment_date == dt.date(2026, 3, 1)
    assert got.created_at.tzinfo is not None


def test_new_version_never_overwrites_the_earlier_one(store: AssessmentStore) -> None:
    v1 = _create(store, "P1", kps=60)
    v2 = store.new_version(v1.id, _patient("P1", kps=40), {"kps_seen": 40}, author="dr.b")
    assert (v2.id, v2.version, v2.author, v2.ruleset_version) == (v1.id, 2, "dr.b", "rules 1")
    assert store.get(v1.id) == v2
    assert store.get(v1.id, 1) == v1
    assert [v.version for v in store.versions(v1.id)] == [1, 2]
    assert [v.outputs["kps_seen"] for v in store.versions(v1.id)] == [60, 40]


def test_new_version_moves_the_assessment_date_stored_as_a_create_stores_it(store: AssessmentStore) -> None:
    # The head row's date and latest version are updated in the new version's write batch; the
    # stored text (SQLite keeps dates as text) is the same as a create with that date writes.
    moved = _create(store, "P1", day="2026-03-01")
    store.new_version(moved.id, _patient("P1", day="2026-03-05"), {}, author="dr.b")
    created = _create(store, "P2", day="2026-03-05")
    with store.engine.connect() as conn:
        rows = {
            r[0]: r[1]
            for r in conn.execute(
                text("SELECT id, CAST(assessment_date AS TEXT) || '/' || latest_version FROM assessments")
            )
        }
    assert rows == {moved.id: "2026-03-05/2", created.id: "2026-03-05/1"}
    assert store.get(moved.id).assessment_date == dt.date(2026, 3, 5)
    assert audit.verify(store.engine).ok


def test_expected_version_guards_against_concurrent_edits(store: AssessmentStore) -> None:
    from spinemets.service.storage import VersionConflictError

    v1 = _create(store)
    store.new_version(v1.id, _patient("P1", kps=50), {}, author="dr.b", expected_version=1)
    with pytest.raises(VersionConflictError, match="expected_version must be the latest version, 2"):
        store.new_version(v1.id, _patient("P1", kps=40), {}, author="dr.c", expected_version=1)
    assert [v.version for v in store.versions(v1.id)] == [1, 2]


def test_database_refuses_to_update_or_delete_a_stored_version(store: AssessmentStore) -> None:
    v1 = _create(store)
    for stmt in (
        "UPDATE assessment_versions SET author = 'mallory'",
        "DELETE FROM assessment_versions",
        "DELETE FROM audit_log",
        "UPDATE audit_log SET actor = 'mallory'",
    ):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(stmt))
    assert store.get(v1.id).author == "dr.a"


def test_list_searches_by_patient_and_inclusive_date_range(store: AssessmentStore) -> None:
    a = _create(store, "P1", "2026-01-10")
    b = _create(store, "P1", "2026-02-10")
    c = _create(store, "P2", "2026-02-10")
    assert {s.id for s in store.list(patient_id="P1")} == {a.id, b.id}
    assert {s.id for s in store.list(date_from=dt.date(2026, 2, 10))} == {b.id, c.id}
    assert {s.id for s in store.list(date_to=dt.date(2026, 1, 10))} == {a.id}
    assert {
        s.id for s in store.list(patient_id="P1", date_from=dt.date(2026, 2, 1), date_to=dt.date(2026, 2, 28))
    } == {b.id}
    assert store.list(patient_id="nobody") == []


def test_list_is_newest_first_shows_latest_version_and_pages(store: AssessmentStore) -> None:
    ids = [_create(store, f"P{i}").id for i in range(5)]
    store.new_version(ids[0], _patient("P0", kps=50), {"kps_seen": 50}, author="dr.a")
    listed = store.list()
    assert listed[0].id == ids[0] and listed[0].version == 2
    assert [s.id for s in listed[1:]] == ids[:0:-1]
    assert [s.id for s in store.list(limit=2, offset=1)] == [ids[4], ids[3]]
    assert store.count() == 5


def test_list_rejects_bad_paging_naming_the_field(store: AssessmentStore) -> None:
    with pytest.raises(InvalidInputError, match="limit must be an integer from 1 to 500; got 0"):
        store.list(limit=0)
    with pytest.raises(InvalidInputError, match="offset"):
        store.list(offset=-1)
    with pytest.raises(InvalidInputError, match="date_from"):
        store.list(date_from=dt.date(2026, 2, 1), date_to=dt.date(2026, 1, 1))


def test_soft_delete_hides_from_lists_keeps_history_and_is_audited(store: AssessmentStore) -> None:
    kept = _create(store, "P1")
    gone = _create(store, "P1")
    before = dt.datetime.now(dt.UTC)
    store.delete(gone.id, author="dr.c")
    after = dt.datetime.now(dt.UTC)
    with store.engine.connect() as conn:
        row = conn.execute(
            select(AssessmentRow.deleted, AssessmentRow.deleted_at, AssessmentRow.deleted_by).where(
                AssessmentRow.id == gone.id
            )
        ).one()
    # who and when, as the head row keeps them (SQLite returns the UTC time without its zone)
    deleted_at = row.deleted_at if row.deleted_at.tzinfo else row.deleted_at.replace(tzinfo=dt.UTC)
    assert row.deleted is True and row.deleted_by == "dr.c" and before <= deleted_at <= after
    assert [s.id for s in store.list(patient_id="P1")] == [kept.id]
    assert {s.id for s in store.list(patient_id="P1", include_deleted=True)} == {kept.id, gone.id}
    assert store.get(gone.id).deleted is True
    assert store.versions(gone.id)[0].inputs == gone.inputs
    # a named version of a deleted assessment is read whole, marked deleted (the API serves it so)
    named = store.get(gone.id, 1)
    assert (named.version, named.deleted, named.inputs, named.outputs) == (1, True, gone.inputs, gone.outputs)
    entry = audit.entries(store.engine, object_id=gone.id)[-1]
    assert (entry.action, entry.actor, entry.details) == ("assessment.delete", "dr.c", {"last_version": 1})
    with pytest.raises(AssessmentDeletedError):
        store.new_version(gone.id, _patient("P1"), {}, author="dr.c")
    with pytest.raises(AssessmentDeletedError):
        store.delete(gone.id, author="dr.c")


def test_unknown_ids_and_versions_are_named(store: AssessmentStore) -> None:
    with pytest.raises(AssessmentNotFoundError, match="assessment_id must be the id of a stored assessment"):
        store.get("no-such-id")
    v1 = _create(store)
    with pytest.raises(AssessmentNotFoundError, match="version must be a version from 1 to 1; got 7"):
        store.get(v1.id, 7)
    with pytest.raises(AssessmentNotFoundError):
        store.new_version("no-such-id", {}, {}, author="x")
    with pytest.raises(AssessmentNotFoundError):
        store.delete("no-such-id", author="x")


def test_every_write_is_in_the_audit_chain_without_patient_data(store: AssessmentStore) -> None:
    v1 = _create(store, "SECRET-PID")
    store.new_version(v1.id, _patient("SECRET-PID", kps=40), {"x": 1}, author="dr.b")
    store.delete(v1.id, author="dr.c")
    log = audit.entries(store.engine)
    assert [e.action for e in log] == ["assessment.create", "assessment.new_version", "assessment.delete"]
    assert [e.seq for e in log] == [1, 2, 3]
    assert log[1].prev_hash == log[0].hash and log[2].prev_hash == log[1].hash
    assert all("SECRET-PID" not in e.model_dump_json() for e in log)
    report = audit.verify(store.engine)
    assert report.ok and report.entries == 3 and report.versions_checked == 2


def test_a_versions_audit_entry_names_its_author_rules_and_stored_content(store: AssessmentStore) -> None:
    # An auditor reading the log alone must be able to tell which content each version stored.
    v1 = _create(store, "P1", author="dr.a")
    store.new_version(v1.id, _patient("P1", kps=40), {"x": 1}, author="dr.b", ruleset_version="rules 2")
    with store.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT version, content_sha256 FROM assessment_versions ORDER BY version")
        ).all()
    entries = [e for e in audit.entries(store.engine) if e.object_id == v1.id]
    assert [(e.action, e.actor, e.object_type) for e in entries] == [
        ("assessment.create", "dr.a", "assessment"),
        ("assessment.new_version", "dr.b", "assessment"),
    ]
    assert [e.details for e in entries] == [
        {"version": 1, "content_sha256": stored[0][1], "ruleset_version": "rules 1"},
        {"version": 2, "content_sha256": stored[1][1], "ruleset_version": "rules 2"},
    ]
    assert len({h for _, h in stored}) == 2


def test_concurrent_writers_keep_one_unbroken_chain(store: AssessmentStore) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                a = _create(store, f"W{n}-{i}")
                store.new_version(a.id, _patient(f"W{n}-{i}", kps=50), {"v": 2}, author=f"w{n}")
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count() == 60
    report = audit.verify(store.engine)
    assert report.ok, report.problems
    assert report.entries == 120 and report.versions_checked == 120


def test_migrations_downgrade_and_upgrade_again(store: AssessmentStore) -> None:
    from alembic import command

    from spinemets.service.db import _alembic_config, migrate

    _create(store)
    with store.engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "base")
    assert current_revision(store.engine) is None
    migrate(store.engine)
    assert current_revision(store.engine) == head_revision()
    assert store.list() == [] and audit.verify(store.engine).ok


def test_sqlite_log_is_checkpointed_off_the_commit_path(tmp_path) -> None:
    # The store's own connections never checkpoint inside a commit; its background thread copies
    # the write-ahead log into the database file after a few writes, while the store stays open.
    db = tmp_path / "spinemets.db"
    store = AssessmentStore(f"sqlite:///{db}")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0
            conn.rollback()
        before = db.stat().st_size
        big = {"text": "x" * 20_000}
        for i in range(40):
            store.create(_patient(f"P{i}"), big, author="dr.a", patient_id=f"P{i}", ruleset_version="r")
        deadline = time.monotonic() + 10
        while db.stat().st_size < before + 40 * 20_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert db.stat().st_size >= before + 40 * 20_000
        assert len(store.list(limit=100)) == 40
    finally:
        store.close()


@pytest.mark.postgres
def test_postgresql_compresses_stored_texts_with_lz4(postgres_server) -> None:
    from .conftest import fresh_pg_url

    store = AssessmentStore(fresh_pg_url(postgres_server))
    try:
        created = store.create(
            _patient("P1"), {"text": "spinal " * 5000}, author="dr.a", patient_id="P1", ruleset_version="r"
        )
        with store.engine.connect() as conn:
            method = conn.execute(
                text(
                    "SELECT pg_column_compression(outputs) FROM assessment_versions WHERE assessment_id = :a"
                ),
                {"a": created.id},
            ).scalar_one()
            conn.rollback()
        assert method == "lz4"
        assert store.get(created.id).outputs == {"text": "spinal " * 5000}
    finally:
        store.close()


@pytest.mark.parametrize("search", ["patient_id", "patient_id_contains"])
def test_a_search_for_text_holding_a_nul_character_is_refused_naming_the_field(
    store: AssessmentStore, search: str
) -> None:
    # PostgreSQL refuses U+0000 in a text parameter: the search failed as a 500 (API) or a crash page (History)
    _create(store, "P1")
    with pytest.raises(InvalidInputError, match=rf"^{search} must be text without NUL characters"):
        store.list(**{search: "P\x001"})
