"""The driver-level write statements write exactly the rows SQLAlchemy's ``Connection.execute`` writes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import bindparam, insert, select, text, update

from spinemets.service.db import DriverStatement
from spinemets.service.schema import AssessmentRow, AssessmentVersionRow, AuditEntryRow, AuditHeadRow
from spinemets.service.storage import AssessmentStore


def _row(aid: str) -> dict:
    # Every kind of column the write path stores: text, NULL, date, aware datetime, integer, boolean.
    return {
        "id": aid,
        "patient_id": None,
        "assessment_date": dt.date(2026, 11, 20),
        "created_at": dt.datetime(2026, 12, 4, 10, 11, 12, 345678, tzinfo=dt.UTC),
        "created_by": "dr.ä",
        "latest_version": 3,
        "deleted": True,
    }


def test_driver_insert_stores_what_connection_execute_stores(store: AssessmentStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(AssessmentRow), _row("core"))
        DriverStatement(insert(AssessmentRow)).execute(conn, _row("driver"))
    with store.engine.connect() as conn:
        # As stored (SQLite keeps dates and times as text: the text must be the same) ...
        stored = {
            r[0]: r[1:]
            for r in conn.execute(
                text(
                    "SELECT id, patient_id, CAST(assessment_date AS TEXT), CAST(created_at AS TEXT), "
                    "created_by, latest_version, deleted FROM assessments"
                )
            )
        }
        # ... and as read back through the ORM types.
        typed = {r.id: r for r in conn.execute(select(AssessmentRow.__table__))}
    assert stored["driver"] == stored["core"]
    assert typed["driver"]._asdict() | {"id": "core"} == typed["core"]._asdict()
    assert typed["driver"].deleted is True and typed["driver"].assessment_date == dt.date(2026, 11, 20)


def test_driver_update_takes_the_where_clause_value_from_the_statement(store: AssessmentStore) -> None:
    statement = (
        update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=bindparam("s"), hash=bindparam("h"))
    )
    with store.engine.begin() as conn:
        DriverStatement(statement).execute(conn, {"s": 41, "h": "f" * 64})
    with store.engine.connect() as conn:
        assert conn.execute(select(AuditHeadRow.seq, AuditHeadRow.hash)).all() == [(41, "f" * 64)]


def test_combined_postgresql_writes_store_what_separate_statements_store(store: AssessmentStore) -> None:
    # On PostgreSQL a create writes its two rows, a new version its row and the head update, and an
    # audit entry its row and the chain head, each pair in one statement (INSERT inside WITH);
    # SQLite runs them one by one. The rows must be the same either way.
    if store.dialect != "postgresql":
        pytest.skip("SQLite cannot run INSERT inside WITH: it only has the separate statements")
    from spinemets.service import audit, storage

    def head(aid: str) -> dict:
        return _row(aid) | {"deleted": False, "deleted_at": None, "deleted_by": None}

    def version(aid: str, n: int) -> dict:
        when = dt.datetime(2026, 12, 4, 10, 11, 12, 345678, tzinfo=dt.UTC)
        return storage._version_row(aid, n, when, "dr.ä", "rules 1", '{"in":1}', '{"out":"é"}', "c" * 64)

    with store.engine.begin() as conn:
        storage._INSERT_HEAD_AND_VERSION.execute(
            conn, storage._prefixed("a_", head("one")) | storage._prefixed("v_", version("one", 1))
        )
        storage._INSERT_HEAD.execute(conn, head("two"))
        storage._INSERT_VERSION.execute(conn, version("two", 1))
        latest = {"new_latest": 2, "new_date": dt.date(2026, 12, 24)}
        storage._INSERT_VERSION_AND_UPDATE_LATEST.execute(
            conn, latest | {"aid": "one"} | storage._prefixed("v_", version("one", 2))
        )
        storage._INSERT_VERSION.execute(conn, version("two", 2))
        storage._UPDATE_LATEST.execute(conn, latest | {"aid": "two"})
    entry = {
        "seq": 1,
        "at": "2026-12-04T10:11:12.345678+00:00",
        "actor": "dr.ä",
        "action": "test",
        "object_type": "assessment",
        "object_id": "x",
        "details": "{}",
        "prev_hash": "0" * 64,
    }
    with store.engine.begin() as conn:
        audit._INSERT_ENTRY_AND_UPDATE_HEAD.execute(
            conn, entry | {"hash": "a" * 64, "new_seq": 1, "new_hash": "a" * 64}
        )
    with store.engine.connect() as conn:
        combined = (
            conn.execute(select(AuditEntryRow.__table__)).one()._asdict(),
            conn.execute(select(AuditHeadRow.seq, AuditHeadRow.hash)).one(),
        )
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))  # append-only: clear for the twin
        conn.execute(text("DELETE FROM audit_log"))
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        audit._INSERT_ENTRY.execute(conn, entry | {"hash": "a" * 64})
        audit._UPDATE_HEAD.execute(conn, {"new_seq": 1, "new_hash": "a" * 64})
    with store.engine.connect() as conn:
        separate = (
            conn.execute(select(AuditEntryRow.__table__)).one()._asdict(),
            conn.execute(select(AuditHeadRow.seq, AuditHeadRow.hash)).one(),
        )
        heads = {r.id: r._asdict() | {"id": ""} for r in conn.execute(select(AssessmentRow.__table__))}
        versions = {
            (r.assessment_id, r.version): r._asdict() | {"assessment_id": ""}
            for r in conn.execute(select(AssessmentVersionRow.__table__))
        }
        texts = dict(
            conn.execute(
                text(
                    "SELECT id, CAST(assessment_date AS TEXT) || ' ' || CAST(created_at AS TEXT) FROM assessments"
                )
            ).all()
        )
    assert heads["one"] == heads["two"] and heads["one"]["latest_version"] == 2
    assert heads["one"]["assessment_date"] == dt.date(2026, 12, 24) and heads["one"]["deleted"] is False
    assert versions[("one", 1)] == versions[("two", 1)] and versions[("one", 2)] == versions[("two", 2)]
    assert versions[("one", 2)]["outputs"] == '{"out":"é"}'
    assert texts["one"] == texts["two"]
    assert combined == separate
