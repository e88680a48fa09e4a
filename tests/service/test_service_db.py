"""The driver-level write statements write exactly the rows SQLAlchemy's ``Connection.execute`` writes;
batched writes commit all or nothing, and neither they nor the reads leave a pooled connection out
of transaction mode."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import bindparam, insert, select, text, update

from spinemets.service import audit
from spinemets.service.db import DriverStatement, committed_batch
from spinemets.service.schema import AssessmentRow, AssessmentVersionRow, AuditEntryRow, AuditHeadRow
from spinemets.service.storage import AssessmentStore

_INSERT = DriverStatement(insert(AssessmentRow))


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


def test_paired_writes_store_the_same_rows_combined_or_separate(store: AssessmentStore) -> None:
    # On PostgreSQL each pair of writes (a new version's row and the head's move, an audit entry and
    # the chain head's move) is one statement with the INSERT inside WITH; SQLite runs them one by
    # one. The rows must be the same either way. (A create: the next test.)
    if store.dialect != "postgresql":
        pytest.skip("SQLite cannot run INSERT inside WITH: it only has the separate statements")
    from spinemets.service import audit, storage

    def head(aid: str) -> dict:
        return _row(aid) | {"deleted": False, "deleted_at": None, "deleted_by": None}

    def version(aid: str, n: int) -> dict:
        when = dt.datetime(2026, 12, 4, 10, 11, 12, 345678, tzinfo=dt.UTC)
        return storage._version_row(aid, n, when, "dr.ä", "rules 1", '{"in":1}', '{"out":"é"}', "c" * 64)

    def moved(aid: str) -> dict:
        return {"aid": aid, "new_latest": 2, "new_date": dt.date(2026, 12, 24)}

    entry = {
        "seq": 1,
        "at": "2026-12-04T10:11:12.345678+00:00",
        "actor": "dr.ä",
        "action": "test",
        "object_type": "assessment",
        "object_id": "x",
        "details": "{}",
        "prev_hash": "0" * 64,
        "hash": "a" * 64,
    }
    chain = {"new_seq": 1, "new_hash": "a" * 64}

    def audit_rows() -> tuple:
        with store.engine.connect() as conn:
            return (
                conn.execute(select(AuditEntryRow.__table__)).one()._asdict(),
                tuple(conn.execute(select(AuditHeadRow.seq, AuditHeadRow.hash)).one()),
            )

    first_version = DriverStatement(insert(AssessmentVersionRow))
    with store.engine.begin() as conn:
        for aid in ("one", "two"):
            _INSERT.execute(conn, head(aid))
            first_version.execute(conn, version(aid, 1))
        storage._NEW_VERSION.combined(conn, version("one", 2), moved("one"))
        storage._NEW_VERSION.separate(conn, version("two", 2), moved("two"))
        audit._APPEND.combined(conn, entry, chain)
    combined = audit_rows()
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))  # append-only: clear for the twin
        conn.execute(text("DELETE FROM audit_log"))
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        audit._APPEND.separate(conn, entry, chain)
    assert audit_rows() == combined and combined[1] == (1, "a" * 64)
    with store.engine.connect() as conn:
        heads = {r.id: r._asdict() | {"id": ""} for r in conn.execute(select(AssessmentRow.__table__))}
        versions = {
            (r.assessment_id, r.version): r._asdict() | {"assessment_id": ""}
            for r in conn.execute(select(AssessmentVersionRow.__table__))
        }
        texts = {
            r[0]: r[1]
            for r in conn.execute(
                text(
                    "SELECT id, CAST(assessment_date AS TEXT) || ' ' || CAST(created_at AS TEXT) FROM assessments"
                )
            )
        }
    assert heads["one"] == heads["two"] and heads["one"]["latest_version"] == 2
    assert heads["one"]["assessment_date"] == dt.date(2026, 12, 24) and heads["one"]["deleted"] is False
    assert versions[("one", 1)] == versions[("two", 1)] and versions[("one", 2)] == versions[("two", 2)]
    assert versions[("one", 2)]["outputs"] == '{"out":"é"}'
    assert texts["one"] == texts["two"]


def _ids(store: AssessmentStore) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(select(AssessmentRow.id)).scalars())


def _raw_autocommit(conn: object) -> bool | None:
    """The driver connection's autocommit flag (psycopg), None for SQLite's driver."""
    raw = conn.connection.driver_connection  # type: ignore[attr-defined]
    return getattr(raw, "autocommit", None) if hasattr(raw, "pipeline") else None


def test_a_batch_commits_its_writes_and_leaves_the_connection_transactional(store: AssessmentStore) -> None:
    # On PostgreSQL the batch carries its own BEGIN and COMMIT with the connection in autocommit
    # mode; the pooled connection must come back in transaction mode, or later writes of other
    # requests would each commit on their own.
    with store.write_transaction() as conn, committed_batch(conn):
        _INSERT.execute(conn, _row("kept"))
    assert _ids(store) == {"kept"}
    _assert_later_transactions_roll_back(store)


def _assert_later_transactions_roll_back(store: AssessmentStore) -> None:
    before = _ids(store)
    for _ in range(3):  # whichever pooled connection comes next
        with pytest.raises(RuntimeError), store.engine.begin() as conn:
            assert _raw_autocommit(conn) in (False, None)
            _INSERT.execute(conn, _row("rolled-back"))
            raise RuntimeError("the caller fails after writing")
    assert _ids(store) == before


@pytest.mark.parametrize("failure", ["raised in the block", "refused by the database"])
def test_a_failed_batch_commits_nothing_and_the_connection_stays_usable(
    store: AssessmentStore, failure: str
) -> None:
    with store.write_transaction() as conn, committed_batch(conn):
        _INSERT.execute(conn, _row("first"))
    with pytest.raises(Exception) as caught, store.write_transaction() as conn, committed_batch(conn):
        raw = conn.connection.driver_connection
        _INSERT.execute(conn, _row("second"))
        if failure == "raised in the block":
            raise RuntimeError("the block fails")
        _INSERT.execute(conn, _row("first"))  # duplicate primary key
        # on PostgreSQL the refusal arrives with the batch's replies: read something to collect them
        audit._head_for_update(conn)
    assert (
        caught.type is RuntimeError if failure == "raised in the block" else caught.type is not RuntimeError
    )
    assert _ids(store) == {"first"}
    assert not getattr(raw, "closed", False)  # rolled back and kept in the pool, not discarded
    _assert_later_transactions_roll_back(store)
    with store.write_transaction() as conn, committed_batch(conn):
        _INSERT.execute(conn, _row("third"))
    assert _ids(store) == {"first", "third"}


def test_reads_leave_pooled_connections_transactional(store: AssessmentStore) -> None:
    # PostgreSQL reads run in autocommit mode (no BEGIN/ROLLBACK round trips); the connections they
    # used must be back in transaction mode for the writes that check them out next.
    created = store.create(
        {"patient_id": "P1"}, {"x": 1}, author="dr.a", patient_id="P1", ruleset_version="r"
    )
    for _ in range(5):
        assert store.get(created.id).id == created.id
        assert [s.id for s in store.list(patient_id="P1")] == [created.id]
        assert store.count() == 1 and store.ping()
    _assert_later_transactions_roll_back(store)


def test_a_create_is_all_or_nothing_and_leaves_pooled_connections_transactional(
    store: AssessmentStore,
) -> None:
    # On PostgreSQL a create is one statement on an autocommit connection (no BEGIN, no COMMIT): the
    # statement is its own transaction, so a refused one stores neither its rows nor its audit entry,
    # and the connection goes back to the pool in transaction mode for the next request's writes.
    from spinemets.service import storage

    when = dt.datetime(2026, 12, 4, 10, 11, 12, 345678, tzinfo=dt.UTC)
    head = _row("dup") | {"latest_version": 1, "deleted": False, "deleted_at": None, "deleted_by": None}
    version = storage._version_row("dup", 1, when, "dr.a", "rules 1", "{}", "{}", "c" * 64)
    entry = storage._version_entry("assessment.create", version)
    with store.single_statement_write() as conn:
        storage._CREATE.execute(conn, (head, version), entry)
    with pytest.raises(Exception, match=r"(?i)unique"), store.single_statement_write() as conn:
        storage._CREATE.execute(conn, (head, version), entry)  # the same id again: refused
    assert _ids(store) == {"dup"}
    assert audit.entries(store.engine)[-1].seq == 1  # the refused create left no entry
    _assert_later_transactions_roll_back(store)


def test_history_search_matches_any_part_of_the_identifier_in_any_case(store: AssessmentStore) -> None:
    # the web History search, on SQLite and PostgreSQL alike; '%' and '_' are literal characters
    for pid in ("EX-001", "EX-002", "ex_100", "OTHER%"):
        store.create({"patient_id": pid}, {"x": 1}, author="dr.a", patient_id=pid, ruleset_version="r")

    def found(text: str) -> set[str | None]:
        return {s.patient_id for s in store.list(patient_id_contains=text)}

    assert found("ex-00") == {"EX-001", "EX-002"}
    assert found("002") == {"EX-002"}
    assert found("X_1") == {"ex_100"} and found("%") == {"OTHER%"}
    assert found("_") == {"ex_100"}
    assert {s.patient_id for s in store.list(patient_id="ex-001")} == set()  # the API's filter stays exact


def test_audited_create_stores_the_same_rows_and_entry_in_one_statement_or_several(
    store: AssessmentStore,
) -> None:
    # On PostgreSQL a create's two rows and its audit entry are one statement, the entry hashed by
    # the server (sha256 over the canonical text the service finishes with the chain head's hash and
    # number); SQLite inserts the rows, then appends the entry in Python. Rows, entry and hash must
    # be the same either way.
    if store.dialect != "postgresql":
        pytest.skip("SQLite cannot run INSERT inside WITH: it only has the separate statements")
    from spinemets.service import storage

    when = dt.datetime(2026, 12, 4, 10, 11, 12, 345678, tzinfo=dt.UTC)

    def rows(aid: str) -> tuple[dict, dict]:
        head = _row(aid) | {"latest_version": 1, "deleted": False, "deleted_at": None, "deleted_by": None}
        outputs = '{"out":"é \\" \\u0001"}'  # non-ASCII, an escaped quote and a control character
        return head, storage._version_row(aid, 1, when, "dr.ä", "rules 1", '{"in":1}', outputs, "c" * 64)

    # one entry already in the chain, so the hash links to a real previous hash, not the genesis
    at = "2026-12-04T10:11:12.345678+00:00"
    entry: audit.EntryFields = {
        "actor": 'dr. "ä" \\ \n',
        "action": "assessment.create",
        "object_type": "assessment",
        "object_id": "x",
        "details": {"version": 1, "note": "é\u2028\u0007"},
    }
    with store.engine.begin() as conn:
        audit.append(conn, actor="setup", action="test", object_type="t", object_id="0", details={})
    with store.engine.begin() as conn:
        storage._CREATE.combined(conn, rows("one"), entry, at=at)

    def snapshot() -> tuple:
        with store.engine.connect() as conn:
            entries = [r._asdict() for r in conn.execute(select(AuditEntryRow.__table__).order_by("seq"))]
            head = tuple(conn.execute(select(AuditHeadRow.seq, AuditHeadRow.hash)).one())
            stored = [
                r._asdict() | {"assessment_id": ""}
                for r in conn.execute(select(AssessmentVersionRow.__table__))
            ]
        return entries, head, stored

    combined = snapshot()
    entries, head, _ = combined
    assert [e["seq"] for e in entries] == [1, 2] and entries[1]["prev_hash"] == entries[0]["hash"]
    assert head == (2, entries[1]["hash"])
    assert entries[1]["hash"] == audit.entry_hash(
        2,
        at,
        entry["actor"],
        "assessment.create",
        "assessment",
        "x",
        entries[1]["details"],
        entries[0]["hash"],
    )
    with store.engine.begin() as conn:  # the same again, the separate way, from the same chain
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        conn.execute(text("ALTER TABLE assessment_versions DISABLE TRIGGER USER"))
        conn.execute(text("DELETE FROM assessment_versions"))
        conn.execute(text("ALTER TABLE assessment_versions ENABLE TRIGGER USER"))
        conn.execute(text("DELETE FROM assessments"))
        conn.execute(update(AuditHeadRow).values(seq=1, hash=entries[0]["hash"]))
        storage._CREATE.separate(conn, rows("one"), entry, at=at)
    assert snapshot() == combined
