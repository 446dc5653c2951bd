"""Staff accounts and doctors' profiles: one-time invitation links (stored hashed), the
flag that makes a temporary password be changed at the first sign-in, the specialty list
(English and Swahili names), and the profile's specialty, languages, visit kinds and photo.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-06 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicflow.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch copy of `users` would have to drop a table every other
    # table points at.
    op.add_column(
        "users",
        sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "invitations",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", clinicflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_invitations_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_invitations_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_index(op.f("ix_invitations_user_id"), "invitations", ["user_id"], unique=False)
    op.create_table(
        "specialties",
        sa.Column("name_en", sa.String(length=80), nullable=False),
        sa.Column("name_sw", sa.String(length=80), nullable=False),
        sa.Column("created_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", clinicflow.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_specialties")),
        sa.UniqueConstraint("name_en", name=op.f("uq_specialties_name_en")),
    )
    with op.batch_alter_table("doctor_profiles") as batch:
        batch.add_column(sa.Column("specialty_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("languages", sa.JSON(), server_default="[]", nullable=False))
        batch.add_column(
            sa.Column("consultation_types", sa.JSON(), server_default="[]", nullable=False)
        )
        batch.add_column(sa.Column("photo", sa.String(length=80), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_doctor_profiles_specialty_id_specialties"),
            "specialties",
            ["specialty_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("doctor_profiles") as batch:
        batch.drop_constraint(
            batch.f("fk_doctor_profiles_specialty_id_specialties"), type_="foreignkey"
        )
        batch.drop_column("photo")
        batch.drop_column("consultation_types")
        batch.drop_column("languages")
        batch.drop_column("specialty_id")
    op.drop_table("specialties")
    op.drop_index(op.f("ix_invitations_user_id"), table_name="invitations")
    op.drop_table("invitations")
    op.drop_column("users", "must_change_password")
