"""Wrong passwords kept in the database, so every worker process counts the same lockout.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("failed_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_login_failures_username_failed_at", "login_failures", ["username", "failed_at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_username_failed_at", table_name="login_failures")
    op.drop_table("login_failures")
