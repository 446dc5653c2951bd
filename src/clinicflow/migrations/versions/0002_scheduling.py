"""Scheduling: availability, slot holds, appointments (one live one per slot), calendar feeds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:48:27.325966
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicflow.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("booked_by_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "mode",
            sa.Enum(
                "online",
                "in_person",
                name="mode",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "booked",
                "checked_in",
                "in_consultation",
                "completed",
                "cancelled",
                "no_show",
                name="appointmentstatus",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("cancelled_at", clinicflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booked_by_id"], ["users.id"], name=op.f("fk_appointments_booked_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["users.id"], name=op.f("fk_appointments_doctor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["users.id"], name=op.f("fk_appointments_patient_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_appointments_patient_id_starts_at", ["patient_id", "starts_at"], unique=False
        )
        batch_op.create_index(
            "uq_appointments_doctor_id_starts_at_live",
            ["doctor_id", "starts_at"],
            unique=True,
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        )

    op.create_table(
        "availabilities",
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("weekly", sa.JSON(), nullable=False),
        sa.Column("exceptions", sa.JSON(), nullable=False),
        sa.Column("updated_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["users.id"], name=op.f("fk_availabilities_doctor_id_users")
        ),
        sa.PrimaryKeyConstraint("doctor_id", name=op.f("pk_availabilities")),
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_calendar_feeds_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )
    op.create_table(
        "slot_holds",
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["users.id"], name=op.f("fk_slot_holds_doctor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["users.id"], name=op.f("fk_slot_holds_patient_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot_holds")),
        sa.UniqueConstraint("doctor_id", "starts_at", name="uq_slot_holds_doctor_id_starts_at"),
    )
    with op.batch_alter_table("slot_holds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_slot_holds_patient_id_doctor_id", ["patient_id", "doctor_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("slot_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_slot_holds_patient_id_doctor_id")

    op.drop_table("slot_holds")
    op.drop_table("calendar_feeds")
    op.drop_table("availabilities")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_appointments_doctor_id_starts_at_live",
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        )
        batch_op.drop_index("ix_appointments_patient_id_starts_at")

    op.drop_table("appointments")
