"""The doctor's private assistant thread: `consultation_messages.private_to_id`, the doctor a
message (their `@b` question, or its answer) is private to; null for the shared chat.
Booking by conversation: `assistant_booking_conversations`.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicflow.db

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assistant_booking_conversations",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("wish", sa.JSON(), nullable=False),
        sa.Column("offers", sa.JSON(), nullable=False),
        sa.Column("held", sa.JSON(), nullable=True),
        sa.Column("waitlist", sa.JSON(), nullable=True),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["users.id"],
            name=op.f("fk_assistant_booking_conversations_patient_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_booking_conversations")),
    )
    op.create_index(
        op.f("ix_assistant_booking_conversations_patient_id"),
        "assistant_booking_conversations",
        ["patient_id"],
        unique=False,
    )
    with op.batch_alter_table("consultation_messages") as batch:
        batch.add_column(sa.Column("private_to_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_consultation_messages_private_to_id_users"), "users", ["private_to_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("consultation_messages") as batch:
        batch.drop_constraint(
            op.f("fk_consultation_messages_private_to_id_users"), type_="foreignkey"
        )
        batch.drop_column("private_to_id")
    op.drop_index(
        op.f("ix_assistant_booking_conversations_patient_id"),
        table_name="assistant_booking_conversations",
    )
    op.drop_table("assistant_booking_conversations")
