"""What the chat page shows of the assistant, drawn from the assistant's own template
(`assistant/_chat.html`): the words of every notice, and the memory panel for the
consultation's doctor only. Consultations' pages import nothing of the assistant. The panel's
blocks drawn alone (`assistant.pages.panel_fragment`) are exactly their part of the page, and
not there for anyone but the consultation's doctor."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from clinicflow.assistant import pages as assistant_pages
from clinicflow.assistant.service import Notice
from clinicflow.consultations import pages as consultation_pages
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from clinicflow.web.templating import render_block
from tests.assistant.conftest import Chat
from tests.assistant.test_drafts import draft, remember
from tests.consultations.clinic import Clinic, Person
from tests.factories import Accounts, sign_in_page_patient, sign_in_page_staff

pytestmark = pytest.mark.usefixtures("app")

BLOCKS = ("assistant_memory", "assistant_drafts")
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


# --- the doctor's panel, drawn alone by the assistant's pages ---------------------------------


def panel_url(consultation_id: uuid.UUID, block: str) -> str:
    return f"/consultations/{consultation_id}/assistant-panel?block={block}"


async def test_each_block_of_the_panel_drawn_alone_is_exactly_its_part_of_the_page(
    client: httpx.AsyncClient, chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    await remember(chat, "Amoxicillin 500 mg three times a day for 7 days")
    await draft(chat)
    await sign_in_page_staff(client, chat.doctor.user)

    # What each block was drawn from, as the fragment route drew it.
    drawn: dict[str, Any] = {}

    def keep(request: Any, template: str, block: str, context: dict[str, Any]) -> Any:
        drawn.update(context["assistant_panel"])
        return render_block(request, template, block, context)

    monkeypatch.setattr(assistant_pages, "render_block", keep)
    blocks = {block: (await client.get(panel_url(chat.id, block))) for block in BLOCKS}
    for response in blocks.values():
        assert response.status_code == 200, response.text
    assert 'data-testid="memory-item"' in blocks["assistant_memory"].text
    assert "Amoxicillin 500 mg three times a day for 7 days" in blocks["assistant_memory"].text
    assert 'data-testid="draft-medication"' in blocks["assistant_drafts"].text

    # The chat page as served draws the blocks empty; given the same panel, the whole page
    # holds each block exactly as it was drawn alone.
    served = (await client.get(f"/consultations/{chat.id}")).text
    assert 'data-block="assistant_memory"' in served
    assert 'data-testid="memory-item"' not in served
    page_render = consultation_pages.render

    def with_panel(request: Any, template: str, context: dict[str, Any]) -> Any:
        return page_render(request, template, {**context, "assistant_panel": drawn})

    monkeypatch.setattr(consultation_pages, "render", with_panel)
    whole = (await client.get(f"/consultations/{chat.id}")).text
    for block, response in blocks.items():
        assert whole.count(response.text) == 1, block


async def test_the_panel_is_not_there_for_the_patient_or_another_doctor(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    clinic: Clinic,
) -> None:
    doctor = await clinic.doctor()
    patient = await accounts.make(Role.patient)
    consultation = await clinic.consultation(Person(patient, {}), doctor, ConsultationStatus.active)
    kept = await client.post(
        f"/api/consultations/{consultation.id}/assistant/memory",
        json={"text": "Only the doctor reads this"},
        headers=doctor.headers,
    )
    assert kept.status_code == 201, kept.text
    stranger = await clinic.doctor()
    await sign_in_page_staff(client, stranger.user)
    await sign_in_page_patient(browser, runtime, patient)
    missing = uuid.uuid4()
    for viewer in (client, browser):
        for block in BLOCKS:
            refused = await viewer.get(panel_url(consultation.id, block))
            absent = await viewer.get(panel_url(missing, block))
            assert refused.status_code == absent.status_code == 404
            assert refused.text == absent.text
            assert "Only the doctor reads this" not in refused.text
