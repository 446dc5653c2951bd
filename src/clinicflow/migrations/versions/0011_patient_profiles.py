"""The patient's clinical profile (estimated age, sex, identity and insurance numbers, next
of kin) with its kept versions, the doctor's registration number, and the appointment's
and the re-queue's reasons encrypted at rest.

Encrypted columns are plain TEXT here (the application encrypts,
`clinicflow.core.security.EncryptedText`), but the reasons already stored are clear text,
so this revision rewrites them with the field key: the one the running process configured
(`clinicflow migrate` configures it from the settings), else the one the settings give.
Downgrading decrypts them again.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

import clinicflow.db
from clinicflow.core import security

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEX = sa.Enum(
    "female",
    "male",
    "other",
    "unknown",
    name="sex",
    native_enum=False,
    create_constraint=True,
    length=20,
)
# (table, key column, text column) of the clinical text this revision encrypts.
REASONS = (("appointments", "id", "reason"), ("queue_reassignments", "id", "reason"))


def _ensure_field_key() -> None:
    if not security.field_encryption_configured():
        from clinicflow.config import get_settings

        settings = get_settings()
        security.configure_field_encryption(
            keys=settings.field_encryption_keys, secret_key=settings.secret_key
        )


def _rewrite(transform: Callable[[str], str]) -> None:
    """Rewrite every stored reason through `transform`, row by row (a clinic's reasons fit
    in memory; the rows are few next to the messages)."""
    connection = op.get_bind()
    for table_name, key, column in REASONS:
        table = sa.table(table_name, sa.column(key, sa.Uuid()), sa.column(column, sa.Text()))
        rows = connection.execute(sa.select(table.c[key], table.c[column])).all()
        if rows:
            _ensure_field_key()
        for row_key, value in rows:
            if value is None:
                continue
            connection.execute(
                sa.update(table).where(table.c[key] == row_key).values({column: transform(value)})
            )


def upgrade() -> None:
    with op.batch_alter_table("patient_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("estimated_age", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("estimated_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("sex", SEX, server_default="unknown", nullable=False))
        batch_op.add_column(sa.Column("national_id", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("insurance_number", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("next_of_kin_name", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("next_of_kin_phone", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("profile_version", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("doctor_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registration_number", sa.String(length=40), nullable=True))
    op.create_table(
        "patient_profile_versions",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("values", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("changed_by_id", sa.Uuid(), nullable=True),
        sa.Column("changed_at", clinicflow.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_id"],
            ["users.id"],
            name=op.f("fk_patient_profile_versions_changed_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["users.id"], name=op.f("fk_patient_profile_versions_patient_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_profile_versions")),
        sa.UniqueConstraint(
            "patient_id", "version", name=op.f("uq_patient_profile_versions_patient_id")
        ),
    )
    with op.batch_alter_table("queue_reassignments", schema=None) as batch_op:
        batch_op.alter_column(
            "reason", existing_type=sa.String(length=200), type_=sa.Text(), existing_nullable=False
        )
    _rewrite(security.encrypt_text)


def downgrade() -> None:
    _rewrite(security.decrypt_text)
    with op.batch_alter_table("queue_reassignments", schema=None) as batch_op:
        batch_op.alter_column(
            "reason", existing_type=sa.Text(), type_=sa.String(length=200), existing_nullable=False
        )
    op.drop_table("patient_profile_versions")
    with op.batch_alter_table("doctor_profiles", schema=None) as batch_op:
        batch_op.drop_column("registration_number")
    with op.batch_alter_table("patient_profiles", schema=None) as batch_op:
        batch_op.drop_column("profile_version")
        batch_op.drop_column("next_of_kin_phone")
        batch_op.drop_column("next_of_kin_name")
        batch_op.drop_column("insurance_number")
        batch_op.drop_column("national_id")
        # The CHECK goes first: SQLite's copied table would still name the column.
        batch_op.drop_constraint(batch_op.f("ck_patient_profiles_sex"), type_="check")
        batch_op.drop_column("sex")
        batch_op.drop_column("estimated_on")
        batch_op.drop_column("estimated_age")
