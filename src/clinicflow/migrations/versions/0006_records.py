"""Medical records: visit notes kept as versions (amendments never overwrite) and issued
prescriptions with their verification codes.

Encrypted columns are plain TEXT here: the encryption happens in the application
(`clinicflow.core.security.EncryptedText`), so the schema does not depend on it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 04:28:57.325615
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicflow.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "prescriptions",
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("issued_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verification_code", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("supersedes_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_prescriptions_consultation_id_consultations"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["users.id"], name=op.f("fk_prescriptions_doctor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["users.id"], name=op.f("fk_prescriptions_patient_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["prescriptions.id"],
            name=op.f("fk_prescriptions_supersedes_id_prescriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prescriptions")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_prescriptions_supersedes_id")),
        sa.UniqueConstraint("verification_code", name=op.f("uq_prescriptions_verification_code")),
    )
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.create_index("ix_prescriptions_consultation_id", ["consultation_id"], unique=False)
        batch_op.create_index(
            "ix_prescriptions_patient_id_issued_at", ["patient_id", "issued_at"], unique=False
        )

    op.create_table(
        "visit_note_versions",
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body_markdown", sa.Text(), nullable=False),
        sa.Column("diagnosis", sa.Text(), nullable=False),
        sa.Column("follow_up_on", sa.Date(), nullable=True),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_visit_note_versions_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_visit_note_versions_consultation_id_consultations"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["users.id"], name=op.f("fk_visit_note_versions_doctor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["users.id"], name=op.f("fk_visit_note_versions_patient_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_note_versions")),
        sa.UniqueConstraint("consultation_id", "version", name="uq_visit_note_versions_version"),
    )
    with op.batch_alter_table("visit_note_versions", schema=None) as batch_op:
        batch_op.create_index("ix_visit_note_versions_patient_id", ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("visit_note_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_note_versions_patient_id")

    op.drop_table("visit_note_versions")
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_prescriptions_patient_id_issued_at")
        batch_op.drop_index("ix_prescriptions_consultation_id")

    op.drop_table("prescriptions")
