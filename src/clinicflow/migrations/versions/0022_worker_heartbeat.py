"""The worker's heartbeat (`worker_heartbeats`), read by `/health/ready`.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 08:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinicflow.db import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_heartbeats")),
    )


def downgrade() -> None:
    op.drop_table("worker_heartbeats")
