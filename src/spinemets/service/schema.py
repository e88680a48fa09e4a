"""Database tables (SQLAlchemy 2 declarative models); Alembic migrations in ``migrations/`` create them.

Assessments are append-only: ``assessment_versions`` rows are never updated or deleted (database
triggers refuse it), a change is a new version, and a deletion only flags the ``assessments`` head
row. The audit log is append-only in the same way and hash-chained (see :mod:`.audit`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ACTOR_CHARS = 200
"""Width of the columns that name who did something (author, created_by, deleted_by, the audit actor):
every caller's name (:attr:`.auth.Principal.name`) must fit."""


class Base(DeclarativeBase):
    """Declarative base; ``Base.metadata`` is the migrations' target."""


class AssessmentRow(Base):
    """One assessment over time: who created it, its latest version, whether it was deleted."""

    __tablename__ = "assessments"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    patient_id: Mapped[str | None] = mapped_column(String(64), index=True)
    assessment_date: Mapped[dt.date] = mapped_column(Date, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(ACTOR_CHARS))
    latest_version: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[str | None] = mapped_column(String(ACTOR_CHARS))


class AssessmentVersionRow(Base):
    """One immutable version: the inputs, the outputs, the rule-set version and the author."""

    __tablename__ = "assessment_versions"
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    author: Mapped[str] = mapped_column(String(ACTOR_CHARS))
    ruleset_version: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[str] = mapped_column(Text)
    """The patient as entered, JSON text exactly as hashed."""
    outputs: Mapped[str] = mapped_column(Text)
    """The assessment as computed, JSON text exactly as hashed."""
    content_sha256: Mapped[str] = mapped_column(String(64))


class AuditEntryRow(Base):
    """One audit entry; ``hash`` covers every other column and the previous entry's hash."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(ACTOR_CHARS))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The single row holding the chain's last entry; locking it serialises appends."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class ApiKeyRow(Base):
    """An API key: only the SHA-256 of its secret part is kept."""

    __tablename__ = "api_keys"
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(ACTOR_CHARS))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UserRow(Base):
    """A web user: password kept as a salted scrypt hash."""

    __tablename__ = "users"
    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    scopes: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class WebSessionRow(Base):
    """A web login session: only the SHA-256 of its random token is kept (the token is in the user's
    signed cookie); ``ended_at`` is set at logout or when the account is disabled."""

    __tablename__ = "web_sessions"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginFailureRow(Base):
    """A wrong password for a user name (any name typed), kept for the lockout window: every worker
    process counts the same failures."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_username_failed_at", "username", "failed_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100))
    failed_at: Mapped[float] = mapped_column(Float)
    """Seconds since the epoch (wall clock: the processes share no monotonic clock)."""


class CdsJtiRow(Base):
    """A CDS Hooks JWT id already used: the primary key makes a second use fail in every worker."""

    __tablename__ = "cds_jti"
    iss: Mapped[str] = mapped_column(String(500), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    """The token's ``exp`` (Unix time, seconds): the row can go once the token could no longer be used."""


class CdsFeedbackRow(Base):
    """One CDS Hooks feedback item (what the clinician did with a card), append-only."""

    __tablename__ = "cds_feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    service_id: Mapped[str] = mapped_column(String(100), index=True)
    client: Mapped[str] = mapped_column(String(200))
    """Who sent it: the JWT issuer, or ``unauthenticated`` when JWTs are not required."""
    card: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20))
    item: Mapped[str] = mapped_column(Text)
    """The feedback item as received (JSON text)."""


Index("ix_assessment_versions_created_at", AssessmentVersionRow.created_at)
