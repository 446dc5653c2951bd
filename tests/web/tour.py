"""A tour of the site: every page a browser can open, as each role sees it, with enough data
(a doctor's week, a patient in today's queue, a consultation) that the live parts render."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationType
from clinicflow.identity.schemas import Role
from tests.consultations.clinic import TEST_PENDING
from tests.factories import sign_in_page_patient, sign_in_page_staff
from tests.queue.clinic import QueueClinic


def browser(app: FastAPI) -> httpx.AsyncClient:
    """A fresh browser (its own cookies) on the app."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def tour(app: FastAPI, clinic: QueueClinic) -> dict[str, str]:
    """Every page, keyed by "<role> <path>", as the HTML the browser received."""
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    patient = await clinic.accounts.make(Role.patient)
    assert patient.phone
    walked_in = await clinic.walk_in(desk, doctor, patient.phone)
    assert walked_in.status_code == 201, walked_in.text
    async with clinic.runtime.transaction() as session:
        consultation = await consultations.start(
            session=session,
            actor=patient,
            max_pending=TEST_PENDING,
            doctor_id=doctor.id,
            problem="Headache for three days",
            type=ConsultationType.chat,
        )
    receptionist = await clinic.accounts.make(Role.receptionist)
    admin = await clinic.accounts.make(Role.admin)
    chat = f"/consultations/{consultation.id}"
    visits = {
        None: ["/login", "/login/phone", "/board", "/no-such-page"],
        patient: [
            "/home",
            "/queue",
            "/book",
            f"/book/{doctor.id}",
            "/appointments",
            "/consultations",
            chat,
            "/records",
            "/notifications",
            "/notifications/preferences",
        ],
        doctor: [
            "/home",
            "/doctor/queue",
            "/schedule",
            "/appointments",
            "/consultations",
            chat,
            f"/patients/{patient.id}/chart",
        ],
        receptionist: [
            "/home",
            "/desk/queue",
            "/desk/book",
            f"/desk/book?patient={patient.id}&doctor={doctor.id}",
            "/consultations",
        ],
        admin: ["/home", "/admin/users", "/admin/deliveries"],
    }
    pages: dict[str, str] = {}
    for user, paths in visits.items():
        async with browser(app) as client:
            if user is not None and user.role is Role.patient:
                await sign_in_page_patient(client, clinic.runtime, user)
            elif user is not None:
                await sign_in_page_staff(client, user)
            for path in paths:
                response = await client.get(path, headers={"Accept": "text/html"})
                expected = 404 if path == "/no-such-page" else 200
                assert response.status_code == expected, (path, response.text)
                pages[f"{user.role.value if user else 'anonymous'} {path}"] = response.text
    return pages
