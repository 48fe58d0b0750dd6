"""ingestion: providers' batches, quarantine and the sources of each record

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trustledger.store.tables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ingest_batches",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("batch", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("batch_key", sa.String(length=200), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("encoding", sa.String(length=40), nullable=True),
        sa.Column("delimiter", sa.String(length=4), nullable=True),
        sa.Column("mapping_source", sa.Text(), nullable=True),
        sa.Column("mapping_sha256", sa.String(length=64), nullable=True),
        sa.Column("mapping_text", sa.Text(), nullable=True),
        sa.Column("policy_version_id", Id, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("stored", sa.BigInteger(), nullable=False),
        sa.Column("problems", sa.BigInteger(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("received_at", trustledger.store.tables.UTCDateTime(), nullable=False),
        sa.Column("received_by", sa.String(length=64), nullable=False),
        sa.Column("retry_of", Id, nullable=True),
        sa.ForeignKeyConstraint(
            ["policy_version_id"],
            ["policy_versions.id"],
            name=op.f("fk_ingest_batches_policy_version_id_policy_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["retry_of"],
            ["ingest_batches.id"],
            name=op.f("fk_ingest_batches_retry_of_ingest_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_batches")),
    )
    with op.batch_alter_table("ingest_batches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ingest_batches_provider_file_sha256", ["provider", "file_sha256"], unique=False
        )
        batch_op.create_index("ix_ingest_batches_status", ["status"], unique=False)
        batch_op.create_index("ix_ingest_batches_received_at", ["received_at"], unique=False)

    op.create_table(
        "quarantine_files",
        sa.Column("batch_id", Id, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["ingest_batches.id"],
            name=op.f("fk_quarantine_files_batch_id_ingest_batches"),
        ),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_quarantine_files")),
    )

    op.create_table(
        "record_sources",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("record_id", Id, nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("fact_key", sa.String(length=300), nullable=False),
        sa.Column("batch", sa.String(length=100), nullable=False),
        sa.Column("linked_at", trustledger.store.tables.UTCDateTime(), nullable=False),
        sa.Column("differences", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_record_sources_record_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_sources")),
        sa.UniqueConstraint("provider", "reference", name="uq_record_sources_provider_reference"),
    )
    with op.batch_alter_table("record_sources", schema=None) as batch_op:
        batch_op.create_index("ix_record_sources_fact_key", ["fact_key"], unique=False)
        batch_op.create_index("ix_record_sources_record_id", ["record_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("record_sources", schema=None) as batch_op:
        batch_op.drop_index("ix_record_sources_record_id")
        batch_op.drop_index("ix_record_sources_fact_key")
    op.drop_table("record_sources")
    op.drop_table("quarantine_files")
    with op.batch_alter_table("ingest_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_ingest_batches_received_at")
        batch_op.drop_index("ix_ingest_batches_status")
        batch_op.drop_index("ix_ingest_batches_provider_file_sha256")
    op.drop_table("ingest_batches")
