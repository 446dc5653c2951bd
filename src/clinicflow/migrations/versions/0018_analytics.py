"""Analytics: the daily roll-up per doctor and clinic day, and the days it has closed.

Also an index on the instant of each table the roll-up reads one clinic day of (queue
places by arrival, appointments by start and by booking, consultations, their messages
and deliveries by creation): without them every day's roll-up scans the whole table.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicflow.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY_INDEXES = (
    ("queue_entries", "ix_queue_entries_joined_at", "joined_at"),
    ("appointments", "ix_appointments_starts_at", "starts_at"),
    ("appointments", "ix_appointments_created_at", "created_at"),
    ("consultations", "ix_consultations_created_at", "created_at"),
    ("consultation_messages", "ix_consultation_messages_created_at", "created_at"),
    ("notification_deliveries", "ix_notification_deliveries_created_at", "created_at"),
)
COUNTS = (
    "check_ins",
    "walk_ins",
    "requeues",
    "completed",
    "no_shows",
    "new_patients",
    "returning_patients",
    "booked",
    "due",
    "cancelled",
    "late_cancelled",
    "assistant_answers",
)


def upgrade() -> None:
    op.create_table(
        "analytics_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.Column("by_type", sa.JSON(), nullable=False),
        sa.Column("arrivals_by_hour", sa.JSON(), nullable=False),
        sa.Column("wait_minutes", sa.JSON(), nullable=False),
        sa.Column("service_minutes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("day", "doctor_id", name=op.f("pk_analytics_daily")),
    )
    op.create_table(
        "analytics_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("deliveries", sa.JSON(), nullable=False),
        sa.Column("rolled_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_analytics_days")),
    )
    for table, name, column in DAY_INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, [column], unique=False)


def downgrade() -> None:
    for table, name, _column in reversed(DAY_INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    op.drop_table("analytics_days")
    op.drop_table("analytics_daily")
