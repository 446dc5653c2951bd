"""The weekly report: a notification type `weekly_report`, and files an e-mail carries
(`notification_attachments`: the report's PDF and CSV, kept so a retry sends the same bytes).

The type is a string with a CHECK (`db.string_enum`) on two tables, so this widens both.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "booking_confirmed",
    "booking_cancelled",
    "booking_moved",
    "reminder_24h",
    "reminder_1h",
    "checked_in",
    "queue_top10",
    "queue_top3",
    "queue_next",
    "queue_turn",
    "queue_missed",
    "queue_new_token",
    "doctor_away",
    "meeting_link",
    "consult_accepted",
    "consult_declined",
    "consult_ended",
    "chat_message",
)


def _kinds(kinds: Sequence[str]) -> None:
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    for table in ("notifications", "notification_preferences"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_kind"), type_="check")
            batch.create_check_constraint("kind", sa.text(f"kind IN ({listed})"))


def upgrade() -> None:
    _kinds((*KINDS, "weekly_report"))
    op.create_table(
        "notification_attachments",
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("content_type", sa.String(length=80), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_attachments_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_attachments")),
    )
    op.create_index(
        op.f("ix_notification_attachments_notification_id"),
        "notification_attachments",
        ["notification_id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_notification_attachments_notification_id"), table_name="notification_attachments"
    )
    op.drop_table("notification_attachments")
    # Refused while a weekly report is stored: the old check does not hold it.
    _kinds(KINDS)
