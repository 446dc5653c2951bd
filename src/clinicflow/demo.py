"""Demo data: a small clinic to click around in, loaded through the same services as real use."""

from __future__ import annotations

import secrets
import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationType
from clinicflow.identity import service as identity
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Language, PatientType, Role
from clinicflow.queue import service as queues
from clinicflow.queue.schemas import Severity
from clinicflow.records import schemas as records_schemas
from clinicflow.records import service as records
from clinicflow.scheduling import service as scheduling

STAFF = [
    (Role.admin, "Grace Admin", "admin@clinic.example.com", {}),
    (Role.receptionist, "Rehema Desk", "reception@clinic.example.com", {}),
    (
        Role.doctor,
        "Dr. Amani Otieno",
        "amani@clinic.example.com",
        {
            "specialty": "General practice",
            "timezone": "Africa/Nairobi",
            "consultation_minutes": 15,
            "meet_url": "https://meet.google.com/abc-defg-hij",
        },
    ),
    (
        Role.doctor,
        "Dr. Neema Mwakyusa",
        "neema@clinic.example.com",
        {
            "specialty": "Paediatrics",
            "timezone": "Africa/Dar_es_Salaam",
            "consultation_minutes": 20,
            "meet_url": "https://meet.google.com/klm-nopq-rst",
        },
    ),
    (
        Role.doctor,
        "Dr. Joseph Kariuki",
        "joseph@clinic.example.com",
        {"specialty": "Dermatology", "timezone": "Africa/Nairobi", "consultation_minutes": 10},
    ),
]

# The specialty list the admin keeps, named in both languages, so a Swahili reader of the
# demo reads "Watoto", not "Paediatrics"; each demo doctor's specialty is taken from it.
SPECIALTIES = {
    "General practice": "Tiba ya jumla",
    "Paediatrics": "Watoto",
    "Dermatology": "Ngozi",
}

# Every demo doctor works weekday mornings and afternoons, so there is something to book.
# The demo's patients each start one or two consultations: the cap is the product's default.
DEMO_PENDING = 3
DEMO_WEEK = {
    day: [("08:00", "12:00"), ("14:00", "17:00")] for day in ("mon", "tue", "wed", "thu", "fri")
}

PATIENTS = [
    ("Amina Wanjiru", PatientType.adult, Language.sw, date(1990, 4, 12)),
    ("Baraka Mutua", PatientType.child, Language.sw, date(2017, 9, 3)),
    ("Chausiku Njeri", PatientType.pregnant, Language.en, date(1995, 1, 22)),
    ("Daudi Ochieng", PatientType.elderly, Language.sw, date(1948, 11, 30)),
    ("Esther Akinyi", PatientType.adult, Language.en, date(1987, 6, 5)),
    ("Faraji Kiprono", PatientType.disabled, Language.en, date(1979, 2, 17)),
    ("Gift Wambui", PatientType.adult, Language.en, date(2001, 8, 9)),
    ("Hassan Abdi", PatientType.elderly, Language.sw, date(1952, 3, 14)),
    ("Imani Chebet", PatientType.child, Language.en, date(2019, 12, 1)),
    ("Juma Omondi", PatientType.adult, Language.sw, date(1984, 10, 25)),
]


# A finished chat (with a visit note and a prescription in the patient's record), one under
# way, and a request the doctor has not answered yet: (who speaks, what they write).
FINISHED_CHAT = [
    ("patient", "Good morning doctor, I have had a dry cough for a week, worse at night."),
    ("doctor", "Sorry to hear that. Any fever, chest pain or trouble breathing?"),
    ("patient", "A little fever the first two days, none now. Breathing is fine."),
    (
        "doctor",
        "It sounds like a cough left over from a cold. I am sending a prescription and a "
        "note; come in if it lasts two more weeks or you get short of breath.",
    ),
]
ACTIVE_CHAT = [
    ("patient", "Habari daktari. Nina maumivu ya kichwa tangu jana."),
    ("doctor", "Pole sana. Je, una homa au kichefuchefu?"),
]


async def load(session: AsyncSession) -> str | None:
    """Create the demo clinic and return its logins as text; None if accounts already exist."""
    if await identity.count_users(session):
        return None
    lines = ["Demo logins (staff sign in at /login):"]
    staff = []
    for role, name, email, profile in STAFF:
        password = secrets.token_urlsafe(9)
        user = await identity.create_user(
            session=session,
            actor=None,
            role=role,
            name=name,
            email=email,
            password=password,
            profile=profile,
        )
        staff.append(user)
        lines.append(f"  {role.value:<13} {email:<32} {password}")
    admin = staff[0]
    listed = {
        name_en: await identity.add_specialty(
            session=session, actor=admin, name_en=name_en, name_sw=name_sw
        )
        for name_en, name_sw in SPECIALTIES.items()
    }
    for doctor, (_, _, _, profile) in zip(staff, STAFF, strict=True):
        if doctor.role is Role.doctor:
            await identity.update_doctor_profile(
                session=session,
                actor=admin,
                doctor_id=doctor.id,
                changes={"specialty_id": listed[str(profile["specialty"])].id},
            )
            await scheduling.set_availability(
                session=session,
                actor=admin,
                doctor_id=doctor.id,
                timezone=str(profile["timezone"]),
                slot_minutes=None,
                weekly=DEMO_WEEK,
                exceptions=[],
            )
    lines.append("Patients sign in with their phone at /login/phone; codes appear at /dev/outbox:")
    patients = []
    for number, (name, patient_type, language, born) in enumerate(PATIENTS, start=1):
        phone = f"+2547000000{number:02d}"
        patient = await identity.create_user(
            session=session,
            actor=None,
            role=Role.patient,
            name=name,
            phone=phone,
            profile={
                "patient_type": patient_type,
                "preferred_language": language,
                "date_of_birth": born,
            },
        )
        patients.append(patient)
        lines.append(f"  patient       {phone:<32} {name}")
    # Today's queue of the first doctor, so the desk, the doctor's queue and a patient's
    # waiting room have someone in them.
    reception, first_doctor = staff[1], staff[2]
    for number, (name, _type, _language, _born) in enumerate(PATIENTS[:4], start=1):
        await queues.walk_in(
            session=session,
            actor=reception,
            doctor_id=first_doctor.id,
            phone=f"+2547000000{number:02d}",
            name=name,
            severity=Severity.urgent if number == 3 else Severity.routine,
            patient_type=None,
        )
    lines.append(f"Today's queue of {first_doctor.name} holds the first four patients.")
    lines.append(await _consultations(session, doctors=staff[2:4], patients=patients))
    return "\n".join(lines) + "\n"


async def _consultations(
    session: AsyncSession, *, doctors: list[User], patients: list[User]
) -> str:
    """Consultations in each state a doctor's list shows, and a patient record to open."""
    amani, neema = doctors
    esther, amina, gift = patients[4], patients[0], patients[6]
    finished = await _chat(session, esther, amani, "Dry cough for a week", FINISHED_CHAT)
    await consultations.end(session=session, actor=amani, consultation_id=finished)
    await records.write_visit_note(
        session=session,
        actor=amani,
        consultation_id=finished,
        note=records_schemas.VisitNoteIn(
            body_markdown=(
                "Dry cough for 7 days after a cold, **no fever now**, breathing normal.\n\n"
                "- Plenty of warm fluids\n- Back in two weeks if it goes on"
            ),
            diagnosis="Post-viral cough",
        ),
    )
    await records.issue_prescription(
        session=session,
        actor=amani,
        consultation_id=finished,
        prescription=records_schemas.PrescriptionIn(
            medications=[
                records_schemas.MedicationIn(
                    name="Dextromethorphan syrup",
                    strength="15 mg/5 ml",
                    dosage="10 ml",
                    route="oral",
                    frequency="at night",
                    duration="7 days",
                    quantity="100 ml",
                )
            ],
            warning_signs="Shortness of breath, chest pain, or a fever that comes back.",
        ),
    )
    await _chat(session, amina, neema, "Maumivu ya kichwa", ACTIVE_CHAT)
    await consultations.start(
        session=session,
        actor=gift,
        max_pending=DEMO_PENDING,
        doctor_id=amani.id,
        problem="A rash on both arms since Monday",
        type=ConsultationType.video,
    )
    return (
        f"Consultations: {esther.name} finished one with {amani.name} (note and prescription"
        f" in her record), {amina.name} is chatting with {neema.name}, and {gift.name} is"
        f" waiting for {amani.name} to accept."
    )


async def _chat(
    session: AsyncSession,
    patient: User,
    doctor: User,
    problem: str,
    messages: list[tuple[str, str]],
) -> uuid.UUID:
    """A chat consultation the doctor has accepted, with these messages in it."""
    consultation = await consultations.start(
        session=session,
        actor=patient,
        max_pending=DEMO_PENDING,
        doctor_id=doctor.id,
        problem=problem,
        type=ConsultationType.chat,
    )
    await consultations.accept(session=session, actor=doctor, consultation_id=consultation.id)
    for number, (speaker, body) in enumerate(messages, start=1):
        await consultations.send_message(
            session=session,
            actor=patient if speaker == "patient" else doctor,
            consultation_id=consultation.id,
            client_id=f"demo-{number}",
            body=body,
        )
    return consultation.id
