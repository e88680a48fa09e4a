"""CDS Hooks state kept in the service database, so that every worker process shares it.

* :class:`DbReplayCache`: the JWT ids already used. A use is an INSERT into ``cds_jti`` whose
  primary key is (issuer, jti); the database lets exactly one of two concurrent inserts of the same
  pair through (``ON CONFLICT DO NOTHING``, SQLite and PostgreSQL), so a token replayed to another
  worker, or raced to two workers at once, is refused. Rows of expired tokens are deleted as new
  ones arrive.
* :class:`DbFeedbackLog`: the feedback items, appended to ``cds_feedback`` (the database refuses
  UPDATE and DELETE on it) with one audit entry per feedback call in the same transaction. The
  audit entry holds ids, outcomes and a hash, never the clinician's comment.

Both implement the protocols of :mod:`spinemets.interop.cds_hooks` (``ReplayCache``,
``FeedbackStore``), whose in-memory versions serve library use without a database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from spinemets.interop.cds_hooks import FeedbackItem
from spinemets.service import audit
from spinemets.service.db import reader
from spinemets.service.schema import CdsFeedbackRow, CdsJtiRow
from spinemets.service.storage import AssessmentStore

_INSERT_FEEDBACK = insert(CdsFeedbackRow).returning(CdsFeedbackRow.id)


def _insert_new(dialect: str) -> Any:
    """INSERT of a (iss, jti) row that does nothing (returns no row) when the pair is already there."""
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(CdsJtiRow).on_conflict_do_nothing(index_elements=["iss", "jti"])
    return stmt.returning(CdsJtiRow.jti)  # a row back only when it was inserted (rowcount is not portable)


class DbReplayCache:
    """The replay cache of :class:`~spinemets.interop.cds_hooks.JwtVerifier`, in the store's database."""

    def __init__(self, store: AssessmentStore) -> None:
        self.store = store
        self._insert = _insert_new(store.dialect)

    def claim(self, iss: str, jti: str, exp: float, *, now: float, leeway_s: float) -> bool:
        with self.store.write_transaction() as conn:
            conn.execute(delete(CdsJtiRow).where(CdsJtiRow.expires_at < now - leeway_s))
            row = conn.execute(self._insert, {"iss": iss, "jti": jti, "expires_at": float(exp)}).first()
        return row is not None

    def __contains__(self, key: object) -> bool:
        if not (isinstance(key, tuple) and len(key) == 2):
            return False
        stmt = select(CdsJtiRow.jti).where(CdsJtiRow.iss == key[0], CdsJtiRow.jti == key[1])
        with reader(self.store.engine).connect() as conn:
            found = conn.execute(stmt).first() is not None
            conn.rollback()
        return found


class DbFeedbackLog:
    """CDS Hooks feedback appended to the store's database, audited."""

    def __init__(self, store: AssessmentStore) -> None:
        self.store = store

    def add(self, service_id: str, items: Sequence[FeedbackItem], *, client: str = "unauthenticated") -> int:
        if not items:
            return 0
        now = dt.datetime.now(dt.UTC)
        texts = [item.model_dump_json(exclude_none=True) for item in items]
        rows = [
            {
                "received_at": now,
                "service_id": service_id,
                "client": client[:200],
                "card": item.card[:200],
                "outcome": item.outcome.value,
                "item": text,
            }
            for item, text in zip(items, texts, strict=True)
        ]
        digest = hashlib.sha256("\x1e".join(texts).encode()).hexdigest()
        with self.store.write_transaction() as conn:
            ids = [int(conn.execute(_INSERT_FEEDBACK, row).scalar_one()) for row in rows]
            audit.append(
                conn,
                actor=client[:200],
                action="cds.feedback",
                object_type="cds_service",
                object_id=service_id[:64],
                details={
                    "feedback_ids": ids,
                    "outcomes": [item.outcome.value for item in items],
                    "content_sha256": digest,
                },
            )
        return len(rows)

    def items(self, limit: int = 1000) -> list[tuple[str, FeedbackItem]]:
        if limit <= 0:
            return []
        stmt = (
            select(CdsFeedbackRow.service_id, CdsFeedbackRow.item)
            .order_by(CdsFeedbackRow.id.desc())
            .limit(limit)
        )
        with reader(self.store.engine).connect() as conn:
            rows = conn.execute(stmt).all()
            conn.rollback()
        return [(r.service_id, FeedbackItem.model_validate_json(r.item)) for r in reversed(rows)]


__all__ = ["DbFeedbackLog", "DbReplayCache"]
