"""Stored assessments: every version kept, deletion only flagged, each change audited.

:class:`AssessmentStore` is the one way the service, the web pages and the command line reach
the database. A change never overwrites: :meth:`AssessmentStore.new_version` adds version n+1 and
the rows of earlier versions are immutable (the database refuses UPDATE and DELETE on them).
Every create, new version and delete writes a hash-chained audit entry in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import pydantic_core
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Date, Engine, Integer, and_, bindparam, event, exc, func, insert, select, update
from sqlalchemy.engine import Connection, Row

from spinemets.errors import InvalidInputError
from spinemets.model.patient import check_text
from spinemets.service import audit
from spinemets.service.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    DriverStatement,
    PairedWrite,
    committed_batch,
    make_engine,
    migrate,
    reader,
)
from spinemets.service.schema import AssessmentRow, AssessmentVersionRow

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's own busy handler queues the worker processes there
    fcntl = None  # type: ignore[assignment]

MAX_LIST = 500


# Statements built once: per-call .values(...) would re-coerce every column on each write.
_CREATE = audit.AuditedWrite(AssessmentRow, AssessmentVersionRow)
"""A new assessment's head row and its first version, with their audit entry."""
_NEW_VERSION = PairedWrite(
    insert(AssessmentVersionRow),
    update(AssessmentRow)
    .where(AssessmentRow.id == bindparam("aid"))
    .values(
        latest_version=bindparam("new_latest", type_=Integer),
        assessment_date=bindparam("new_date", type_=Date),
    ),
)
"""A version row and its assessment's move to it."""
_DELETE = DriverStatement(
    update(AssessmentRow)
    .where(AssessmentRow.id == bindparam("aid"))
    .values(
        deleted=True,
        deleted_at=bindparam("at", type_=AssessmentRow.__table__.c.deleted_at.type),
        deleted_by=bindparam("by", type_=AssessmentRow.__table__.c.deleted_by.type),
    )
)
"""A soft delete: the head row is flagged, the versions stay."""
_HEAD_FOR_UPDATE = DriverStatement(
    select(AssessmentRow.latest_version, AssessmentRow.deleted, AssessmentRow.patient_id)
    .where(AssessmentRow.id == bindparam("aid"))
    .with_for_update()
)
"""An assessment's head row, locked until the transaction ends (a new version or a delete)."""
_RULESET = DriverStatement(
    select(AssessmentVersionRow.ruleset_version).where(
        AssessmentVersionRow.assessment_id == bindparam("aid"),
        AssessmentVersionRow.version == bindparam("version"),
    )
)
"""The rule-set version a stored version was computed with."""


def _version_row(
    aid: str,
    version: int,
    now: dt.datetime,
    author: str,
    ruleset_version: str,
    inputs_json: str | bytes,
    outputs_json: str | bytes,
    digest: str,
) -> dict[str, Any]:
    """The columns of one stored version (assessment_versions); JSON given as UTF-8 bytes is stored as text."""
    return {
        "assessment_id": aid,
        "version": version,
        "created_at": now,
        "author": author,
        "ruleset_version": ruleset_version,
        "inputs": _text(inputs_json),
        "outputs": _text(outputs_json),
        "content_sha256": digest,
    }


def _text(json_text: str | bytes) -> str:
    return json_text.decode() if isinstance(json_text, bytes) else json_text


def _version_entry(action: str, row: dict[str, Any]) -> audit.EntryFields:
    """The audit entry of a stored version (a create's first or a later one) from its row: what every
    version's entry records, written in one place."""
    return {
        "actor": row["author"],
        "action": action,
        "object_type": "assessment",
        "object_id": row["assessment_id"],
        "details": {
            "version": row["version"],
            "content_sha256": row["content_sha256"],
            "ruleset_version": row["ruleset_version"],
        },
    }


def _audit_version(conn: Connection, action: str, row: dict[str, Any]) -> None:
    """Audit a stored version in ``conn``'s transaction (:func:`_version_entry`)."""
    audit.append(conn, **_version_entry(action, row))


MAX_VERSION = 1_000_000
"""The highest version number a read may name (far beyond any record; keeps the number an SQL integer)."""


class AssessmentNotFoundError(InvalidInputError):
    """No stored assessment (or version) with this id."""


class VersionConflictError(InvalidInputError):
    """Someone else stored a newer version since the caller read the one it changed."""


class AssessmentDeletedError(InvalidInputError):
    """The assessment was deleted; it can be read from its history but not changed."""


#: Without waiting (:func:`no_wait`), how long a writer may still wait for the other workers' writes
#: (each holds the lock for a millisecond or two) before it gives way to a thread that waits.
SHORT_WAIT_S = 0.025


def _flock(fd: int, timeout: float | None) -> bool:
    """Take the workers' advisory write lock; False if ``timeout`` seconds pass first."""
    assert fcntl is not None
    if timeout is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.0005)


class StoreBusyError(Exception):
    """A write asked not to wait (:func:`no_wait`) found the database's write lock taken.

    Raised before anything is written, so the caller may simply run the write again, waiting."""


_NO_WAIT: ContextVar[bool] = ContextVar("spinemets_store_no_wait", default=False)


@contextmanager
def no_wait() -> Iterator[None]:
    """Writes in this block fail at once with :class:`StoreBusyError` instead of waiting for SQLite's
    write lock (held by another worker or process). PostgreSQL writes are not affected: their waits
    are row locks held by other workers for the length of one short transaction."""
    token = _NO_WAIT.set(True)
    try:
        yield
    finally:
        _NO_WAIT.reset(token)


class StoredVersionInfo(BaseModel):
    """What was stored for a new version besides its inputs and outputs (which the caller holds)."""

    model_config = ConfigDict(frozen=True)
    id: str
    version: int
    patient_id: str | None
    assessment_date: dt.date
    created_at: dt.datetime
    author: str
    ruleset_version: str
    deleted: bool


class StoredAssessment(StoredVersionInfo):
    """One version of a stored assessment: what went in, what came out, by whom, under which rules."""

    inputs: dict[str, Any]
    outputs: dict[str, Any]


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _assessment_date(patient: dict[str, Any], now: dt.datetime) -> dt.date:
    raw = patient.get("assessment_date")
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise InvalidInputError("patient.assessment_date", raw, "an ISO date YYYY-MM-DD") from None
    return now.date()


class _Checkpointer:
    """Copies SQLite's write-ahead log into the database in a background thread.

    SQLite's automatic checkpoint runs inside the commit that crosses its threshold, holding the
    write lock for its disk flushes (some 10 ms): every writer queued behind it waits. Here the
    store's connections do not checkpoint on commit; this thread runs a PASSIVE checkpoint (it
    never blocks readers or writers) after every few writes and once a second while there were
    any. Durability is unchanged: a commit is in the log either way, and the log is replayed after
    a crash. Other processes that open the database keep SQLite's automatic checkpoints.
    """

    EVERY_WRITES = 16
    IDLE_S = 1.0

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._pending = 0
        self._wake = threading.Event()
        self._stopped = False
        event.listen(engine, "connect", _no_autocheckpoint)
        self._thread = threading.Thread(target=self._run, name="spinemets-sqlite-checkpoint", daemon=True)
        self._thread.start()

    def wrote(self) -> None:
        """Count one committed write (called after the commit, outside the write lock)."""
        self._pending += 1
        if self._pending >= self.EVERY_WRITES:
            self._wake.set()

    def stop(self) -> None:
        """End the thread after a last checkpoint."""
        self._stopped = True
        self._wake.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self.IDLE_S)
            self._wake.clear()
            if self._pending:
                self._pending = 0
                self._checkpoint()

    def _checkpoint(self) -> None:
        try:
            raw = self._engine.raw_connection()
        except Exception:  # the database is gone or closing: SQLite checkpoints on its last close
            return
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.fetchall()
            cursor.close()
        except Exception:  # busy or locked: the next round (or SQLite on close) does it
            pass
        finally:
            raw.close()


def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()


class AssessmentStore:
    """Assessments in SQLite or PostgreSQL; the schema is migrated when the store opens."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "NORMAL", run_migrations: bool = True) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, sqlite_synchronous=sqlite_synchronous)
        self._reader = reader(self.engine)
        # SQLite has one writer at a time and its busy handler polls with sleeps of up to 100 ms;
        # queueing this process's writers on a lock leaves at most one per process to contend, and
        # an advisory file lock queues the worker processes too, so a waiting writer is woken as
        # soon as the lock is free instead of at its next poll.
        self._write_lock = threading.Lock() if self.engine.dialect.name == "sqlite" else None
        self._lock_fd: int | None = None
        database = self.engine.url.database if self._write_lock is not None else None
        self._checkpointer: _Checkpointer | None = None
        if fcntl is not None and database and database != ":memory:" and not database.startswith("file:"):
            self._lock_fd = os.open(f"{database}.writelock", os.O_RDWR | os.O_CREAT, 0o600)
            self._checkpointer = _Checkpointer(self.engine)
        if run_migrations:
            migrate(self.engine)

    @contextmanager
    def single_statement_write(self) -> Iterator[Connection]:
        """A connection for a write that is one statement on PostgreSQL (:class:`.audit.AuditedWrite`).

        PostgreSQL: autocommit, so the statement is its own transaction, all or nothing, and psycopg
        sends neither BEGIN nor COMMIT: one message, one round trip. SQLite, where the write is
        several statements: :meth:`write_transaction`.
        """
        if self._write_lock is not None:
            with self.write_transaction() as conn:
                yield conn
            return
        with self._reader.connect() as conn:  # on PostgreSQL the reads' engine: autocommit (db.reader)
            yield conn

    @contextmanager
    def write_transaction(self) -> Iterator[Connection]:
        """A write transaction (SQLite: BEGIN IMMEDIATE, one writer at a time across the workers).

        Inside :func:`no_wait`, an SQLite write lock held elsewhere raises :class:`StoreBusyError`
        before anything is written, instead of waiting for it.
        """
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        wait = not _NO_WAIT.get()
        if not self._write_lock.acquire(timeout=-1 if wait else SHORT_WAIT_S):
            raise StoreBusyError("another writer of this process holds the lock")
        try:
            if self._lock_fd is not None and not _flock(self._lock_fd, None if wait else SHORT_WAIT_S):
                raise StoreBusyError("another worker holds the write lock")
            try:
                with self._sqlite_begin(wait) as conn:
                    yield conn
            finally:
                if self._lock_fd is not None:
                    assert fcntl is not None
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            if self._checkpointer is not None:
                self._checkpointer.wrote()
        finally:
            self._write_lock.release()

    @contextmanager
    def _sqlite_begin(self, wait: bool) -> Iterator[Connection]:
        """``engine.begin()``; without waiting, SQLite's busy handler is off for the BEGIN IMMEDIATE."""
        if wait:
            with self.engine.begin() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA busy_timeout=0")
            try:
                try:
                    tx = conn.begin()
                except exc.OperationalError as err:
                    if "locked" in str(err) or "busy" in str(err):
                        raise StoreBusyError("another process holds the SQLite write lock") from None
                    raise
                with tx:
                    yield conn
            finally:
                raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Release the connections."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def ping(self) -> bool:
        """True when the database answers."""
        with self._reader.connect() as conn:
            ok = conn.execute(select(1)).scalar_one() == 1
            conn.rollback()
        return ok

    # writes -------------------------------------------------------------------------------------

    def create(
        self,
        patient: dict[str, Any],
        result: dict[str, Any],
        *,
        author: str,
        patient_id: str | None,
        ruleset_version: str,
    ) -> StoredAssessment:
        """Store a new assessment as version 1 and audit it."""
        info = self.create_serialised(
            patient,
            audit.to_json(patient),
            audit.to_json(result),
            author=author,
            patient_id=patient_id,
            ruleset_version=ruleset_version,
        )
        return StoredAssessment(**dict(info), inputs=patient, outputs=result)

    def create_serialised(
        self,
        patient: dict[str, Any],
        inputs_json: str | bytes,
        outputs_json: str | bytes,
        *,
        author: str,
        patient_id: str | None,
        ruleset_version: str,
    ) -> StoredVersionInfo:
        """Store a new assessment as version 1 from its JSON texts (stored and hashed as given) and audit it.

        ``inputs_json`` must be the JSON text of ``patient`` (see :func:`.audit.to_json`); the outputs
        are taken as text only, so a caller that already serialised a large result does it once. Either
        may be the serialiser's UTF-8 bytes (:func:`.audit.to_json_utf8`): hashed as they are, stored as text.
        """
        now = dt.datetime.now(dt.UTC)
        aid = str(uuid.uuid4())
        adate = _assessment_date(patient, now)
        digest = audit.content_hash(inputs_json, outputs_json)
        head = {
            "id": aid,
            "patient_id": patient_id,
            "assessment_date": adate,
            "created_at": now,
            "created_by": author,
            "latest_version": 1,
            "deleted": False,
            "deleted_at": None,
            "deleted_by": None,
        }
        version = _version_row(aid, 1, now, author, ruleset_version, inputs_json, outputs_json, digest)
        with self.single_statement_write() as conn:
            _CREATE.execute(conn, (head, version), _version_entry("assessment.create", version))
        return StoredVersionInfo(
            id=aid,
            version=1,
            patient_id=patient_id,
            assessment_date=adate,
            created_at=now,
            author=author,
            ruleset_version=ruleset_version,
            deleted=False,
        )

    def new_version(
        self,
        assessment_id: str,
        patient: dict[str, Any],
        result: dict[str, Any],
        *,
        author: str,
        ruleset_version: str | None = None,
        expected_version: int | None = None,
    ) -> StoredAssessment:
        """Add version n+1 (earlier versions stay as they were) and audit it.

        With ``expected_version`` the change is refused (:class:`VersionConflictError`) unless that
        is still the latest version, so two people editing at once cannot silently supersede each other.
        """
        info = self.new_version_serialised(
            assessment_id,
            patient,
            audit.to_json(patient),
            audit.to_json(result),
            author=author,
            ruleset_version=ruleset_version,
            expected_version=expected_version,
        )
        return StoredAssessment(**dict(info), inputs=patient, outputs=result)

    def new_version_serialised(
        self,
        assessment_id: str,
        patient: dict[str, Any],
        inputs_json: str | bytes,
        outputs_json: str | bytes,
        *,
        author: str,
        ruleset_version: str | None = None,
        expected_version: int | None = None,
    ) -> StoredVersionInfo:
        """As :meth:`new_version`, from the JSON texts (stored and hashed as given; see :meth:`create_serialised`)."""
        now = dt.datetime.now(dt.UTC)
        digest = audit.content_hash(inputs_json, outputs_json)
        adate = _assessment_date(patient, now)
        # On PostgreSQL the whole transaction is one batch (see committed_batch): BEGIN goes with the
        # head's locked read, and the writes with the audit head's read, then the entry and COMMIT.
        with self.write_transaction() as conn, committed_batch(conn):
            latest_version, patient_id = self._head_for_change(conn, assessment_id)
            if expected_version is not None and expected_version != latest_version:
                raise VersionConflictError(
                    "expected_version",
                    expected_version,
                    f"the latest version, {latest_version} (reload the assessment and apply the change again)",
                )
            version = latest_version + 1
            if ruleset_version is None:
                found = _RULESET.first(conn, {"aid": assessment_id, "version": latest_version})
                if found is None:  # pragma: no cover - every head points at a stored version
                    raise RuntimeError(f"assessment {assessment_id} has no version {latest_version}")
                ruleset_version = str(found[0])
            row = _version_row(
                assessment_id, version, now, author, ruleset_version, inputs_json, outputs_json, digest
            )
            latest = {"aid": assessment_id, "new_latest": version, "new_date": adate}
            _NEW_VERSION.execute(conn, row, latest)
            _audit_version(conn, "assessment.new_version", row)
        return StoredVersionInfo(
            id=assessment_id,
            version=version,
            patient_id=patient_id,
            assessment_date=adate,
            created_at=now,
            author=author,
            ruleset_version=ruleset_version,
            deleted=False,
        )

    def delete(self, assessment_id: str, *, author: str) -> None:
        """Soft delete: the assessment leaves lists but every version stays readable and audited."""
        now = dt.datetime.now(dt.UTC)
        with self.write_transaction() as conn, committed_batch(conn):  # one batch, as a new version
            latest_version, _ = self._head_for_change(conn, assessment_id)
            _DELETE.execute(conn, {"aid": assessment_id, "at": now, "by": author})
            audit.append(
                conn,
                actor=author,
                action="assessment.delete",
                object_type="assessment",
                object_id=assessment_id,
                details={"last_version": latest_version},
            )

    # reads --------------------------------------------------------------------------------------

    def get(self, assessment_id: str, version: int | None = None) -> StoredAssessment:
        """The latest version, or the given one; deleted assessments are returned with ``deleted=True``."""
        if version is not None and not 1 <= version <= MAX_VERSION:
            raise InvalidInputError("version", version, f"a version number from 1 to {MAX_VERSION}")
        stmt = self._select().where(AssessmentRow.id == assessment_id)
        if version is None:
            stmt = stmt.where(AssessmentVersionRow.version == AssessmentRow.latest_version)
        else:
            stmt = stmt.where(AssessmentVersionRow.version == version)
        with self._reader.connect() as conn:
            row = conn.execute(stmt).first()
            if row is None:
                latest = conn.execute(
                    select(AssessmentRow.latest_version).where(AssessmentRow.id == assessment_id)
                ).scalar_one_or_none()
            conn.rollback()
        if row is None:
            if latest is None:
                raise AssessmentNotFoundError("assessment_id", assessment_id, "the id of a stored assessment")
            raise AssessmentNotFoundError("version", version, f"a version from 1 to {latest}")
        return self._to_model(row)

    def versions(self, assessment_id: str) -> list[StoredAssessment]:
        """Every version, oldest first."""
        stmt = self._select().where(AssessmentRow.id == assessment_id).order_by(AssessmentVersionRow.version)
        with self._reader.connect() as conn:
            rows = conn.execute(stmt).all()
            conn.rollback()
        if not rows:
            raise AssessmentNotFoundError("assessment_id", assessment_id, "the id of a stored assessment")
        return [self._to_model(r) for r in rows]

    def list(
        self,
        patient_id: str | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        limit: int = 50,
        offset: int = 0,
        *,
        include_deleted: bool = False,
        patient_id_contains: str | None = None,
    ) -> list[StoredAssessment]:
        """Latest versions, newest first, by patient id and assessment date (inclusive range).

        ``patient_id`` matches exactly (the API's filter); ``patient_id_contains`` is the History
        page's search: any part of the identifier, case-insensitive (``%`` and ``_`` are literal).
        """
        if not 1 <= limit <= MAX_LIST:
            raise InvalidInputError("limit", limit, f"an integer from 1 to {MAX_LIST}")
        if offset < 0:
            raise InvalidInputError("offset", offset, "an integer >= 0")
        if date_from and date_to and date_from > date_to:
            raise InvalidInputError(
                "date_from", date_from.isoformat(), f"a date on or before date_to {date_to}"
            )
        for field, text in (("patient_id", patient_id), ("patient_id_contains", patient_id_contains)):
            if text is not None:
                check_text(field, text)
        conds = [AssessmentVersionRow.version == AssessmentRow.latest_version]
        if not include_deleted:
            conds.append(AssessmentRow.deleted.is_(False))
        if patient_id is not None:
            conds.append(AssessmentRow.patient_id == patient_id)
        if patient_id_contains is not None:
            found = func.lower(AssessmentRow.patient_id).contains(
                patient_id_contains.lower(), autoescape=True
            )
            conds.append(found)
        if date_from is not None:
            conds.append(AssessmentRow.assessment_date >= date_from)
        if date_to is not None:
            conds.append(AssessmentRow.assessment_date <= date_to)
        stmt = (
            self._select()
            .where(and_(*conds))
            .order_by(AssessmentVersionRow.created_at.desc(), AssessmentRow.id)
            .limit(limit)
            .offset(offset)
        )
        with self._reader.connect() as conn:
            rows = conn.execute(stmt).all()
            conn.rollback()
        return [self._to_model(r) for r in rows]

    def count(self, *, include_deleted: bool = False) -> int:
        """Number of assessments (not versions)."""
        stmt = select(func.count()).select_from(AssessmentRow)
        if not include_deleted:
            stmt = stmt.where(AssessmentRow.deleted.is_(False))
        with self._reader.connect() as conn:
            n = int(conn.execute(stmt).scalar_one())
            conn.rollback()
        return n

    # helpers ------------------------------------------------------------------------------------

    @staticmethod
    def _select() -> Any:
        return select(
            AssessmentRow.id,
            AssessmentRow.patient_id,
            AssessmentRow.assessment_date,
            AssessmentRow.deleted,
            AssessmentVersionRow.version,
            AssessmentVersionRow.created_at,
            AssessmentVersionRow.author,
            AssessmentVersionRow.ruleset_version,
            AssessmentVersionRow.inputs,
            AssessmentVersionRow.outputs,
        ).join(AssessmentVersionRow, AssessmentVersionRow.assessment_id == AssessmentRow.id)

    @staticmethod
    def _to_model(row: Row[Any]) -> StoredAssessment:
        return StoredAssessment(
            id=row.id,
            version=row.version,
            patient_id=row.patient_id,
            assessment_date=row.assessment_date,
            created_at=_utc(row.created_at),
            author=row.author,
            ruleset_version=row.ruleset_version,
            inputs=pydantic_core.from_json(row.inputs),
            outputs=pydantic_core.from_json(row.outputs),
            deleted=bool(row.deleted),
        )

    @staticmethod
    def _head_for_change(conn: Connection, assessment_id: str) -> tuple[int, str | None]:
        """Lock the assessment's head row; (latest version, patient id) of one that may change."""
        head = _HEAD_FOR_UPDATE.first(conn, {"aid": assessment_id})
        if head is None:
            raise AssessmentNotFoundError("assessment_id", assessment_id, "the id of a stored assessment")
        latest_version, deleted, patient_id = head
        if deleted:
            raise AssessmentDeletedError(
                "assessment_id", assessment_id, "an assessment that has not been deleted"
            )
        return int(latest_version), patient_id
