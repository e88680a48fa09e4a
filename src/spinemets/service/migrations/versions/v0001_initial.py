"""Initial schema: assessments with immutable versions, hash-chained audit log, API keys, users.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_APPEND_ONLY = ("audit_log", "assessment_versions")


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "assessments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("assessment_date", sa.Date(), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("deleted_at", tz, nullable=True),
        sa.Column("deleted_by", sa.String(200), nullable=True),
    )
    op.create_index("ix_assessments_patient_id", "assessments", ["patient_id"])
    op.create_index("ix_assessments_assessment_date", "assessments", ["assessment_date"])
    op.create_table(
        "assessment_versions",
        sa.Column("assessment_id", sa.String(36), sa.ForeignKey("assessments.id"), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("ruleset_version", sa.String(64), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("outputs", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_assessment_versions_created_at", "assessment_versions", ["created_at"])
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("object_id", sa.String(64), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute(sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')"))
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(100), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("revoked_at", tz, nullable=True),
    )
    op.create_table(
        "users",
        sa.Column("username", sa.String(100), primary_key=True),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("scopes", sa.String(100), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    _append_only_triggers()


def _append_only_triggers() -> None:
    """Make the database itself refuse UPDATE and DELETE on the append-only tables."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in _APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    sa.text(
                        f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                    )
                )
    elif dialect == "postgresql":
        op.execute(
            sa.text(
                "CREATE OR REPLACE FUNCTION spinemets_append_only() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
            )
        )
        for table in _APPEND_ONLY:
            op.execute(
                sa.text(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION spinemets_append_only()"
                )
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in _APPEND_ONLY:
            op.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
        op.execute(sa.text("DROP FUNCTION IF EXISTS spinemets_append_only()"))
    for table in ("users", "api_keys", "audit_head", "audit_log", "assessment_versions", "assessments"):
        op.drop_table(table)
