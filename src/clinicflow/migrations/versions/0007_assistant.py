"""The assistant: each consultation's memory (when it is kept in the database), and the
`assistant` kind and sender of chat messages.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicflow.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


ROLES = ("patient", "doctor", "system")
KINDS = ("text", "attachment", "system")


def _message_enums(*, roles: tuple[str, ...], kinds: tuple[str, ...], before: int) -> None:
    with op.batch_alter_table("consultation_messages") as batch:
        batch.alter_column(
            "sender_role",
            type_=_enum("senderrole", *roles),
            existing_type=_enum("senderrole", *roles[:before]),
            existing_nullable=False,
        )
        batch.alter_column(
            "kind",
            type_=_enum("messagekind", *kinds),
            existing_type=_enum("messagekind", *kinds[:before]),
            existing_nullable=False,
        )


def upgrade() -> None:
    op.create_table(
        "assistant_memory",
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source_message_id", sa.Uuid(), nullable=True),
        sa.Column("source_seq", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_assistant_memory_consultation_id_consultations"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_assistant_memory_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["source_message_id"],
            ["consultation_messages.id"],
            name=op.f("fk_assistant_memory_source_message_id_consultation_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_memory")),
    )
    op.create_index(
        op.f("ix_assistant_memory_consultation_id"),
        "assistant_memory",
        ["consultation_id"],
        unique=False,
    )
    _message_enums(roles=(*ROLES, "assistant"), kinds=(*KINDS, "assistant"), before=3)


def downgrade() -> None:
    op.execute("DELETE FROM consultation_messages WHERE kind = 'assistant'")
    with op.batch_alter_table("consultation_messages") as batch:
        batch.alter_column(
            "sender_role",
            type_=_enum("senderrole", *ROLES),
            existing_type=_enum("senderrole", *ROLES, "assistant"),
            existing_nullable=False,
        )
        batch.alter_column(
            "kind",
            type_=_enum("messagekind", *KINDS),
            existing_type=_enum("messagekind", *KINDS, "assistant"),
            existing_nullable=False,
        )
    op.drop_index(op.f("ix_assistant_memory_consultation_id"), table_name="assistant_memory")
    op.drop_table("assistant_memory")
