"""Calls inside a consultation: `consultation_calls`, one row per call (several per
consultation), who started it, its kind, and when it was answered and ended.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicflow.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    op.create_table(
        "consultation_calls",
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("started_by", sa.Uuid(), nullable=False),
        sa.Column("kind", _enum("callkind", "audio", "video"), nullable=False),
        sa.Column(
            "status",
            _enum("callstatus", "ringing", "connected", "ended", "declined", "missed"),
            nullable=False,
        ),
        sa.Column("started_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", clinicflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", clinicflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_consultation_calls_consultation_id_consultations"),
        ),
        sa.ForeignKeyConstraint(
            ["started_by"], ["users.id"], name=op.f("fk_consultation_calls_started_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_calls")),
    )
    op.create_index(
        "ix_consultation_calls_consultation_id_started_at",
        "consultation_calls",
        ["consultation_id", "started_at"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_consultation_calls_consultation_id_started_at", table_name="consultation_calls"
    )
    op.drop_table("consultation_calls")
