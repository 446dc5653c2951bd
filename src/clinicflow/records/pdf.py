"""PDFs of a prescription and of a whole record, in English or Swahili, made with fpdf2.

The PDF's built-in Helvetica covers Latin-1 only (enough for English and Swahili); any other
character in a name or a note is printed as "?" rather than failing, so the document always
renders. A prescription carries its verification code and a QR code of the verification
page's address, so a pharmacist can check it from the paper alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import qrcode  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from clinicflow.i18n import gettext_in
from clinicflow.records import schemas
from clinicflow.records.service.exports import Record

LINE = 5.5


def _latin(text: str) -> str:
    replaced = text.replace("\u2014", "-").replace("\u2013", "-").replace("\u2019", "'")
    return replaced.encode("latin-1", "replace").decode("latin-1")


class _Document(FPDF):
    def __init__(self, language: str) -> None:
        super().__init__(format="A4")
        self.language = language
        self.set_auto_page_break(auto=True, margin=15)
        self.set_title("clinicflow")
        self.add_page()

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

    def medications(self, medications: Sequence[schemas.MedicationIn]) -> None:
        self.set_font("helvetica", "", 8)
        headings = (
            gettext_in(self.language, "Medicine"),
            gettext_in(self.language, "Strength"),
            gettext_in(self.language, "Dosage"),
            gettext_in(self.language, "Route"),
            gettext_in(self.language, "Frequency"),
            gettext_in(self.language, "Duration"),
            gettext_in(self.language, "Quantity"),
            gettext_in(self.language, "Instructions"),
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
        self.section(gettext_in(self.language, "Lifestyle advice"), prescription.lifestyle_advice)
        self.section(
            gettext_in(self.language, "Dietary instructions"), prescription.dietary_instructions
        )
        self.section(gettext_in(self.language, "Warning signs"), prescription.warning_signs)
        self.section(
            gettext_in(self.language, "In an emergency"), prescription.emergency_instructions
        )

    def date(self, at: datetime) -> str:
        return at.strftime("%Y-%m-%d")


def prescription_pdf(
    prescription: schemas.PrescriptionOut, *, clinic_name: str, language: str
) -> bytes:
    doc = _Document(language)
    doc.heading(clinic_name)
    doc.heading(gettext_in(doc.language, "Prescription"), size=13)
    doc.line_of(gettext_in(doc.language, "Doctor"), prescription.doctor_name)
    doc.line_of(gettext_in(doc.language, "Patient"), prescription.patient_name)
    doc.line_of(gettext_in(doc.language, "Date"), doc.date(prescription.issued_at))
    doc.line_of(gettext_in(doc.language, "Verification code"), prescription.verification_code)
    if prescription.supersedes_id is not None:
        doc.line_of("", gettext_in(doc.language, "This prescription replaces an earlier one."))
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
        _latin(
            gettext_in(doc.language, "Check this prescription at:") + "\n" + prescription.verify_url
        ),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    return bytes(doc.output())


def record_pdf(record: Record, *, clinic_name: str, language: str) -> bytes:
    doc = _Document(language)
    doc.heading(clinic_name)
    doc.heading(gettext_in(doc.language, "Medical record"), size=13)
    doc.line_of(gettext_in(doc.language, "Patient"), record.patient.name)
    doc.line_of(gettext_in(doc.language, "Phone"), record.patient.phone or "")
    doc.line_of(gettext_in(doc.language, "Created"), doc.date(record.generated_at))
    for item in record.items:
        doc.ln(4)
        kind = (
            gettext_in(doc.language, "Consultation")
            if item.kind == "consultation"
            else gettext_in(doc.language, "Appointment")
        )
        doc.heading(f"{doc.date(item.at)} - {kind} - {item.doctor_name}", size=11)
        doc.line_of(gettext_in(doc.language, "Mode"), item.mode)
        doc.line_of(gettext_in(doc.language, "Status"), item.status)
        if item.problem:
            doc.line_of(gettext_in(doc.language, "Reason"), item.problem)
        if item.note is not None:
            doc.line_of(gettext_in(doc.language, "Diagnosis"), item.note.diagnosis)
            if item.note.follow_up_on:
                doc.line_of(
                    gettext_in(doc.language, "Follow-up"), item.note.follow_up_on.isoformat()
                )
            doc.section(gettext_in(doc.language, "Visit notes"), item.note.body_markdown)
        for prescription in item.prescriptions:
            doc.ln(2)
            doc.line_of(gettext_in(doc.language, "Prescription"), prescription.verification_code)
            doc.medications(prescription.medications)
            doc.advice(prescription)
    return bytes(doc.output())
