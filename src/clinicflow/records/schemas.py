"""API shapes of records (never the tables themselves).

Fixed by the issue: a visit note is sent as `{body_markdown, diagnosis, follow_up_on}`; a
prescription as `{medications: [{name, strength, dosage, route, frequency, duration,
quantity, instructions}], lifestyle_advice, dietary_instructions, warning_signs}` and comes
back with `id`, `issued_at` and `verification_code`; history items carry `kind`, `id`,
`doctor_id` and the time (`at`). Answers may carry more.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from clinicflow.consultations.schemas import ConsultationStatus, ConsultationType
from clinicflow.core.schemas import StrictModel
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import no_control_characters

MAX_NOTE = 20000
MAX_MEDICATIONS = 20


NoteBody = Annotated[
    str, StringConstraints(max_length=MAX_NOTE), AfterValidator(no_control_characters)
]
Short = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200),
    AfterValidator(no_control_characters),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(no_control_characters),
]
Long = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=4000),
    AfterValidator(no_control_characters),
]
Diagnosis = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=1000),
    AfterValidator(no_control_characters),
]


class VisitNoteIn(StrictModel):
    body_markdown: NoteBody
    diagnosis: Diagnosis = ""
    follow_up_on: date | None = None


class NoteVersionOut(BaseModel):
    version: int
    body_markdown: str
    diagnosis: str
    follow_up_on: date | None
    author_id: uuid.UUID
    created_at: datetime


class VisitNoteOut(BaseModel):
    """The latest version. `amended` is true once it has been changed after it was first
    written; `history` (earlier versions, oldest first) is given to staff only."""

    consultation_id: uuid.UUID
    body_markdown: str
    body_html: str
    diagnosis: str
    follow_up_on: date | None
    version: int
    amended: bool
    written_at: datetime
    updated_at: datetime
    history: list[NoteVersionOut] | None = None


class MedicationIn(StrictModel):
    name: Name
    strength: Short = ""
    dosage: Short = ""
    route: Short = ""
    frequency: Short = ""
    duration: Short = ""
    quantity: Short = ""
    instructions: Long = ""


class PrescriptionIn(StrictModel):
    medications: list[MedicationIn] = Field(min_length=1, max_length=MAX_MEDICATIONS)
    lifestyle_advice: Long = ""
    dietary_instructions: Long = ""
    warning_signs: Long = ""
    emergency_instructions: Long = ""
    # A correction: the prescription of the same consultation this one replaces.
    supersedes_id: uuid.UUID | None = None


class PrescriptionOut(BaseModel):
    id: uuid.UUID
    consultation_id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str
    doctor_id: uuid.UUID
    doctor_name: str
    issued_at: datetime
    verification_code: str
    verify_url: str
    medications: list[MedicationIn]
    lifestyle_advice: str
    dietary_instructions: str
    warning_signs: str
    emergency_instructions: str
    supersedes_id: uuid.UUID | None
    superseded_by_id: uuid.UUID | None


# An appointment's words as the record shows them; the record says "With the doctor" and
# "Missed" where the scheduling pages say "In consultation" and "Did not come".


def _appointment_modes() -> dict[str, str]:
    return {"online": _("Online"), "in_person": _("In person")}


def _appointment_statuses() -> dict[str, str]:
    return {
        "booked": _("Booked"),
        "checked_in": _("Checked in"),
        "in_consultation": _("With the doctor"),
        "completed": _("Completed"),
        "cancelled": _("Cancelled"),
        "no_show": _("Missed"),
    }


class HistoryItem(BaseModel):
    """One appointment or consultation of the record. Receptionists get appointments only,
    without clinical content."""

    kind: Literal["appointment", "consultation"]
    id: uuid.UUID
    doctor_id: uuid.UUID
    doctor_name: str
    at: datetime
    mode: str
    status: str
    duration_seconds: int | None = None
    appointment_id: uuid.UUID | None = None
    problem: str | None = None
    note: VisitNoteOut | None = None
    prescriptions: list[PrescriptionOut] = Field(default_factory=list)

    # The words the timeline shows for the line, translated when read. A consultation's come
    # from its enums (`ConsultationType.label`, `ConsultationStatus.label`).

    @property
    def in_person(self) -> bool:
        """A visit at the clinic (an in-person consultation), not a remote one."""
        return self.kind == "consultation" and self.mode == ConsultationType.in_person.value

    @property
    def kind_label(self) -> str:
        return _("Consultation") if self.kind == "consultation" else _("Appointment")

    @property
    def mode_label(self) -> str:
        if self.kind == "consultation":
            return ConsultationType(self.mode).label
        return _appointment_modes().get(self.mode, self.mode)

    @property
    def status_label(self) -> str:
        if self.kind == "consultation":
            status = ConsultationStatus(self.status)
            # In the record a visit that ended is "finished"; the chat says "Ended".
            return _("Finished") if status is ConsultationStatus.ended else status.label
        return _appointment_statuses().get(self.status, self.status)


class HistoryPage(BaseModel):
    items: list[HistoryItem]
    next_cursor: str | None


class Verification(BaseModel):
    """What the public verification page may say: genuine or not, the date, the doctor."""

    genuine: bool
    issued_on: date | None = None
    doctor_name: str | None = None
    superseded: bool = False
