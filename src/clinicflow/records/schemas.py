"""API shapes of records (never the tables themselves).

Fixed by the issue: a visit note is sent as `{body_markdown, diagnosis, follow_up_on}`; a
prescription as `{medications: [{name, strength, dosage, route, frequency, duration,
quantity, instructions}], lifestyle_advice, dietary_instructions, warning_signs}` and comes
back with `id`, `issued_at` and `verification_code`; history items carry `kind`, `id`,
`doctor_id` and the time (`at`). Answers may carry more.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StringConstraints

from clinicflow.calls.schemas import CallOut
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


def _number_as_text(value: Any) -> Any:
    """A quantity may be sent as a number (21) or as words ("21 capsules"); it is kept as
    text either way. A boolean is neither."""
    if isinstance(value, bool):
        raise ValueError("a quantity is a number or a text")
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return value


Quantity = Annotated[Short, BeforeValidator(_number_as_text)]
OverrideReason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=1000),
    AfterValidator(no_control_characters),
]


class MedicationIn(StrictModel):
    name: Name
    strength: Short = ""
    dosage: Short = ""
    route: Short = ""
    frequency: Short = ""
    duration: Short = ""
    quantity: Quantity = ""
    instructions: Long = ""


class PrescriptionIn(StrictModel):
    medications: list[MedicationIn] = Field(min_length=1, max_length=MAX_MEDICATIONS)
    lifestyle_advice: Long = ""
    dietary_instructions: Long = ""
    warning_signs: Long = ""
    emergency_instructions: Long = ""
    # A correction: the prescription of the same consultation this one replaces.
    supersedes_id: uuid.UUID | None = None
    # Why the doctor prescribes despite an allergy or a duplicate therapy; kept for staff,
    # never printed on the patient's copy.
    override_reason: OverrideReason | None = None


class CheckedMedication(BaseModel):
    """A row of the prescription form as the safety check reads it: its name only."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class PrescriptionCheckIn(BaseModel):
    medications: list[CheckedMedication] = Field(default_factory=list, max_length=MAX_MEDICATIONS)


class Conflict(BaseModel):
    """Why a medicine may not be given as it is: an allergy it meets or a medication it
    duplicates (`class_name` when they meet by class rather than by name)."""

    code: Literal["allergy_conflict", "duplicate_therapy"]
    medicine: str
    allergy: str | None = None
    medication: str | None = None
    class_name: str | None = None
    message: str


class PrescriptionCheck(BaseModel):
    conflicts: list[Conflict]


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
    # Staff only (None for the patient): why a warned prescription was issued anyway.
    override_reason: str | None = None
    overridden: list[Conflict] = Field(default_factory=list)


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
    # The consultation's audio and video calls, oldest first (calls' history shape).
    calls: list[CallOut] = Field(default_factory=list)

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


# The patient's clinical lists. Each kind has its own statuses; `entered_in_error` is what
# DELETE leaves (the line disappears from the lists, its versions stay).


class Severity(StrEnum):
    mild = "mild"
    moderate = "moderate"
    severe = "severe"

    @property
    def label(self) -> str:
        return {
            Severity.mild: _("Mild"),
            Severity.moderate: _("Moderate"),
            Severity.severe: _("Severe"),
        }[self]


class ItemStatus(StrEnum):
    active = "active"
    resolved = "resolved"
    stopped = "stopped"
    entered_in_error = "entered_in_error"

    @property
    def label(self) -> str:
        return {
            ItemStatus.active: _("Active"),
            ItemStatus.resolved: _("Resolved"),
            ItemStatus.stopped: _("Stopped"),
            ItemStatus.entered_in_error: _("Entered in error"),
        }[self]


class Kind(StrEnum):
    allergy = "allergy"
    condition = "condition"
    medication = "medication"


# The statuses a doctor may set for each kind (removal is DELETE).
STATUSES: dict[Kind, frozenset[ItemStatus]] = {
    Kind.allergy: frozenset({ItemStatus.active, ItemStatus.resolved}),
    Kind.condition: frozenset({ItemStatus.active, ItemStatus.resolved}),
    Kind.medication: frozenset({ItemStatus.active, ItemStatus.stopped}),
}
# ICD-10 by shape: a letter (U is reserved), two digits (or a digit and A/B in a few
# chapters), then optionally a dot and up to four more characters: J45, J45.9, S72.001A.
ICD10 = re.compile(r"[A-TV-Z][0-9][0-9AB](\.[0-9A-Z]{1,4})?")


def _icd10(value: str) -> str:
    code = value.strip().upper()
    if code and not ICD10.fullmatch(code):
        raise ValueError(_("An ICD-10 code looks like J45 or J45.9."))
    return code


Icd10 = Annotated[str, StringConstraints(max_length=10), AfterValidator(_icd10)]


class AllergyIn(StrictModel):
    substance: Name
    reaction: Short = ""
    severity: Severity
    status: Literal[ItemStatus.active, ItemStatus.resolved] = ItemStatus.active


class AllergyPatch(StrictModel):
    substance: Name | None = None
    reaction: Short | None = None
    severity: Severity | None = None
    status: Literal[ItemStatus.active, ItemStatus.resolved] | None = None


class ConditionIn(StrictModel):
    name: Name
    icd10: Icd10 = ""
    onset: date | None = None
    status: Literal[ItemStatus.active, ItemStatus.resolved] = ItemStatus.active


class ConditionPatch(StrictModel):
    name: Name | None = None
    icd10: Icd10 | None = None
    onset: date | None = None
    status: Literal[ItemStatus.active, ItemStatus.resolved] | None = None


class MedicationEntryIn(StrictModel):
    name: Name
    form: Short = ""
    strength: Short = ""
    dose: Short = ""
    status: Literal[ItemStatus.active, ItemStatus.stopped] = ItemStatus.active


class MedicationEntryPatch(StrictModel):
    name: Name | None = None
    form: Short | None = None
    strength: Short | None = None
    dose: Short | None = None
    status: Literal[ItemStatus.active, ItemStatus.stopped] | None = None


class ItemVersionOut(BaseModel):
    version: int
    status: ItemStatus
    values: dict[str, Any]
    author_id: uuid.UUID
    created_at: datetime


class ItemOut(BaseModel):
    """A line of a clinical list: its kind's values beside who recorded it and when."""

    id: uuid.UUID
    patient_id: uuid.UUID
    kind: Kind
    status: ItemStatus
    version: int
    recorded_by: uuid.UUID
    recorded_by_name: str
    recorded_at: datetime
    updated_at: datetime
    versions: list[ItemVersionOut] | None = None


class AllergyOut(ItemOut):
    substance: str
    reaction: str
    severity: Severity


class ConditionOut(ItemOut):
    name: str
    icd10: str
    onset: date | None


class MedicationEntryOut(ItemOut):
    name: str
    form: str
    strength: str
    dose: str


class ClinicalSummary(BaseModel):
    """What the chart's header, the queue card and the chat's side panel show of a patient:
    the active lines only, and when they were last seen."""

    patient_id: uuid.UUID
    allergies: list[AllergyOut]
    conditions: list[ConditionOut]
    medications: list[MedicationEntryOut]
    last_visit: datetime | None

    @property
    def severe_allergy(self) -> bool:
        return any(a.severity is Severity.severe for a in self.allergies)

    @property
    def allergy_line(self) -> str:
        """The allergies in one line ("Penicillin (severe), Latex"), or that none is known."""
        if not self.allergies:
            return _("No known allergies")
        return ", ".join(f"{a.substance} ({a.severity.label})" for a in self.allergies)


class FormularyEntry(BaseModel):
    name: str
    form: str
    strengths: list[str]
    atc: str
    classes: list[str]
