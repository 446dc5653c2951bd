"""Nothing lost without a socket, and SMS that survives an outage: realtime's per-user
event log (`user:<id>` can be polled and resumed) and the log of failed delivery attempts
with the provider's answer.

`realtime_user_events.data` is plain TEXT here: it is encrypted by the application
(`clinicflow.core.security.EncryptedText`).

Revision ID: 0017
Revises: 0012
Create Date: 2026-12-06 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicflow.db

revision: str = "0017"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "realtime_user_heads",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_realtime_user_heads_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_realtime_user_heads")),
    )
    op.create_table(
        "realtime_user_events",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_realtime_user_events_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_realtime_user_events")),
        sa.UniqueConstraint("user_id", "seq", name=op.f("uq_realtime_user_events_user_id")),
    )
    with op.batch_alter_table("realtime_user_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_realtime_user_events_created_at"), ["created_at"], unique=False
        )
    op.create_table(
        "notification_attempts",
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["notification_deliveries.id"],
            name=op.f("fk_notification_attempts_delivery_id_notification_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_attempts")),
    )
    with op.batch_alter_table("notification_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_attempts_delivery_id"), ["delivery_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_attempts_delivery_id"))
    op.drop_table("notification_attempts")
    with op.batch_alter_table("realtime_user_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_realtime_user_events_created_at"))
    op.drop_table("realtime_user_events")
    op.drop_table("realtime_user_heads")
