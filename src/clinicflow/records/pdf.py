"""PDFs of a prescription and of a whole record, in English or Swahili, made with fpdf2.

Every word on them is in the reader's language: labels, and the stored values' words
(a consultation's type and status, an appointment's mode, through the same `label`s the
pages use), and every time is in the clinic's time zone. The visit notes are Markdown,
rendered (bold, lists, paragraphs) through the same safe HTML the pages show.

The PDF's built-in Helvetica covers Latin-1 only (enough for English and Swahili); any other
character in a name or a note is printed as "?" rather than failing, so the document always
renders. A prescription carries its verification code and a QR code of the verification
page's address, so a pharmacist can check it from the paper alone. It is the patient's copy:
an override reason is never on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import qrcode  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from clinicflow import i18n
from clinicflow.clinic import phones
from clinicflow.core import moments
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import Sex
from clinicflow.records import schemas
from clinicflow.records.rendering import markdown_to_html
from clinicflow.records.service.exports import Record

LINE = 5.5


@dataclass(frozen=True)
class Letterhead:
    """The clinic as its papers name it, and the zone their times are shown in."""

    name: str
    address: str = ""
    phone: str = ""
    timezone: str = "Africa/Nairobi"
    # Phones on the paper read in the clinic's national format.
    phone_region: str = phones.DEFAULT_REGION


@dataclass(frozen=True)
class PatientLines:
    """What the prescription says of its patient beyond the name: the age as identity
    words it ("34", "~40"; empty when unknown) and the sex, whose words are the paper's
    language (left off while it is not recorded)."""

    age: str = ""
    sex: Sex = Sex.unknown


def _latin(text: str) -> str:
    replaced = (
        text.replace("\u2014", "-")
        .replace("\u2013", "-")
        .replace("\u2019", "'")
        # Babel's times put narrow and no-break spaces before "AM"/"PM" and in dates.
        .replace("\u202f", " ")
        .replace("\u00a0", " ")
    )
    return replaced.encode("latin-1", "replace").decode("latin-1")


class _Document(FPDF):
    def __init__(self, letterhead: Letterhead, language: str) -> None:
        super().__init__(format="A4")
        self.letterhead = letterhead
        self.language = language
        self.zone = ZoneInfo(letterhead.timezone)
        self.set_auto_page_break(auto=True, margin=15)
        self.set_title("clinicflow")
        self.add_page()
        self.heading(letterhead.name)
        contact = " · ".join(v for v in (letterhead.address, letterhead.phone) if v)
        if contact:
            self.set_font("helvetica", "", 9)
            self.multi_cell(0, 4.5, _latin(contact), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(2)

    def heading(self, text: str, size: int = 16) -> None:
        self.set_font("helvetica", "B", size)
        self.multi_cell(0, size * 0.5, _latin(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def line_of(self, label: str, value: str) -> None:
        self.set_font("helvetica", "B", 10)
        self.cell(40, LINE, _latin(label))
        self.set_font("helvetica", "", 10)
        self.multi_cell(0, LINE, _latin(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def section(self, label: str, text: str) -> None:
        if not text.strip():
            return
        self.ln(2)
        self.set_font("helvetica", "B", 11)
        self.cell(0, LINE, _latin(label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("helvetica", "", 10)
        self.multi_cell(0, LINE, _latin(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def markdown(self, label: str, text: str) -> None:
        """Markdown as it reads on the page: bold, lists, paragraphs; never raw markers."""
        if not text.strip():
            return
        self.ln(2)
        self.set_font("helvetica", "B", 11)
        self.cell(0, LINE, _latin(label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("helvetica", "", 10)
        self.write_html(_latin(markdown_to_html(text)))
        self.ln(2)

    def medications(self, medications: Sequence[schemas.MedicationIn]) -> None:
        self.set_font("helvetica", "", 8)
        headings = (
            _("Medicine"),
            _("Strength"),
            _("Dosage"),
            _("Route"),
            _("Frequency"),
            _("Duration"),
            _("Quantity"),
            _("Instructions"),
        )
        with self.table(
            col_widths=(30, 18, 18, 16, 20, 18, 16, 44), text_align="LEFT", line_height=4.5
        ) as table:
            row = table.row()
            for heading in headings:
                row.cell(_latin(heading))
            for medication in medications:
                row = table.row()
                for value in (
                    medication.name,
                    medication.strength,
                    medication.dosage,
                    medication.route,
                    medication.frequency,
                    medication.duration,
                    medication.quantity,
                    medication.instructions,
                ):
                    row.cell(_latin(value))

    def advice(self, prescription: schemas.PrescriptionOut) -> None:
        self.section(_("Lifestyle advice"), prescription.lifestyle_advice)
        self.section(_("Dietary instructions"), prescription.dietary_instructions)
        self.section(_("Warning signs"), prescription.warning_signs)
        self.section(_("In an emergency"), prescription.emergency_instructions)

    def when(self, at: datetime) -> str:
        """A time on paper, labelled with the clinic's zone: the reader may be elsewhere."""
        local = moments.format_moment(at, self.zone, self.language)
        return f"{local} ({self.letterhead.timezone})"


def prescription_pdf(
    prescription: schemas.PrescriptionOut,
    *,
    letterhead: Letterhead,
    language: str,
    patient: PatientLines | None = None,
    registration_number: str = "",
) -> bytes:
    """The patient's copy of a prescription (never its override reason)."""
    i18n.set_language(language)  # this thread's context only: every `_` and label below
    doc = _Document(letterhead, language)
    doc.heading(_("Prescription"), size=13)
    doc.line_of(_("Doctor"), prescription.doctor_name)
    if registration_number:
        doc.line_of(_("Registration number"), registration_number)
    doc.line_of(_("Patient"), prescription.patient_name)
    if patient is not None and patient.age:
        doc.line_of(_("Age"), patient.age)
    if patient is not None and patient.sex is not Sex.unknown:
        doc.line_of(_("Sex"), patient.sex.label)
    doc.line_of(_("Issued"), doc.when(prescription.issued_at))
    doc.line_of(_("Verification code"), prescription.verification_code)
    if prescription.supersedes_id is not None:
        doc.line_of("", _("This prescription replaces an earlier one."))
    doc.ln(3)
    doc.medications(prescription.medications)
    doc.advice(prescription)
    doc.ln(4)
    top = doc.get_y()
    if top > doc.h - 60:
        doc.add_page()
        top = doc.get_y()
    doc.image(qrcode.make(prescription.verify_url).get_image(), x=doc.l_margin, y=top, w=35)
    doc.set_xy(doc.l_margin + 40, top + 8)
    doc.set_font("helvetica", "", 9)
    doc.multi_cell(
        0,
        LINE,
        _latin(_("Check this prescription at:") + "\n" + prescription.verify_url),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    return bytes(doc.output())


def record_pdf(record: Record, *, letterhead: Letterhead, language: str) -> bytes:
    i18n.set_language(language)  # this thread's context only: every `_` and label below
    doc = _Document(letterhead, language)
    doc.heading(_("Medical record"), size=13)
    doc.line_of(_("Patient"), record.patient.name)
    doc.line_of(_("Phone"), phones.shown(record.patient.phone, letterhead.phone_region))
    doc.line_of(_("Created"), doc.when(record.generated_at))
    for item in record.items:
        doc.ln(4)
        doc.heading(f"{doc.when(item.at)} - {item.kind_label} - {item.doctor_name}", size=11)
        doc.line_of(_("Mode"), item.mode_label)
        doc.line_of(_("Status"), item.status_label)
        if item.problem:
            doc.line_of(_("Reason"), item.problem)
        if item.note is not None:
            doc.line_of(_("Diagnosis"), item.note.diagnosis)
            if item.note.follow_up_on:
                doc.line_of(
                    _("Follow-up"),
                    moments.format_day(item.note.follow_up_on, language),
                )
            doc.markdown(_("Visit notes"), item.note.body_markdown)
        for prescription in item.prescriptions:
            doc.ln(2)
            doc.line_of(_("Prescription"), prescription.verification_code)
            doc.medications(prescription.medications)
            doc.advice(prescription)
        for call in item.calls:
            by = item.doctor_name if call.started_by == item.doctor_id else record.patient.name
            started = _("started by %(name)s") % {"name": by}
            doc.line_of(
                call.kind.label,
                f"{doc.when(call.started_at)}, {started}, {call.outcome}",
            )
    return bytes(doc.output())
