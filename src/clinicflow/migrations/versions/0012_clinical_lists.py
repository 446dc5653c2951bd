"""The patient's clinical lists: allergies, conditions and medications, one row per line
holding its latest version and every version kept beside it.

Encrypted columns are plain TEXT here: the encryption happens in the application
(`clinicflow.core.security.EncryptedText`), so the schema does not depend on it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicflow.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clinical_items",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("updated_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["users.id"], name=op.f("fk_clinical_items_patient_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_clinical_items_recorded_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_clinical_items_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_items")),
    )
    with op.batch_alter_table("clinical_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_clinical_items_patient_id_kind", ["patient_id", "kind"], unique=False
        )

    op.create_table(
        "clinical_item_versions",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_clinical_item_versions_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["clinical_items.id"],
            name=op.f("fk_clinical_item_versions_item_id_clinical_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_item_versions")),
        sa.UniqueConstraint("item_id", "version", name="uq_clinical_item_versions_version"),
    )


def downgrade() -> None:
    op.drop_table("clinical_item_versions")
    with op.batch_alter_table("clinical_items", schema=None) as batch_op:
        batch_op.drop_index("ix_clinical_items_patient_id_kind")

    op.drop_table("clinical_items")
