"""Offline clients: an appointment's version, the applied mutations and the pull cursors.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointments") as batch:
        batch.add_column(
            sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
    op.create_table(
        "sync_mutations",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sync_mutations_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "client_id", name=op.f("pk_sync_mutations")),
    )
    op.create_table(
        "sync_cursors",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("seen", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sync_cursors_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_cursors")),
    )
    op.create_index("ix_sync_cursors_user_id_created_at", "sync_cursors", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_sync_cursors_user_id_created_at", table_name="sync_cursors")
    op.drop_table("sync_cursors")
    op.drop_table("sync_mutations")
    with op.batch_alter_table("appointments") as batch:
        batch.drop_column("version")
