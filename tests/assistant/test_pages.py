"""What the chat page shows of the assistant, drawn from the assistant's own template
(`assistant/_chat.html`): the words of every notice, and the memory panel for the
consultation's doctor only. Consultations' pages import nothing of the assistant."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from clinicflow.assistant.service import Notice
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic, Person
from tests.factories import Accounts, sign_in_page_patient, sign_in_page_staff

pytestmark = pytest.mark.usefixtures("app")

NOTICES = [value for name, value in vars(Notice).items() if not name.startswith("_")]


def config_of(page: str) -> dict[str, Any]:
    """The JSON the chat page hands to chat.js and assistant.js."""
    match = re.search(r'<script type="application/json">(.*?)</script>', page, re.DOTALL)
    assert match, "the chat page has no config"
    config: dict[str, Any] = json.loads(match.group(1))
    return config


@pytest.fixture
async def browser(app: FastAPI) -> Any:
    """A second browser with cookies of its own, for the other side of the consultation."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_the_doctor_gets_the_panel_and_both_get_every_notices_words(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    clinic: Clinic,
) -> None:
    doctor = await clinic.doctor()
    patient = await accounts.make(Role.patient)
    consultation = await clinic.consultation(Person(patient, {}), doctor, ConsultationStatus.active)
    await sign_in_page_staff(client, doctor.user)
    await sign_in_page_patient(browser, runtime, patient)

    doctors_page = (await client.get(f"/consultations/{consultation.id}")).text
    patients_page = (await browser.get(f"/consultations/{consultation.id}")).text
    for page in (doctors_page, patients_page):
        words = config_of(page)["text"]["system"]
        assert set(NOTICES) <= set(words)
        assert all(words[notice] and words[notice] != notice for notice in NOTICES)
        # The consultation's own words are still there beside the assistant's.
        assert words["ended"] == "The consultation has ended."
    assert config_of(doctors_page)["assistant"]["panel"] is True
    assert 'data-testid="memory-panel"' in doctors_page
    assert config_of(patients_page)["assistant"]["panel"] is False
    assert 'data-testid="memory-panel"' not in patients_page
    assert config_of(patients_page)["assistant"]["text"]["name"] == "Assistant"


async def test_the_words_follow_the_viewers_language(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    doctor, patient = await clinic.doctor(), await clinic.patient()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    await sign_in_page_staff(client, doctor.user)
    url = f"/consultations/{consultation.id}"

    english = config_of((await client.get(url)).text)
    client.cookies.set("cf_lang", "sw")
    swahili = config_of((await client.get(url)).text)
    client.cookies.set("cf_lang", "en")
    english_again = config_of((await client.get(url)).text)

    assert swahili["assistant"]["text"]["name"] == "Msaidizi"
    assert swahili["text"]["system"][Notice.cancelled] == "Jibu limesitishwa."
    assert english_again == english
    assert english["text"]["system"][Notice.cancelled] == "The answer was cancelled."
