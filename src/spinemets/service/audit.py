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
from typing import Any

import pydantic_core
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.engine import Connection

from spinemets.service.db import DriverStatement, PairedWrite, reader, snapshot
from spinemets.service.schema import AssessmentVersionRow, AuditEntryRow, AuditHeadRow

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
    """The JSON text stored for inputs and outputs (compact, UTF-8 kept); hashed exactly as stored.

    pydantic-core's serialiser gives the same text as ``json.dumps`` with compact separators, about
    three times faster, which matters for an assessment of some 70 kB.
    """
    return pydantic_core.to_json(obj).decode()


def content_hash(inputs_json: str, outputs_json: str) -> str:
    """SHA-256 of a stored version's inputs and outputs, over the exact JSON texts stored."""
    digest = hashlib.sha256(inputs_json.encode())
    digest.update(b"\x1e")
    digest.update(outputs_json.encode())
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
    conn: Connection, *, actor: str, action: str, object_type: str, object_id: str, details: dict[str, Any]
) -> AuditEntry:
    """Append one entry inside the caller's transaction (so the entry and the change commit together)."""
    head_seq, head_hash = _head_for_update(conn)
    seq = head_seq + 1
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


def verify(engine: Engine) -> VerifyReport:
    """Walk the whole chain and every stored version; report each broken link or mismatch."""
    problems: list[str] = []
    expected_prev = GENESIS
    expected_seq = 1
    version_hashes: dict[tuple[str, int], str] = {}
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
            if r.action in {"assessment.create", "assessment.new_version"}:
                details = json.loads(r.details)
                version_hashes[(r.object_id, int(details["version"]))] = str(details["content_sha256"])
            expected_prev = r.hash
            expected_seq = r.seq + 1
        head = conn.execute(select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == 1)).one()
        if (head.seq, head.hash) != (expected_seq - 1, expected_prev):
            problems.append(
                f"chain head says entry {head.seq} is the last but the log ends at {expected_seq - 1} "
                "(entries were removed from the end, or the head was edited)"
            )
        checked = 0
        stmt = select(
            AssessmentVersionRow.assessment_id,
            AssessmentVersionRow.version,
            AssessmentVersionRow.inputs,
            AssessmentVersionRow.outputs,
            AssessmentVersionRow.content_sha256,
        )
        for v in conn.execute(stmt, execution_options=streamed):
            checked += 1
            key = (v.assessment_id, v.version)
            actual = content_hash(v.inputs, v.outputs)
            logged = version_hashes.pop(key, None)
            if logged is None:
                problems.append(f"assessment {v.assessment_id} v{v.version} has no audit entry")
            elif actual != logged or actual != v.content_sha256:
                problems.append(
                    f"assessment {v.assessment_id} v{v.version}: stored content does not match the audit log"
                )
        for aid, ver in sorted(version_hashes):
            problems.append(f"assessment {aid} v{ver} is in the audit log but missing from the database")
        conn.rollback()
    return VerifyReport(ok=not problems, entries=count, versions_checked=checked, problems=tuple(problems))
