"""In-person visits: a consultation may be of type `in_person` (the queue opens one when the
doctor calls a patient at the clinic) and may end `cancelled` (the visit did not take place).

Both columns are strings with a CHECK (`db.string_enum`), so this widens the two checks.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TYPES = ("chat", "audio", "video")
STATUSES = ("pending", "active", "declined", "ended")


def _checks(types: Sequence[str], statuses: Sequence[str]) -> None:
    def listed(values: Sequence[str]) -> str:
        return ", ".join(f"'{value}'" for value in values)

    with op.batch_alter_table("consultations") as batch:
        batch.drop_constraint(op.f("ck_consultations_consultationtype"), type_="check")
        batch.drop_constraint(op.f("ck_consultations_consultationstatus"), type_="check")
        batch.create_check_constraint("consultationtype", sa.text(f"type IN ({listed(types)})"))
        batch.create_check_constraint(
            "consultationstatus", sa.text(f"status IN ({listed(statuses)})")
        )


def upgrade() -> None:
    _checks((*TYPES, "in_person"), (*STATUSES, "cancelled"))


def downgrade() -> None:
    # Refused while any in-person or cancelled visit is stored: the old checks do not hold
    # them, and deleting clinical records is not a downgrade's call.
    _checks(TYPES, STATUSES)
