"""The consultation pages over HTTP, signed in as a browser would be (cookie and CSRF)."""

from __future__ import annotations

import re

import httpx
import pytest

from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic, Person
from tests.factories import Accounts, csrf_from, sign_in_page_patient, sign_in_page_staff

pytestmark = pytest.mark.usefixtures("app")


async def start_form(client: httpx.AsyncClient, doctor_id: str, problem: str) -> httpx.Response:
    page = await client.get("/consultations")
    assert page.status_code == 200
    return await client.post(
        "/consultations",
        data={
            "doctor_id": doctor_id,
            "problem": problem,
            "type": "video",
            "csrf_token": csrf_from(page.text),
        },
    )


async def test_a_patient_starts_a_consultation_from_the_page(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, clinic: Clinic
) -> None:
    doctor = await clinic.doctor()
    patient = await accounts.make(Role.patient)
    await sign_in_page_patient(client, runtime, patient)
    listing = await client.get("/consultations")
    assert doctor.user.name in listing.text
    assert 'data-testid="start-form"' in listing.text

    started = await start_form(client, str(doctor.id), "Rash on my arm <b>since Monday</b>")
    assert started.status_code == 303
    chat_url = started.headers["location"]
    assert re.fullmatch(r"/consultations/[0-9a-f-]{36}", chat_url)
    chat = await client.get(chat_url)
    assert chat.status_code == 200
    # The problem is shown as text, never as markup.
    assert "Rash on my arm &lt;b&gt;since Monday&lt;/b&gt;" in chat.text
    assert 'data-testid="read-only"' in chat.text
    assert 'data-testid="composer"' not in chat.text


async def test_a_bad_start_form_is_shown_again_with_the_problem_kept(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, clinic: Clinic
) -> None:
    doctor = await clinic.doctor()
    patient = await accounts.make(Role.patient)
    await sign_in_page_patient(client, runtime, patient)
    refused = await start_form(client, "not-a-doctor", "Fever")
    assert refused.status_code == 422
    assert "Fever" in refused.text
    empty = await start_form(client, str(doctor.id), "   ")
    assert empty.status_code == 422
    assert 'data-testid="start-form"' in empty.text


async def test_the_doctor_sees_pending_first_and_accepts_from_the_chat(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    active = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    pending = await clinic.consultation(patient, doctor)
    await sign_in_page_staff(client, doctor.user)
    listing = await client.get("/consultations")
    assert listing.text.index(str(pending.id)) < listing.text.index(str(active.id))
    assert 'data-testid="pending"' in listing.text

    chat = await client.get(f"/consultations/{pending.id}")
    assert 'data-testid="accept"' in chat.text
    assert 'data-testid="composer"' in chat.text  # a doctor may write while pending
    accepted = await client.post(
        f"/consultations/{pending.id}/accept", data={"csrf_token": csrf_from(chat.text)}
    )
    assert accepted.status_code == 303
    again = await client.get(f"/consultations/{pending.id}")
    assert 'data-testid="end"' in again.text
    assert 'data-testid="join-link"' in again.text or "meet.google.com" not in again.text

    refused = await client.post(
        f"/consultations/{pending.id}/accept", data={"csrf_token": csrf_from(again.text)}
    )
    assert refused.status_code == 409
    assert 'data-testid="chat"' in refused.text


async def test_decline_needs_a_reason_and_a_form_without_csrf_is_refused(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    pending = await clinic.consultation(patient, doctor)
    await sign_in_page_staff(client, doctor.user)
    chat = await client.get(f"/consultations/{pending.id}")
    forged = await client.post(f"/consultations/{pending.id}/decline", data={"reason": "No"})
    assert forged.status_code == 403
    declined = await client.post(
        f"/consultations/{pending.id}/decline",
        data={"reason": "Please see a dentist", "csrf_token": csrf_from(chat.text)},
    )
    assert declined.status_code == 303
    page = await client.get(f"/consultations/{pending.id}")
    assert "Please see a dentist" in page.text
    assert 'data-testid="accept"' not in page.text


async def test_outsiders_get_not_found_and_the_desk_sees_no_content(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, clinic: Clinic
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    stranger = await accounts.make(Role.patient)
    await sign_in_page_patient(client, runtime, stranger)
    assert (await client.get(f"/consultations/{consultation.id}")).status_code == 404

    client.cookies.clear()
    receptionist = await accounts.make(Role.receptionist)
    await sign_in_page_staff(client, receptionist)
    desk = await client.get("/consultations")
    assert desk.status_code == 200
    assert patient.user.name in desk.text
    assert doctor.user.name in desk.text
    assert "Headache for three days" not in desk.text
    assert 'data-testid="start-form"' not in desk.text
    assert (await client.get(f"/consultations/{consultation.id}")).status_code == 404


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/consultations")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def groups_of(client: httpx.AsyncClient) -> tuple[str, str]:
    """The whole list page, and its groups as the live update fetches them."""
    page = await client.get("/consultations")
    groups = await client.get("/consultations", params={"fragment": "groups"})
    assert page.status_code == groups.status_code == 200, groups.text
    assert groups.headers["content-type"].startswith("text/html")
    return page.text, groups.text


async def test_the_list_draws_its_groups_alone_for_the_viewer(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, clinic: Clinic
) -> None:
    """`?fragment=groups` is exactly the part of the page the live update swaps: the same
    template block, drawn for the same viewer with the same access as the page."""
    doctor = await clinic.doctor()
    patient = Person(await accounts.make(Role.patient), {})
    other = Person(await accounts.make(Role.patient), {})
    mine = await clinic.consultation(patient, doctor)
    theirs = await clinic.consultation(other, doctor, ConsultationStatus.active)

    await sign_in_page_patient(client, runtime, patient.user)
    page, groups = await groups_of(client)
    fragment = groups.strip()
    assert fragment.startswith('<div id="consultation-groups">')
    assert fragment.endswith("</div>")
    assert "<html" not in fragment
    assert 'data-testid="start-form"' not in fragment
    assert groups in page
    assert str(mine.id) in fragment
    assert str(theirs.id) not in fragment

    client.cookies.clear()
    await sign_in_page_staff(client, doctor.user)
    page, groups = await groups_of(client)
    assert groups in page
    assert [str(mine.id), str(theirs.id)] == re.findall(r'data-id="([^"]+)"', groups)
    assert "New requests" in groups

    client.cookies.clear()
    await sign_in_page_staff(client, await accounts.make(Role.receptionist))
    page, groups = await groups_of(client)
    assert groups in page
    assert patient.user.name in groups
    assert "Headache for three days" not in groups
    assert 'href="/consultations/' not in groups

    client.cookies.clear()
    signed_out = await client.get("/consultations", params={"fragment": "groups"})
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/login")


async def test_the_list_draws_no_other_fragment(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    await sign_in_page_patient(client, runtime, await accounts.make(Role.patient))
    response = await client.get("/consultations", params={"fragment": "start-form"})
    assert response.status_code == 422
