"""The clinical profile's fields as the desk's forms post them: the walk-in, the booking of a
new patient and the profile page share them (`templates/identity/_profile_fields.html`).

A form posts text; this turns it into the changes `identity.record_patient_profile` takes,
or into one clear message naming what to fix, so a page can show the form again with
everything that was typed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import Form
from pydantic import ValidationError

from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import ClinicalProfileIn, PatientProfileView

Field = Annotated[str, Form(max_length=200)]


@dataclass(frozen=True)
class ProfileForm:
    """What was typed, kept as text so a refused form comes back exactly as it was sent."""

    date_of_birth: str = ""
    estimated_age: str = ""
    sex: str = ""
    national_id: str = ""
    insurance_number: str = ""
    next_of_kin_name: str = ""
    next_of_kin_phone: str = ""

    @classmethod
    def of(cls, view: PatientProfileView) -> ProfileForm:
        """The stored profile, to correct it."""
        return cls(
            date_of_birth=view.date_of_birth.isoformat() if view.date_of_birth else "",
            estimated_age="" if view.estimated_age is None else str(view.estimated_age),
            sex=view.sex.value,
            national_id=view.national_id or "",
            insurance_number=view.insurance_number or "",
            next_of_kin_name=view.next_of_kin_name or "",
            next_of_kin_phone=view.next_of_kin_phone or "",
        )


async def read_profile_form(
    date_of_birth: Field = "",
    estimated_age: Field = "",
    sex: Field = "",
    national_id: Field = "",
    insurance_number: Field = "",
    next_of_kin_name: Field = "",
    next_of_kin_phone: Field = "",
) -> ProfileForm:
    """The profile's fields of a posted form (a FastAPI dependency)."""
    return ProfileForm(
        date_of_birth.strip(),
        estimated_age.strip(),
        sex.strip(),
        national_id.strip(),
        insurance_number.strip(),
        next_of_kin_name.strip(),
        next_of_kin_phone.strip(),
    )


def _problem(fields: set[str]) -> str:
    if "date_of_birth" in fields:
        return _("Write the date of birth as a date, like 1985-04-23.")
    if "estimated_age" in fields:
        return _("Write the estimated age as a number of years, from 0 to 130.")
    if "sex" in fields:
        return _("Choose the sex from the list.")
    if fields & {"national_id", "insurance_number"}:
        return _("Write the ID and insurance numbers in letters and digits, 40 at most.")
    if "next_of_kin_name" in fields:
        return _("Write the next of kin's name in plain letters.")
    return _("Write the next of kin's phone with its country code, like +254712345678.")


def profile_changes(form: ProfileForm, *, blank_clears: bool) -> dict[str, Any]:
    """The changes a form asks for. At registration a blank field changes nothing
    (`blank_clears=False`); on the profile page a blank field clears what was stored.

    Raises `AppError(validation_error)` with a message naming the first field to fix.
    """
    values = asdict(form)
    if blank_clears:
        sent = {key: (value or None) for key, value in values.items()}
        # The page shows the age it computed; sending it back unchanged beside a date of
        # birth is no estimate.
        if sent["date_of_birth"]:
            sent["estimated_age"] = None
    else:
        sent = {key: value for key, value in values.items() if value}
    try:
        checked = ClinicalProfileIn.model_validate(sent)
    except ValidationError as exc:
        fields = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        raise AppError(
            ErrorCode.validation_error, _problem(fields), {"fields": sorted(fields)}
        ) from None
    return checked.model_dump(exclude_unset=True)
