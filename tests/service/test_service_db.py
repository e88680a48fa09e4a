"""The driver-level write statements write exactly the rows SQLAlchemy's ``Connection.execute`` writes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, insert, select, text, update

from spinemets.service.db import DriverStatement
from spinemets.service.schema import AssessmentRow, AuditHeadRow
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
