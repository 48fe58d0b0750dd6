"""identity resolution: identity decisions and the identity review queue

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trustledger.store.tables

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = trustledger.store.tables.UTCDateTime


def upgrade() -> None:
    # A plain ADD COLUMN with its reference inline. On SQLite, Alembic adds a constraint
    # only by a batch operation, which copies the table and drops the old one: the rows
    # that refer to subjects forbid that, so it failed on every registry holding data.
    # SQLite takes the reference in ADD COLUMN itself.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE subjects ADD COLUMN merged_into INTEGER "
            "CONSTRAINT fk_subjects_merged_into_subjects REFERENCES subjects (id)"
        )
    else:
        op.add_column(
            "subjects",
            sa.Column(
                "merged_into",
                Id,
                sa.ForeignKey("subjects.id", name=op.f("fk_subjects_merged_into_subjects")),
                nullable=True,
            ),
        )
    op.create_table(
        "identity_profiles",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("subject_id", Id, nullable=False),
        sa.Column("record_id", Id, nullable=True),
        sa.Column("registration_of", Id, nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_identity_profiles_subject_id_subjects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_profiles")),
        sa.UniqueConstraint("record_id", name="uq_identity_profiles_record_id"),
        sa.UniqueConstraint("registration_of", name="uq_identity_profiles_registration_of"),
    )
    with op.batch_alter_table("identity_profiles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_profiles_subject_id"), ["subject_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_profiles_name_key"), ["name_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_profiles_birth_date"), ["birth_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_identity_profiles_phone"), ["phone"], unique=False)
    op.create_table(
        "identity_decisions",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=True),
        sa.Column("record_id", Id, nullable=True),
        sa.Column("subject_id", Id, nullable=False),
        sa.Column("other_subject_id", Id, nullable=True),
        sa.Column("match_weight", sa.Float(), nullable=True),
        sa.Column("match_probability", sa.Float(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("decided_at", UTC(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("ended_at", UTC(), nullable=True),
        sa.Column("ended_by", Id, nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_identity_decisions_record_id_records")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_identity_decisions_subject_id_subjects")
        ),
        sa.ForeignKeyConstraint(
            ["other_subject_id"],
            ["subjects.id"],
            name=op.f("fk_identity_decisions_other_subject_id_subjects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_decisions")),
    )
    with op.batch_alter_table("identity_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_identity_decisions_kind_ended_at", ["kind", "ended_at"], unique=False
        )
        batch_op.create_index("ix_identity_decisions_record_id", ["record_id"], unique=False)
        batch_op.create_index("ix_identity_decisions_subject_id", ["subject_id"], unique=False)
        batch_op.create_index(
            "ix_identity_decisions_other_subject_id", ["other_subject_id"], unique=False
        )
    op.create_table(
        "identity_models",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("loaded_at", UTC(), nullable=False),
        sa.Column("loaded_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_models")),
        sa.UniqueConstraint("sha256", name="uq_identity_models_sha256"),
    )


def downgrade() -> None:
    op.drop_table("identity_models")
    with op.batch_alter_table("identity_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_decisions_other_subject_id")
        batch_op.drop_index("ix_identity_decisions_subject_id")
        batch_op.drop_index("ix_identity_decisions_record_id")
        batch_op.drop_index("ix_identity_decisions_kind_ended_at")
    op.drop_table("identity_decisions")
    with op.batch_alter_table("identity_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_profiles_phone"))
        batch_op.drop_index(batch_op.f("ix_identity_profiles_birth_date"))
        batch_op.drop_index(batch_op.f("ix_identity_profiles_name_key"))
        batch_op.drop_index(batch_op.f("ix_identity_profiles_subject_id"))
    op.drop_table("identity_profiles")
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_subjects_merged_into_subjects"), type_="foreignkey")
        batch_op.drop_column("merged_into")
