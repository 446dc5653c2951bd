"""The doctor's private assistant thread: `consultation_messages.private_to_id`, the doctor a
message (their `@b` question, or its answer) is private to; null for the shared chat.

Revision ID: 0023
Revises: 0019
Create Date: 2026-12-06 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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
