"""The assistant's draft prescriptions: one per consultation, for its doctor, until issued
from the prescription form or discarded.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 05:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicflow.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assistant_drafts",
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("question_seq", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_assistant_drafts_consultation_id_consultations"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["users.id"], name=op.f("fk_assistant_drafts_doctor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_drafts")),
        sa.UniqueConstraint("consultation_id", name=op.f("uq_assistant_drafts_consultation_id")),
    )


def downgrade() -> None:
    op.drop_table("assistant_drafts")
