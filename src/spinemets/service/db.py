"""Engines and migrations: SQLite (WAL, immediate write transactions) or PostgreSQL (psycopg 3).

SQLite: every transaction that may write starts with ``BEGIN IMMEDIATE`` so that two writers
never deadlock on a lock upgrade (read-only connections, ``execution_options(readonly=True)``,
start a plain deferred ``BEGIN``), and the journal is in WAL mode (readers do not block the writer). With the default
``synchronous=NORMAL`` a committed write survives a crash or SIGKILL of the service process (the
test suite checks this); ``FULL`` adds a disk flush per commit so that it also survives a power
loss or an operating-system crash, at a large cost in writes per second.
Migrations ship inside the package and run on first use; they are serialised across processes
(SQLite write lock, PostgreSQL advisory lock) so several workers can start at once.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, create_engine, event, exc, insert, text
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.sql.expression import Insert, Select, Update

from spinemets.errors import InvalidInputError

_MIGRATION_LOCK_ID = 0x5E1E_3E75
log = logging.getLogger("spinemets.service")

PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
"""The data folder and the embedded database hold every patient record: the service's account only."""


def private_folder(path: Path) -> None:
    """Create ``path`` (and its parents) when missing, the folder itself open to its owner only.

    An existing folder is left as it is: its mode is the operator's choice.
    """
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER_MODE)


def _private_sqlite_file(db: Path) -> None:
    """Create the SQLite database file empty with mode 0600 before SQLite opens it.

    SQLite would create it with the process's umask (0644 as a rule: readable by every account on
    the host) and gives its -wal and -shm files the database file's permissions, so making this one
    private makes all three private. An existing database that others can read is named in a warning
    (its mode is left to the operator: a backup job may read it through its group).
    """
    private_folder(db.parent)
    try:
        fd = os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        mode = stat.S_IMODE(db.stat().st_mode)
        if mode & 0o077:
            log.warning(
                "the database %s has mode %03o: other accounts on this host can read patient records; "
                "make it private with chmod 600 (and its -wal and -shm files)",
                db,
                mode,
            )
        return
    os.close(fd)


#: How long an SQLite writer waits for the write lock before giving up (busy handler).
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: A pooled PostgreSQL connection idle for longer than this is checked with a round trip before use.
PING_AFTER_IDLE_S = 5.0


def make_engine(url: str, *, sqlite_synchronous: str = "NORMAL", pool_size: int = 10) -> Engine:
    """An engine for ``url`` configured for safe concurrent use; creates the SQLite folder and file (private)."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with the URL in it
        raise InvalidInputError("database_url", "(hidden)", "an SQLAlchemy URL", type(exc).__name__) from None
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database or ""
        if db and db != ":memory:" and not db.startswith("file:"):
            _private_sqlite_file(Path(db))
        engine = create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_pragmas(engine, sqlite_synchronous)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, pool_size=pool_size, max_overflow=pool_size)
        event.listen(engine, "connect", _pg_lz4_toast)
        _ping_when_idle(engine)
        return engine
    raise InvalidInputError("database_url", parsed.get_backend_name(), ["sqlite", "postgresql"])


def reader(engine: Engine) -> Engine:
    """``engine`` for statements that only read, each complete on its own.

    SQLite: a deferred BEGIN (``readonly``, see :func:`_sqlite_pragmas`), which takes no write lock.
    PostgreSQL: autocommit, so psycopg sends no BEGIN and no ROLLBACK (a round trip each); under READ
    COMMITTED a statement on its own sees what it would see inside a transaction. SQLAlchemy puts the
    connection back in transaction mode when it returns to the pool (a test checks).
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine.execution_options(readonly=True)


def snapshot(engine: Engine) -> Engine:
    """``engine`` for a read of several statements that must agree with each other (audit verify).

    SQLite: a deferred BEGIN; in WAL mode the read transaction sees the database as of its first
    read until it ends, takes no write lock and never holds up a writer. PostgreSQL: a read-only
    REPEATABLE READ transaction, one snapshot for all its statements (under READ COMMITTED each
    statement would see the writes committed since the one before).
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return engine.execution_options(readonly=True)


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it has been idle for a while.

    A connection can die while it waits in the pool (server restart, a firewall dropping idle
    sessions); one that was returned a moment ago cannot have been idle long enough for that to be
    likely. SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip on every request, a
    tenth of the service's time under load. A failed ping makes the pool discard the connection and
    open a new one (``DisconnectionError``), so the request itself never sees the dead connection.
    """

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since >= PING_AFTER_IDLE_S:
            _ping(dbapi_conn)


def _ping(dbapi_conn: Any) -> None:
    """One round trip; a dead connection raises ``DisconnectionError`` (the pool opens a new one)."""
    try:
        with dbapi_conn.cursor() as cur:
            cur.execute("SELECT 1")
        dbapi_conn.rollback()
    except Exception as err:  # psycopg.OperationalError and kin: the connection is gone
        raise exc.DisconnectionError(str(err)) from err


def _pg_lz4_toast(dbapi_conn: Any, _record: Any) -> None:
    """Compress the large stored JSON texts with lz4 rather than pglz (PostgreSQL 14+ built with lz4).

    Values are compressed on insert only; reading either kind is transparent, so rows written
    before or by another setting stay readable. About half the database CPU of a stored assessment
    (load test). Where the server cannot do lz4 the session keeps the server's default.
    """
    try:
        with dbapi_conn.cursor() as cur:
            cur.execute("SET default_toast_compression = 'lz4'")
        dbapi_conn.commit()
    except Exception:  # psycopg.Error: PostgreSQL < 14, or built without lz4
        dbapi_conn.rollback()


def _sqlite_pragmas(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Readers (execution option readonly=True) take no lock; anything else may write, so it
        # takes the write lock up front instead of failing to upgrade a read lock later.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("readonly") else "BEGIN IMMEDIATE")


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("spinemets.service") / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this version of spinemets."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("spinemets.service") / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    return str(head)


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
    return rev


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema; a no-op when it is already there."""
    from alembic import command

    head = head_revision()
    if current_revision(engine) == head:
        return
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
        command.upgrade(_alembic_config(conn), "head")


@dataclass(frozen=True)
class _DriverForm:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    defaults: Mapping[str, Any]
    positional: bool


class DriverStatement:
    """An INSERT, UPDATE or SELECT compiled once per dialect by SQLAlchemy and run on the driver's cursor.

    ``Connection.execute`` looks the compiled form up, builds and type-processes the parameters and
    wraps a result object on every call; for the few statements of a stored assessment that is a
    sizeable share of the write (CPU of a whole create's database work, interleaved runs: SQLite
    0.64-0.79 ms through ``Connection.execute``, 0.54-0.59 ms with these; PostgreSQL 0.91-0.94 and
    0.67-0.75 ms). The SQL text, the parameter order and the
    type processors (SQLite keeps dates and times as text, for instance) still come from SQLAlchemy's
    compiler for the connection's dialect, so the rows written are the rows ``Connection.execute``
    would write (a test compares them). The statement runs inside the caller's transaction and, on
    PostgreSQL, inside a psycopg pipeline when one is open. :meth:`execute` reads no result;
    :meth:`first` reads a SELECT's first row, as the driver returns it.
    """

    def __init__(self, statement: Insert | Update | Select[*tuple[Any, ...]]) -> None:
        self._statement = statement
        # Keyed by the dialect object, not its class: compilation may depend on its settings.
        self._forms: dict[tuple[Dialect, tuple[str, ...]], _DriverForm] = {}

    def _form(self, dialect: Dialect, keys: tuple[str, ...]) -> _DriverForm:
        form = self._forms.get((dialect, keys))
        if form is None:
            compiled = self._statement.compile(dialect=dialect, column_keys=list(keys))
            binds = {name: bind for bind, name in compiled.bind_names.items()}
            names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(binds)
            form = _DriverForm(
                sql=compiled.string,
                names=names,
                processors=tuple(binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names),
                defaults={n: binds[n].effective_value for n in names if n not in keys},
                positional=bool(compiled.positional),
            )
            self._forms[(dialect, keys)] = form
        return form

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """Run with ``params`` (column or bind names -> values) in ``conn``'s transaction."""
        self._run(conn, params)

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """A SELECT's first row as the driver returns it (SQLite gives booleans as 0/1), or None.

        Inside :func:`committed_batch` on PostgreSQL, reading the row sends what is queued with it.
        """
        row = self._run(conn, params).fetchone()
        return None if row is None else tuple(row)

    def _run(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        form = self._form(conn.dialect, tuple(params))
        values = [
            value if proc is None or value is None else proc(value)
            for value, proc in zip(
                (params[n] if n in params else form.defaults[n] for n in form.names),
                form.processors,
                strict=True,
            )
        ]
        driver = conn.connection.driver_connection
        if driver is None:  # pragma: no cover - a live connection has its driver connection
            raise RuntimeError("the connection is closed")
        cursor = driver.cursor()
        cursor.execute(
            form.sql, tuple(values) if form.positional else dict(zip(form.names, values, strict=True))
        )
        return cursor


class PairedWrite:
    """An INSERT and a second write that always go together, in one statement where the database
    runs an INSERT inside WITH (PostgreSQL), as two statements elsewhere (SQLite).

    One statement less for the driver to send and track on each stored assessment: the service's CPU
    for a create's database work fell from 743-745 to 622-693 us (medians of in-process rounds, 7-15%).
    The combined statement names the INSERT's columns ``first_<column>``; :meth:`execute` takes both
    parameter sets as they are, and a test checks that both forms store the same rows.
    """

    def __init__(self, first: Insert, then: Insert | Update) -> None:
        table = first.table
        self._first = DriverStatement(first)
        self._then = DriverStatement(then)
        columns = {c.name: bindparam(f"first_{c.name}", type_=c.type) for c in table.columns}
        self._combined = DriverStatement(then.add_cte(insert(table).values(**columns).cte("first_write")))

    def execute(self, conn: Connection, first: Mapping[str, Any], then: Mapping[str, Any]) -> None:
        """Both writes in ``conn``'s transaction (see :class:`DriverStatement`)."""
        if conn.dialect.name == "postgresql":
            self.combined(conn, first, then)
        else:
            self.separate(conn, first, then)

    def combined(self, conn: Connection, first: Mapping[str, Any], then: Mapping[str, Any]) -> None:
        self._combined.execute(conn, {**{f"first_{k}": v for k, v in first.items()}, **then})

    def separate(self, conn: Connection, first: Mapping[str, Any], then: Mapping[str, Any]) -> None:
        self._first.execute(conn, first)
        self._then.execute(conn, then)


@contextmanager
def committed_batch(conn: Connection) -> Iterator[None]:
    """Run the block's writes and commit them, in as few round trips as the database allows.

    PostgreSQL: a psycopg pipeline, so the statements queue and go together, with BEGIN (when the
    transaction has not started yet) and COMMIT in the same batches: a new version or a delete, which
    must read the assessment's head first, is two round trips (a create is one statement and needs
    no batch: :class:`.audit.AuditedWrite`). psycopg itself would send BEGIN and COMMIT each with a
    round trip of its own, so for the block
    the connection is put in autocommit mode and the batch carries them as statements; the mode is
    restored before the connection goes back (or the connection is discarded if it cannot be).
    Inside the block, statements run on the driver's cursor (:class:`DriverStatement`), not through
    ``Connection.execute``; a read (:meth:`DriverStatement.first`) sends what is queued before it and
    waits for its row, one round trip. The caller's ``engine.begin()`` then finds the transaction
    committed (psycopg sends nothing more); if the block raises, the transaction is rolled back and
    nothing is committed. SQLite: no network, so nothing to batch; the caller's transaction commits
    as written.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    from psycopg.pq import TransactionStatus

    raw: Any = conn.connection.driver_connection
    # BEGIN goes in the batch only when nothing has been sent yet and psycopg's BEGIN would be plain.
    begin = raw.info.transaction_status == TransactionStatus.IDLE and (
        raw.autocommit,
        raw.isolation_level,
        raw.read_only,
        raw.deferrable,
    ) == (False, None, None, None)
    if begin:
        raw.autocommit = True
    try:
        with raw.pipeline():
            cursor = raw.cursor()
            if begin:
                cursor.execute("BEGIN")
            yield
            cursor.execute("COMMIT")
    except BaseException:
        if raw.info.transaction_status != TransactionStatus.IDLE:
            with suppress(Exception):  # a broken connection: discarded below, the first error stands
                raw.rollback()
        raise
    finally:
        if begin:
            if raw.info.transaction_status == TransactionStatus.IDLE:
                raw.autocommit = False
            else:  # never hand an autocommit connection back to the pool
                conn.invalidate()
