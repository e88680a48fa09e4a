"""The append-only, hash-chained audit log and the check that detects tampering.

Each entry's ``hash`` is the SHA-256 of its own fields (canonical JSON) together with the previous
entry's hash, so editing, deleting or reordering any entry breaks every later link. The database
refuses UPDATE and DELETE on the log (triggers); :func:`verify` catches what a privileged user
could still do by dropping those triggers. Entries for assessment versions carry the SHA-256 of the
stored inputs and outputs, so :func:`verify` also detects an edited assessment. Entries never hold
patient data: only ids, versions, hashes and actors.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import pydantic_core
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, Text, bindparam, cast, func, insert, literal, select, update
from sqlalchemy.engine import Connection

from spinemets.service.db import DriverStatement, PairedWrite, reader, snapshot
from spinemets.service.schema import AssessmentRow, AssessmentVersionRow, AuditEntryRow, AuditHeadRow, Base

GENESIS = "0" * 64

_HEAD_FOR_UPDATE = DriverStatement(
    select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == 1).with_for_update()
)
_APPEND = PairedWrite(
    insert(AuditEntryRow),
    update(AuditHeadRow)
    .where(AuditHeadRow.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")),
)
"""The entry and the chain head's move, together."""


class AuditEntry(BaseModel):
    """One entry of the log, as stored."""

    model_config = ConfigDict(frozen=True)
    seq: int
    at: str
    actor: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class VerifyReport(BaseModel):
    """What :func:`verify` found: ``ok`` only when there is no problem at all."""

    model_config = ConfigDict(frozen=True)
    ok: bool
    entries: int
    versions_checked: int
    problems: tuple[str, ...]


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept; the input of every hash here."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def to_json(obj: Any) -> str:
    """The JSON text stored for inputs and outputs (compact, UTF-8 kept); hashed exactly as stored."""
    return to_json_utf8(obj).decode()


def to_json_utf8(obj: Any) -> bytes:
    """:func:`to_json` as the UTF-8 bytes the serialiser makes (``obj`` plain data or a pydantic model).

    pydantic-core's serialiser gives the same text as ``json.dumps`` with compact separators (and as a
    model's ``model_dump_json()``), about three times faster, which matters for an assessment of some
    70 kB. A write hashes and sends these bytes as they are: fifteen characters beyond ASCII in an
    assessment (an author's name, a sign) make Python hold the whole ``str`` at two bytes per
    character, and each ``str.encode()`` of it costs about 40 µs (1 µs for ASCII-only text).
    """
    return pydantic_core.to_json(obj)


def _utf8(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode()


def content_hash(inputs_json: str | bytes, outputs_json: str | bytes) -> str:
    """SHA-256 of a stored version's inputs and outputs, over the exact JSON texts stored (UTF-8)."""
    digest = hashlib.sha256(_utf8(inputs_json))
    digest.update(b"\x1e")
    digest.update(_utf8(outputs_json))
    return digest.hexdigest()


def entry_hash(
    seq: int, at: str, actor: str, action: str, object_type: str, object_id: str, details: str, prev_hash: str
) -> str:
    """The chained hash of one entry (``details`` as the canonical JSON text that is stored)."""
    return _digest(_entry_fields(seq, at, actor, action, object_type, object_id, details, prev_hash))


def _entry_fields(
    seq: int, at: str, actor: str, action: str, object_type: str, object_id: str, details: str, prev_hash: str
) -> dict[str, Any]:
    """An entry's stored columns besides its hash: what the hash covers."""
    return {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "details": details,
        "prev_hash": prev_hash,
    }


def _digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(fields).encode()).hexdigest()


def entry_text_before_prev_hash(
    at: str, actor: str, action: str, object_type: str, object_id: str, details: str
) -> str:
    """The start of an entry's canonical JSON text, up to where the previous entry's hash goes.

    The keys sort so that ``prev_hash`` and ``seq`` come last: what follows this text is the previous
    hash, ``","seq":``, the sequence number and ``}`` (:func:`finish_entry_text`), which lets the
    database finish and hash the text itself (:class:`AuditedWrite`). A test checks the finished text
    is the canonical text that :func:`entry_hash` hashes.
    """
    text = canonical(
        {
            "action": action,
            "actor": actor,
            "at": at,
            "details": details,
            "object_id": object_id,
            "object_type": object_type,
        }
    )
    return text[:-1] + ',"prev_hash":"'


def finish_entry_text(start: str, prev_hash: str, seq: int) -> str:
    """An entry's canonical text from :func:`entry_text_before_prev_hash` (what the database computes)."""
    return f'{start}{prev_hash}","seq":{seq}}}'


class EntryFields(TypedDict):
    """What the caller says about an audit entry (the chain supplies its number, time and hashes)."""

    actor: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]


class AuditedWrite:
    """New rows and the audit entry that records them, committed together.

    PostgreSQL: one statement. It locks the chain head, inserts the rows and the entry and moves the
    head, and the server hashes the entry (SHA-256 of the canonical text from
    :func:`entry_text_before_prev_hash`, finished with the hash and number it read from the head).
    On an autocommit connection (:meth:`.storage.AssessmentStore.single_statement_write`) the
    statement is its own transaction: a create is one message and one round trip, and the chain
    head is locked only while the server runs and commits the statement, not while a reply travels
    to the worker and the worker's next batch travels back (every other writer waits on that lock,
    each with a worker's event loop blocked). SQLite: the inserts, then :func:`append` in the same transaction
    (its write lock already lets one writer in at a time). Either way the entry is the one
    :func:`append` writes, hash included (a test checks both against :func:`verify`). The entry's
    time is taken before the head is locked, so under concurrent writes two entries' times can
    disagree with their order by the moments they waited for each other; ``seq`` is the order.
    """

    def __init__(self, *models: type[Base]) -> None:
        self._separate = tuple(DriverStatement(insert(m)) for m in models)
        head = select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == 1).with_for_update()
        locked = head.cte("chain_head")
        seq = locked.c.seq + 1
        text = (
            bindparam("entry_text_start", type_=Text())
            + locked.c.hash
            + literal('","seq":', Text())
            + cast(seq, Text())
            + literal("}", Text())
        )
        digest = func.encode(func.sha256(func.convert_to(text, literal("UTF8"))), literal("hex"))
        e = AuditEntryRow.__table__.c
        entry = (
            insert(AuditEntryRow)
            .from_select(
                ["seq", "at", "actor", "action", "object_type", "object_id", "details", "prev_hash", "hash"],
                select(
                    seq,
                    bindparam("entry_at", type_=e.at.type),
                    bindparam("entry_actor", type_=e.actor.type),
                    bindparam("entry_action", type_=e.action.type),
                    bindparam("entry_object_type", type_=e.object_type.type),
                    bindparam("entry_object_id", type_=e.object_id.type),
                    bindparam("entry_details", type_=e.details.type),
                    locked.c.hash,
                    digest,
                ),
            )
            .returning(AuditEntryRow.seq, AuditEntryRow.hash)
            .cte("chain_entry")
        )
        statement = (
            update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=entry.c.seq, hash=entry.c.hash)
        )
        for i, model in enumerate(models):
            values = {c.name: bindparam(f"row{i}_{c.name}", type_=c.type) for c in model.__table__.columns}
            statement = statement.add_cte(insert(model).values(**values).cte(f"row{i}"))
        self._combined = DriverStatement(statement)

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]], entry: EntryFields) -> None:
        """Insert ``rows`` (one per table, in order) and their entry in ``conn``'s transaction."""
        run = self.combined if conn.dialect.name == "postgresql" else self.separate
        run(conn, rows, entry, at=dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"))

    def combined(
        self, conn: Connection, rows: Sequence[Mapping[str, Any]], entry: EntryFields, *, at: str
    ) -> None:
        """The one statement (PostgreSQL)."""
        text = canonical(entry["details"])
        kind, oid = entry["object_type"], entry["object_id"]
        params: dict[str, Any] = {
            "entry_text_start": entry_text_before_prev_hash(
                at, entry["actor"], entry["action"], kind, oid, text
            ),
            "entry_at": at,
            "entry_actor": entry["actor"],
            "entry_action": entry["action"],
            "entry_object_type": kind,
            "entry_object_id": oid,
            "entry_details": text,
        }
        for i, row in enumerate(rows):
            params.update({f"row{i}_{k}": v for k, v in row.items()})
        self._combined.execute(conn, params)

    def separate(
        self, conn: Connection, rows: Sequence[Mapping[str, Any]], entry: EntryFields, *, at: str
    ) -> None:
        """The inserts, then :func:`append` (any database)."""
        for statement, row in zip(self._separate, rows, strict=True):
            statement.execute(conn, row)
        append(conn, **entry, at=at)


def _head_for_update(conn: Connection) -> tuple[int, str]:
    """Lock the chain head and read it (seq, hash) in the caller's transaction.

    Through the driver's own cursor, like the writes (:meth:`.db.DriverStatement.first`); inside a
    psycopg pipeline (:func:`.db.committed_batch`) reading the head is what sends the statements
    queued before it. SQLite has no FOR UPDATE: its write transaction already excludes every other
    writer.
    """
    row = _HEAD_FOR_UPDATE.first(conn, {})
    if row is None:  # pragma: no cover - migration 0001 writes the head row
        raise RuntimeError("the audit chain head row is missing")
    return int(row[0]), str(row[1])


def append(
    conn: Connection,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any],
    at: str | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction (so the entry and the change commit together).

    ``at`` (ISO 8601, UTC, microseconds) is the moment the chain head was locked unless given.
    """
    head_seq, head_hash = _head_for_update(conn)
    seq = head_seq + 1
    if at is None:
        at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    fields = _entry_fields(seq, at, actor, action, object_type, object_id, canonical(details), head_hash)
    digest = _digest(fields)
    _APPEND.execute(conn, fields | {"hash": digest}, {"new_seq": seq, "new_hash": digest})
    return AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details,
        prev_hash=head_hash,
        hash=digest,
    )


def entries(engine: Engine, *, object_id: str | None = None, limit: int = 1000) -> list[AuditEntry]:
    """Entries in order (optionally for one object)."""
    stmt = select(AuditEntryRow).order_by(AuditEntryRow.seq).limit(limit)
    if object_id is not None:
        stmt = stmt.where(AuditEntryRow.object_id == object_id)
    with reader(engine).connect() as conn:
        rows = conn.execute(stmt).all()
        conn.rollback()
    return [
        AuditEntry(
            seq=r.seq,
            at=r.at,
            actor=r.actor,
            action=r.action,
            object_type=r.object_type,
            object_id=r.object_id,
            details=json.loads(r.details),
            prev_hash=r.prev_hash,
            hash=r.hash,
        )
        for r in rows
    ]


VERSION_ACTIONS = frozenset({"assessment.create", "assessment.new_version"})
"""Entries that record a stored version (their details carry its content hash and rule-set version)."""


@dataclass(slots=True)  # one per stored version: a large log holds millions
class _LoggedVersion:
    """What the audit log says about one stored version."""

    content_sha256: str
    author: str
    ruleset_version: str | None  # None in entries that did not record it


@dataclass(slots=True)
class _LoggedAssessment:
    """What the audit log says about one assessment's head row (``assessments``)."""

    created_by: str | None = None
    latest_version: int = 0
    deleted_by: str | None = None


def verify(engine: Engine) -> VerifyReport:
    """Walk the whole chain, every stored version and every assessment; report each broken link or mismatch.

    Besides the chain itself, what the database shows must be what the log recorded: each version's
    content, author and rule-set version, and each assessment's creator, latest version and
    deletion. The ``assessments`` rows change by design (a new version, a delete), so no trigger
    guards them; without this check an edit there (a deleted record brought back, the latest
    version moved back to a superseded one) would pass unseen.
    """
    problems: list[str] = []
    expected_prev = GENESIS
    expected_seq = 1
    versions: dict[tuple[str, int], _LoggedVersion] = {}
    assessments: dict[str, _LoggedAssessment] = {}
    count = 0
    with snapshot(engine).connect() as conn:
        streamed = {"stream_results": True, "yield_per": 500}  # a server-side cursor: the log can be large
        for r in conn.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq), execution_options=streamed):
            count += 1
            if r.seq != expected_seq:
                problems.append(f"entry {expected_seq} is missing (next entry found is {r.seq})")
            if r.prev_hash != expected_prev:
                problems.append(
                    f"entry {r.seq}: previous-hash link broken (an earlier entry was changed or removed)"
                )
            recomputed = entry_hash(
                r.seq, r.at, r.actor, r.action, r.object_type, r.object_id, r.details, r.prev_hash
            )
            if recomputed != r.hash:
                problems.append(f"entry {r.seq}: content does not match its hash (entry was edited)")
            _note_assessment_entry(r, versions, assessments)
            expected_prev = r.hash
            expected_seq = r.seq + 1
        head = conn.execute(select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == 1)).one()
        if (head.seq, head.hash) != (expected_seq - 1, expected_prev):
            problems.append(
                f"chain head says entry {head.seq} is the last but the log ends at {expected_seq - 1} "
                "(entries were removed from the end, or the head was edited)"
            )
        checked = _check_versions(conn, versions, streamed, problems)
        _check_assessments(conn, assessments, streamed, problems)
        conn.rollback()
    return VerifyReport(ok=not problems, entries=count, versions_checked=checked, problems=tuple(problems))


def _note_assessment_entry(
    r: Any, versions: dict[tuple[str, int], _LoggedVersion], assessments: dict[str, _LoggedAssessment]
) -> None:
    """Record what an entry says about an assessment (its versions, creator, deletion)."""
    if r.object_type != "assessment":
        return
    logged = assessments.setdefault(r.object_id, _LoggedAssessment())
    if r.action in VERSION_ACTIONS:
        details = json.loads(r.details)
        version = int(details["version"])
        versions[(r.object_id, version)] = _LoggedVersion(
            str(details["content_sha256"]), r.actor, details.get("ruleset_version")
        )
        logged.latest_version = max(logged.latest_version, version)
        if r.action == "assessment.create":
            logged.created_by = r.actor
    elif r.action == "assessment.delete":
        logged.deleted_by = r.actor


def _check_versions(
    conn: Connection,
    logged_versions: dict[tuple[str, int], _LoggedVersion],
    streamed: dict[str, Any],
    problems: list[str],
) -> int:
    """Compare every stored version with its entry; returns how many versions were checked."""
    checked = 0
    stmt = select(
        AssessmentVersionRow.assessment_id,
        AssessmentVersionRow.version,
        AssessmentVersionRow.inputs,
        AssessmentVersionRow.outputs,
        AssessmentVersionRow.content_sha256,
        AssessmentVersionRow.author,
        AssessmentVersionRow.ruleset_version,
    )
    for v in conn.execute(stmt, execution_options=streamed):
        checked += 1
        key = (v.assessment_id, v.version)
        actual = content_hash(v.inputs, v.outputs)
        logged = logged_versions.pop(key, None)
        if logged is None:
            problems.append(f"assessment {v.assessment_id} v{v.version} has no audit entry")
        elif actual != logged.content_sha256 or actual != v.content_sha256:
            problems.append(
                f"assessment {v.assessment_id} v{v.version}: stored content does not match the audit log"
            )
        elif v.author != logged.author:
            problems.append(
                f"assessment {v.assessment_id} v{v.version}: stored author {v.author!r} does not match the audit log"
            )
        elif logged.ruleset_version is not None and v.ruleset_version != logged.ruleset_version:
            problems.append(
                f"assessment {v.assessment_id} v{v.version}: stored ruleset_version {v.ruleset_version!r} "
                "does not match the audit log"
            )
    for aid, ver in sorted(logged_versions):
        problems.append(f"assessment {aid} v{ver} is in the audit log but missing from the database")
    return checked


def _check_assessments(
    conn: Connection, logged: dict[str, _LoggedAssessment], streamed: dict[str, Any], problems: list[str]
) -> None:
    """Compare every assessment's head row (creator, latest version, deletion) with the log."""
    stmt = select(
        AssessmentRow.id,
        AssessmentRow.created_by,
        AssessmentRow.latest_version,
        AssessmentRow.deleted,
        AssessmentRow.deleted_by,
    )
    for a in conn.execute(stmt, execution_options=streamed):
        said = logged.get(a.id)
        if said is None or said.created_by is None:
            problems.append(f"assessment {a.id} has no audit entry")
            continue
        if a.created_by != said.created_by:
            problems.append(
                f"assessment {a.id}: created by {a.created_by!r} in the database, "
                f"by {said.created_by!r} in the audit log"
            )
        if a.latest_version != said.latest_version:
            problems.append(
                f"assessment {a.id}: shows version {a.latest_version} as the latest, "
                f"but the audit log's latest is version {said.latest_version}"
            )
        if a.deleted and said.deleted_by is None:
            problems.append(
                f"assessment {a.id}: marked deleted by {a.deleted_by!r}, but the audit log records no deletion"
            )
        elif not a.deleted and said.deleted_by is not None:
            problems.append(
                f"assessment {a.id}: shown as not deleted, but the audit log records its deletion by {said.deleted_by}"
            )
        elif a.deleted and a.deleted_by != said.deleted_by:
            problems.append(
                f"assessment {a.id}: deleted by {a.deleted_by!r} in the database, "
                f"by {said.deleted_by!r} in the audit log"
            )
