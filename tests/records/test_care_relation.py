"""The care relation (issue 24): a doctor reads a patient's record if and only if a real
relation holds, and the history search never returns a hit the caller may not read.

A relation is a consultation between them (any type), a place in the doctor's queue today
(or one the doctor finished), or an appointment that was kept or is booked and not over. A
cancelled appointment never counts, whoever cancelled it; a doctor cannot book in a
patient's name at all.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from clinicflow.config import Settings
from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationType
from clinicflow.core.clock import FrozenClock
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.queue import service as queues
from clinicflow.queue.schemas import Severity
from clinicflow.records import access
from clinicflow.records import service as records
from clinicflow.runtime import Runtime
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import AppointmentStatus, Mode
from tests.consultations.clinic import TEST_PENDING
from tests.factories import Accounts
from tests.records.clinic import RecordsClinic

NAIROBI = ZoneInfo("Africa/Nairobi")
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 12:00 in Nairobi
KEPT = {AppointmentStatus.checked_in, AppointmentStatus.in_consultation}
SECRET = "zebra"


@dataclass
class Appointment:
    id: uuid.UUID
    doctor: int
    patient: int
    ends_at: datetime
    status: AppointmentStatus


@dataclass
class Model:
    """What happened, kept by the test; the relation is computed from it alone."""

    consultations: set[tuple[int, int]] = field(default_factory=set)
    places: list[tuple[int, int, date]] = field(default_factory=list)  # doctor, patient, day
    appointments: list[Appointment] = field(default_factory=list)

    def related(self, doctor: int, patient: int, now: datetime) -> bool:
        today = now.astimezone(NAIROBI).date()
        return (
            (doctor, patient) in self.consultations
            or any(d == doctor and p == patient and day == today for d, p, day in self.places)
            or any(
                a.doctor == doctor
                and a.patient == patient
                and (a.status in KEPT or (a.status is AppointmentStatus.booked and a.ends_at > now))
                for a in self.appointments
            )
        )


class World:
    """Two or three doctors, two or three patients, the desk; every act through the services."""

    def __init__(
        self, runtime: Runtime, settings: Settings, clock: FrozenClock, people: dict[str, Any]
    ) -> None:
        self.runtime, self.settings, self.clock = runtime, settings, clock
        self.doctors: list[User] = people["doctors"]
        self.patients: list[User] = people["patients"]
        self.desk: User = people["desk"]
        self.model = Model()
        self.slot = 0

    def _next_start(self, later: bool) -> datetime:
        """A fresh slot: tomorrow morning (upcoming) or this afternoon (to check in now)."""
        self.slot += 1
        day = self.clock().astimezone(NAIROBI).date() + timedelta(days=1 if later else 0)
        first = datetime(day.year, day.month, day.day, 9 if later else 14, tzinfo=NAIROBI)
        return (first + timedelta(minutes=15 * (self.slot % 16))).astimezone(UTC)

    async def book(self, doctor: int, patient: int, by: str, later: bool) -> None:
        actor = self.patients[patient] if by == "patient" else self.desk
        async with self.runtime.transaction() as session:
            booked = await scheduling.book(
                session=session,
                settings=self.settings,
                actor=actor,
                doctor_id=self.doctors[doctor].id,
                starts_at=self._next_start(later),
                mode=Mode.in_person,
                reason="Check-up",
                patient_id=self.patients[patient].id if by == "desk" else None,
            )
            appointment = Appointment(
                booked.id, doctor, patient, booked.ends_at, AppointmentStatus.booked
            )
        self.model.appointments.append(appointment)
        if not later:
            async with self.runtime.transaction() as session:
                await queues.check_in(
                    session=session,
                    settings=self.settings,
                    actor=self.desk,
                    appointment_id=appointment.id,
                )
            appointment.status = AppointmentStatus.checked_in
            self._place(doctor, patient)

    async def doctor_books(self, doctor: int, patient: int) -> None:
        """The attack: a doctor names a patient when booking. Always refused."""
        with pytest.raises(AppError) as refused:
            async with self.runtime.transaction() as session:
                await scheduling.book(
                    session=session,
                    settings=self.settings,
                    actor=self.doctors[doctor],
                    doctor_id=self.doctors[doctor].id,
                    starts_at=self._next_start(True),
                    mode=Mode.in_person,
                    patient_id=self.patients[patient].id,
                )
        assert refused.value.code is ErrorCode.forbidden

    async def cancel(self, index: int, by: str) -> None:
        if not self.model.appointments:
            return
        appointment = self.model.appointments[index % len(self.model.appointments)]
        actor = {
            "doctor": self.doctors[appointment.doctor],
            "patient": self.patients[appointment.patient],
            "desk": self.desk,
        }[by]
        async with self.runtime.transaction() as session:
            await scheduling.cancel(
                session=session, settings=self.settings, actor=actor, appointment_id=appointment.id
            )
        appointment.status = AppointmentStatus.cancelled

    async def walk_in(self, doctor: int, patient: int) -> None:
        person = self.patients[patient]
        assert person.phone
        async with self.runtime.transaction() as session:
            await queues.walk_in(
                session=session,
                actor=self.desk,
                doctor_id=self.doctors[doctor].id,
                phone=person.phone,
                name=person.name,
                severity=Severity.routine,
                patient_type=None,
            )
        self._place(doctor, patient)

    def _place(self, doctor: int, patient: int) -> None:
        self.model.places.append((doctor, patient, self.clock().astimezone(NAIROBI).date()))

    async def consult(self, doctor: int, patient: int) -> None:
        """A chat, accepted, in which the patient writes the secret word."""
        async with self.runtime.transaction() as session:
            started = await consultations.start(
                session=session,
                actor=self.patients[patient],
                doctor_id=self.doctors[doctor].id,
                problem="Property",
                type=ConsultationType.chat,
                max_pending=TEST_PENDING,
            )
            await consultations.accept(
                session=session, actor=self.doctors[doctor], consultation_id=started.id
            )
            await consultations.send_message(
                session=session,
                actor=self.patients[patient],
                consultation_id=started.id,
                client_id=f"secret-{uuid.uuid4().hex[:8]}",
                body=f"only for doctor {doctor}: {SECRET}",
            )
        self.model.consultations.add((doctor, patient))

    async def next_day(self) -> None:
        self.clock.advance(days=1)

    async def reads(self, doctor: int, patient: int) -> bool:
        refusal: AppError | None = None
        try:
            async with self.runtime.transaction(write=False) as session:
                await records.history(
                    session=session,
                    actor=self.doctors[doctor],
                    patient_id=self.patients[patient].id,
                    public_url="http://testserver",
                )
        except AppError as exc:
            refusal = exc
        if refusal is None:
            return True
        assert refusal.code is ErrorCode.not_found
        return False

    async def search_hits(self, doctor: int, patient: int) -> list[uuid.UUID]:
        async with self.runtime.transaction(write=False) as session:
            page = await records.history(
                session=session,
                actor=self.doctors[doctor],
                patient_id=self.patients[patient].id,
                public_url="http://testserver",
                query=SECRET,
            )
        return [item.doctor_id for item in page.items]


async def _people(
    accounts: Accounts, runtime: Runtime, doctors: int, patients: int
) -> dict[str, Any]:
    made = [await accounts.make(Role.doctor) for _ in range(doctors)]
    for doctor in made:
        async with runtime.transaction() as session:
            await scheduling.set_availability(
                session=session,
                actor=doctor,
                doctor_id=doctor.id,
                timezone="Africa/Nairobi",
                slot_minutes=15,
                weekly={
                    day: [("09:00", "13:00"), ("14:00", "18:00")]
                    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                },
                exceptions=[],
            )
    return {
        "doctors": made,
        "patients": [await accounts.make(Role.patient) for _ in range(patients)],
        "desk": await accounts.make(Role.receptionist),
    }


PEOPLE = st.integers(min_value=0, max_value=2)
ACTS = st.one_of(
    st.tuples(st.just("book"), PEOPLE, PEOPLE, st.sampled_from(["patient", "desk"]), st.booleans()),
    st.tuples(st.just("doctor_books"), PEOPLE, PEOPLE),
    st.tuples(
        st.just("cancel"),
        st.integers(min_value=0, max_value=9),
        st.sampled_from(["doctor", "patient", "desk"]),
    ),
    st.tuples(st.just("walk_in"), PEOPLE, PEOPLE),
    st.tuples(st.just("consult"), PEOPLE, PEOPLE),
    st.tuples(st.just("next_day")),
)


@examples(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    doctors=st.integers(min_value=2, max_value=3),
    patients=st.integers(min_value=2, max_value=3),
    acts=st.lists(ACTS, max_size=10),
)
async def test_a_doctor_reads_a_record_iff_the_care_relation_holds(
    accounts: Accounts,
    runtime: Runtime,
    settings: Settings,
    frozen_clock: FrozenClock,
    doctors: int,
    patients: int,
    acts: list[tuple[Any, ...]],
) -> None:
    frozen_clock.current = MONDAY
    world = World(
        runtime, settings, frozen_clock, await _people(accounts, runtime, doctors, patients)
    )
    for name, *arguments in acts:
        if name in {"book", "walk_in", "consult", "doctor_books"}:
            arguments[0] %= doctors
            arguments[1] %= patients
        # Refused by a rule that is not this one (a slot taken, a place held, a
        # cancellation of something already over): it changed nothing.
        with contextlib.suppress(AppError):
            await getattr(world, name)(*arguments)
    now = frozen_clock()
    for doctor in range(doctors):
        for patient in range(patients):
            related = world.model.related(doctor, patient, now)
            assert await world.reads(doctor, patient) is related, (doctor, patient, acts)
            async with runtime.transaction(write=False) as session:
                assert (
                    await access.has_care_relation(
                        session,
                        doctor_id=world.doctors[doctor].id,
                        patient_id=world.patients[patient].id,
                    )
                    is related
                )
            if related:
                hits = await world.search_hits(doctor, patient)
                # Only the doctor's own conversations hold words they may read.
                assert set(hits) <= {world.doctors[doctor].id}
                assert bool(hits) is ((doctor, patient) in world.model.consultations)


# --- the attack of issue 24, step by step -------------------------------------------------


async def test_a_doctor_cannot_book_in_a_patients_name(clinic: RecordsClinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    await clinic.working_week(doctor)
    wanted = {
        "doctor_id": str(doctor.id),
        "starts_at": "2026-03-03T06:00:00+00:00",
        "patient_id": str(patient.id),
    }
    for path, body in (
        ("/api/appointments", {**wanted, "mode": "in_person"}),
        ("/api/holds", wanted),
    ):
        refused = await clinic.client.post(path, json=body, headers=doctor.headers)
        assert refused.status_code == 403, (path, refused.text)


async def test_a_cancelled_appointment_opens_no_record(
    clinic: RecordsClinic, frozen_clock: FrozenClock
) -> None:
    """Booked at the desk (the doctor cannot), cancelled by the doctor at once: the doctor
    reads nothing of the patient, nor finds words of the patient's chats with others."""
    patient, doctor, treating = await clinic.patient(), await clinic.doctor(), await clinic.doctor()
    desk = await clinic.staff(Role.receptionist)
    chat = await clinic.visit(patient, treating)
    await clinic.note(treating, chat.id)
    await clinic.working_week(doctor)
    booked = await clinic.client.post(
        "/api/appointments",
        json={
            "doctor_id": str(doctor.id),
            "starts_at": "2026-03-03T06:00:00+00:00",
            "mode": "in_person",
            "patient_id": str(patient.id),
        },
        headers=desk.headers,
    )
    assert booked.status_code == 201, booked.text
    history = f"/api/patients/{patient.id}/history"
    # Booked and upcoming: a real relation while it stands.
    assert (await clinic.client.get(history, headers=doctor.headers)).status_code == 200
    cancelled = await clinic.client.post(
        f"/api/appointments/{booked.json()['id']}/cancel", headers=doctor.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    for path in (
        history,
        f"{history}?q=throat",
        f"/api/consultations/{chat.id}/visit-note",
        f"/api/patients/{patient.id}/export.pdf",
    ):
        assert (await clinic.client.get(path, headers=doctor.headers)).status_code == 404, path
    chart = await clinic.client.get(
        f"/patients/{patient.id}/chart", headers={**doctor.headers, "Accept": "text/html"}
    )
    assert chart.status_code == 404


async def test_the_search_matches_no_words_of_another_doctors_chat(
    clinic: RecordsClinic,
) -> None:
    patient, mine, theirs = await clinic.patient(), await clinic.doctor(), await clinic.doctor()
    own = await clinic.consultation(patient, mine)
    other = await clinic.consultation(patient, theirs)
    for doctor, consultation, words in ((mine, own, "headache"), (theirs, other, "pregnant")):
        await clinic.client.post(
            f"/api/consultations/{consultation.id}/accept", headers=doctor.headers
        )
        await clinic.send(patient, consultation.id, f"I think I am {words}")
    path = f"/api/patients/{patient.id}/history"
    probe = await clinic.client.get(path, params={"q": "pregnant"}, headers=mine.headers)
    assert probe.status_code == 200
    assert probe.json()["items"] == []
    own_words = await clinic.client.get(path, params={"q": "headache"}, headers=mine.headers)
    assert [i["id"] for i in own_words.json()["items"]] == [str(own.id)]
    # The doctor of that chat and the patient find it.
    for reader in (theirs, patient):
        found = await clinic.client.get(path, params={"q": "pregnant"}, headers=reader.headers)
        assert [i["id"] for i in found.json()["items"]] == [str(other.id)]


# --- who opens the chart ------------------------------------------------------------------

CHART_CALLERS = ("patient", "own_doctor", "other_doctor", "receptionist", "admin", "anonymous")
CHART_EXPECTED = (200, 200, 404, 200, 200, 303)


async def test_the_chart_access_matrix(clinic: RecordsClinic) -> None:
    """The patient and an admin read it all, the doctor with a relation too; another doctor
    gets the same 404 as for no patient; a receptionist sees appointments only (no clinical
    line); an anonymous caller is sent to sign in."""
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    await clinic.note(doctor, visit.id)
    people = {
        "patient": patient,
        "own_doctor": doctor,
        "other_doctor": await clinic.doctor(),
        "receptionist": await clinic.staff(Role.receptionist),
        "admin": await clinic.staff(Role.admin),
        "anonymous": None,
    }
    got = []
    for caller in CHART_CALLERS:
        person = people[caller]
        headers = {"Accept": "text/html", **(person.headers if person else {})}
        response = await clinic.client.get(
            f"/patients/{patient.id}/chart", headers=headers, follow_redirects=False
        )
        got.append(response.status_code)
        if response.status_code == 200:
            clinical = f'id="visit-{visit.id}"' in response.text
            assert clinical is (caller != "receptionist"), caller
    assert dict(zip(CHART_CALLERS, got, strict=True)) == dict(
        zip(CHART_CALLERS, CHART_EXPECTED, strict=True)
    )
