"""The live queue: a queue per doctor and day with its token counter, entries (one
active place per patient), versioned priority rules, reassignment history, and each
appointment's count of late arrivals.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 09:03:26.236118
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicflow.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queue_rules",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_queue_rules_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_queue_rules")),
    )
    op.create_table(
        "queues",
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_token", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("serving_token", sa.Integer(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("doctor_away", sa.Boolean(), nullable=False),
        sa.Column("doctor_absent_since", clinicflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_action", sa.JSON(), nullable=True),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["users.id"], name=op.f("fk_queues_doctor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queues")),
        sa.UniqueConstraint("doctor_id", "day", name="uq_queues_doctor_id_day"),
    )
    op.create_table(
        "queue_entries",
        sa.Column("queue_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("consultation_id", sa.Uuid(), nullable=True),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "waiting",
                "in_consultation",
                "skipped",
                "no_show",
                "completed",
                name="entrystatus",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "severity",
            sa.Enum(
                "emergency",
                "urgent",
                "routine",
                name="severity",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "patient_type",
            sa.Enum(
                "adult",
                "child",
                "elderly",
                "pregnant",
                "disabled",
                name="patienttype",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "check_in",
                "walk_in",
                "requeue",
                name="entrysource",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("appointment_starts_at", clinicflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("joined_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ready_at", clinicflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("called_at", clinicflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("skipped_at", clinicflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", clinicflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("pinned_before_id", sa.Uuid(), nullable=True),
        sa.Column("pinned_at", clinicflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_queue_entries_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_queue_entries_consultation_id_consultations"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["users.id"], name=op.f("fk_queue_entries_doctor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["users.id"], name=op.f("fk_queue_entries_patient_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queues.id"], name=op.f("fk_queue_entries_queue_id_queues")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_entries")),
        sa.UniqueConstraint("queue_id", "token", name="uq_queue_entries_queue_id_token"),
    )
    with op.batch_alter_table("queue_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queue_entries_doctor_id_finished_at", ["doctor_id", "finished_at"], unique=False
        )
        batch_op.create_index(
            "ix_queue_entries_patient_id_day", ["patient_id", "day"], unique=False
        )
        batch_op.create_index(
            "ix_queue_entries_queue_id_status", ["queue_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_queue_entries_status_skipped_at", ["status", "skipped_at"], unique=False
        )
        batch_op.create_index(
            "uq_queue_entries_queue_id_patient_id_active",
            ["queue_id", "patient_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('waiting', 'in_consultation', 'skipped')"),
            postgresql_where=sa.text("status IN ('waiting', 'in_consultation', 'skipped')"),
        )

    op.create_table(
        "queue_reassignments",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("old_entry_id", sa.Uuid(), nullable=False),
        sa.Column("new_entry_id", sa.Uuid(), nullable=False),
        sa.Column("old_token", sa.Integer(), nullable=False),
        sa.Column("new_token", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_queue_reassignments_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["new_entry_id"],
            ["queue_entries.id"],
            name=op.f("fk_queue_reassignments_new_entry_id_queue_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["old_entry_id"],
            ["queue_entries.id"],
            name=op.f("fk_queue_reassignments_old_entry_id_queue_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["users.id"], name=op.f("fk_queue_reassignments_patient_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_reassignments")),
    )
    with op.batch_alter_table("queue_reassignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queue_reassignments_appointment_id", ["appointment_id"], unique=False
        )

    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("late_arrivals", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("late_arrivals")

    with op.batch_alter_table("queue_reassignments", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_reassignments_appointment_id")

    op.drop_table("queue_reassignments")
    with op.batch_alter_table("queue_entries", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_queue_entries_queue_id_patient_id_active",
            sqlite_where=sa.text("status IN ('waiting', 'in_consultation', 'skipped')"),
            postgresql_where=sa.text("status IN ('waiting', 'in_consultation', 'skipped')"),
        )
        batch_op.drop_index("ix_queue_entries_status_skipped_at")
        batch_op.drop_index("ix_queue_entries_queue_id_status")
        batch_op.drop_index("ix_queue_entries_patient_id_day")
        batch_op.drop_index("ix_queue_entries_doctor_id_finished_at")

    op.drop_table("queue_entries")
    op.drop_table("queues")
    op.drop_table("queue_rules")
