"""Demo data: a small clinic to click around in, loaded through the same services as real use."""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.identity import service as identity
from clinicflow.identity.models import Language, PatientType, Role
from clinicflow.queue import service as queues
from clinicflow.queue.models import Severity
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

# Every demo doctor works weekday mornings and afternoons, so there is something to book.
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
    for doctor, (_, _, _, profile) in zip(staff, STAFF, strict=True):
        if doctor.role is Role.doctor:
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
    for number, (name, patient_type, language, born) in enumerate(PATIENTS, start=1):
        phone = f"+2547000000{number:02d}"
        await identity.create_user(
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
            client=identity.Client(ip=None, user_agent="demo"),
        )
    lines.append(f"Today's queue of {first_doctor.name} holds the first four patients.")
    return "\n".join(lines) + "\n"
