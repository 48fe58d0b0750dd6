"""web sign-in: browser sessions and one-time sign-in codes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trustledger.store.tables

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id_sha256", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", trustledger.store.tables.UTCDateTime(), nullable=False),
        sa.Column("expires_at", trustledger.store.tables.UTCDateTime(), nullable=False),
        sa.Column("ended_at", trustledger.store.tables.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id_sha256", name=op.f("pk_web_sessions")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_web_sessions_key_id", ["key_id"], unique=False)
    op.create_table(
        "signin_codes",
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", trustledger.store.tables.UTCDateTime(), nullable=False),
        sa.Column("expires_at", trustledger.store.tables.UTCDateTime(), nullable=False),
        sa.Column("used_at", trustledger.store.tables.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("code_sha256", name=op.f("pk_signin_codes")),
    )


def downgrade() -> None:
    op.drop_table("signin_codes")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_web_sessions_key_id")
    op.drop_table("web_sessions")
