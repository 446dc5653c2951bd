"""Consultations: the consultation, its messages (one `seq` and one client id each) and
attachments; the doctor's meeting link.

Encrypted columns are plain TEXT here: the encryption happens in the application
(`clinicflow.core.security.EncryptedText`), so the schema does not depend on it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:26:27.711118
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicflow.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consultations",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "chat",
                "audio",
                "video",
                name="consultationtype",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "active",
                "declined",
                "ended",
                name="consultationstatus",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("meet_url", sa.String(length=64), nullable=True),
        sa.Column("accepted_at", clinicflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", clinicflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("recording_url", sa.String(length=2000), nullable=True),
        sa.Column("recording_duration_seconds", sa.Integer(), nullable=True),
        sa.Column("recording_size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_consultations_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["users.id"], name=op.f("fk_consultations_doctor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["users.id"], name=op.f("fk_consultations_patient_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultations")),
    )
    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consultations_doctor_id_status", ["doctor_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_consultations_patient_id_created_at", ["patient_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_consultations_status_created_at", ["status", "created_at"], unique=False
        )

    op.create_table(
        "consultation_messages",
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=80), nullable=False),
        sa.Column("sender_id", sa.Uuid(), nullable=True),
        sa.Column(
            "sender_role",
            sa.Enum(
                "patient",
                "doctor",
                "system",
                name="senderrole",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "text",
                "attachment",
                "system",
                name="messagekind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_consultation_messages_consultation_id_consultations"),
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["users.id"], name=op.f("fk_consultation_messages_sender_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_messages")),
        sa.UniqueConstraint(
            "consultation_id", "client_id", name="uq_consultation_messages_client_id"
        ),
        sa.UniqueConstraint("consultation_id", "seq", name="uq_consultation_messages_seq"),
    )
    op.create_table(
        "consultation_attachments",
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_consultation_attachments_consultation_id_consultations"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["consultation_messages.id"],
            name=op.f("fk_consultation_attachments_message_id_consultation_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_attachments")),
        sa.UniqueConstraint("message_id", name=op.f("uq_consultation_attachments_message_id")),
    )
    with op.batch_alter_table("consultation_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consultation_attachments_consultation_id"),
            ["consultation_id"],
            unique=False,
        )

    with op.batch_alter_table("doctor_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meet_url", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("doctor_profiles", schema=None) as batch_op:
        batch_op.drop_column("meet_url")

    with op.batch_alter_table("consultation_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consultation_attachments_consultation_id"))

    op.drop_table("consultation_attachments")
    op.drop_table("consultation_messages")
    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.drop_index("ix_consultations_status_created_at")
        batch_op.drop_index("ix_consultations_patient_id_created_at")
        batch_op.drop_index("ix_consultations_doctor_id_status")

    op.drop_table("consultations")
