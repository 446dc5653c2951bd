"""Each visit's calls are part of the record: the doctor's chart, the patient's "My
records", the JSON history and the PDF export list who started each call, when, and how
long it lasted (in words, in the reader's language), or that it was not answered."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pypdf import PdfReader

from clinicflow.calls import service as calls
from clinicflow.calls.schemas import CallOut, Signal
from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationStatus, ConsultationType
from clinicflow.core import moments
from clinicflow.core.clock import FrozenClock
from clinicflow.i18n import set_language
from clinicflow.runtime import Runtime
from clinicflow.web.pages import LANGUAGE_COOKIE
from tests.consultations.clinic import Person
from tests.factories import sign_in_page_patient, sign_in_page_staff
from tests.records.clinic import RecordsClinic

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def video_visit_with_two_calls(
    clinic: RecordsClinic, patient: Person, doctor: Person, frozen_clock: FrozenClock
) -> uuid.UUID:
    """An ended video visit: the doctor's video call, answered, 4 min 12 s; then the
    patient's voice call nobody answered."""
    visit = await clinic.consultation(
        patient, doctor, ConsultationStatus.active, ConsultationType.video
    )

    async def signal(
        person: Person, signal: Signal, call_id: uuid.UUID | None = None, **data: str
    ) -> CallOut:
        async with clinic.runtime.transaction() as session:
            return await calls.signal(
                session=session,
                actor=person.user,
                consultation_id=visit.id,
                kind=signal,
                call_id=call_id,
                data=data,
            )

    answered = await signal(doctor, Signal.ring, kind="video")
    await signal(patient, Signal.accept, answered.id)
    frozen_clock.advance(seconds=252)
    await signal(patient, Signal.end, answered.id)
    frozen_clock.advance(seconds=30)
    await signal(patient, Signal.ring, kind="audio")
    frozen_clock.advance(seconds=10)
    async with clinic.runtime.transaction() as session:
        await consultations.end(session=session, actor=doctor.user, consultation_id=visit.id)
    return visit.id


async def test_the_chart_lists_each_visits_calls_in_both_languages(
    clinic: RecordsClinic, browser: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit_id = await video_visit_with_two_calls(clinic, patient, doctor, frozen_clock)
    await sign_in_page_staff(browser, doctor.user)

    chart = await browser.get(f"/patients/{patient.id}/chart")
    assert chart.status_code == 200
    visit = chart.text[chart.text.index(f'id="visit-{visit_id}"') :]
    assert visit.count('data-testid="visit-call"') == 2
    answered, missed = visit.split('data-testid="visit-call"')[1:3]
    assert "Video call" in answered
    assert "started by you" in answered
    assert "lasted 4 min 12 s" in answered
    assert "Audio call" in missed
    assert "started by the patient" in missed
    assert "not answered" in missed

    browser.cookies.set(LANGUAGE_COOKIE, "sw")
    kiswahili = await browser.get(f"/patients/{patient.id}/chart")
    assert "ilidumu dakika 4 sekunde 12" in kiswahili.text
    assert "ilianzishwa na mgonjwa" in kiswahili.text
    assert "haikujibiwa" in kiswahili.text


async def test_my_records_the_history_and_the_pdf_list_the_calls(
    clinic: RecordsClinic, browser: httpx.AsyncClient, runtime: Runtime, frozen_clock: FrozenClock
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit_id = await video_visit_with_two_calls(clinic, patient, doctor, frozen_clock)
    frozen_clock.advance(seconds=31)  # a new code may be asked for after 30 seconds
    await sign_in_page_patient(browser, runtime, patient.user)

    mine = await browser.get("/records")
    assert mine.status_code == 200
    answered, missed = mine.text.split('data-testid="visit-call"')[1:3]
    assert f"started by {doctor.user.name}" in answered
    assert "lasted 4 min 12 s" in answered
    assert "started by you" in missed

    history = await clinic.client.get(
        f"/api/patients/{patient.id}/history", headers=patient.headers
    )
    (item,) = [i for i in history.json()["items"] if i["id"] == str(visit_id)]
    assert [(c["kind"], c["status"], c["duration_seconds"]) for c in item["calls"]] == [
        ("video", "ended", 252),
        ("audio", "missed", None),
    ]
    assert item["calls"][0]["started_by"] == str(doctor.id)

    for language, words in (
        ("en", ("Video call", "lasted 4 min 12 s", "Audio call", "not answered")),
        ("sw", ("ilidumu dakika 4 sekunde 12", "haikujibiwa")),
    ):
        pdf = await clinic.client.get(
            f"/api/patients/{patient.id}/export.pdf?lang={language}", headers=patient.headers
        )
        assert pdf.status_code == 200
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
        text = " ".join(text.split())
        for expected in words:
            assert expected in text, (language, expected)


@pytest.mark.parametrize(
    ("seconds", "english", "swahili"),
    [
        (0, "0 s", "sekunde 0"),
        (59, "59 s", "sekunde 59"),
        (60, "1 min 0 s", "dakika 1 sekunde 0"),
        (252, "4 min 12 s", "dakika 4 sekunde 12"),
        (3725, "1 h 2 min", "saa 1 dakika 2"),
    ],
)
def test_a_duration_reads_in_words(seconds: int, english: str, swahili: str) -> None:
    set_language("en")
    assert moments.format_duration(seconds) == english
    set_language("sw")
    try:
        assert moments.format_duration(seconds) == swahili
    finally:
        set_language("en")
