"""Phones (issue 18): every phone field takes the national and international spellings of
the clinic's region, stores E.164 and shows national format; anything else is a 422 on the
field or a form error, never a 500, and digits outside ASCII never make a second account."""

from __future__ import annotations

import httpx
import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from sqlalchemy import select

from clinicflow.clinic import phones
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Phone, Role
from clinicflow.runtime import Runtime
from tests.factories import Accounts, csrf_from, latest_code, sign_in_page_staff
from tests.queue.clinic import QueueClinic

pytestmark = pytest.mark.usefixtures("app")

# A Kenyan mobile's national significant number: 7 and eight digits.
KENYAN_MOBILE = st.from_regex(r"7[0-9]{8}", fullmatch=True)
SEPARATOR = st.sampled_from(["", " ", "-", " - ", "  "])


def spellings(nsn: str, sep: str) -> list[str]:
    """The ways people in Kenya write one number (national and international)."""
    parts = (nsn[:3], nsn[3:6], nsn[6:])
    e164 = f"+254{nsn}"
    number = phonenumbers.parse(e164)
    return [
        f"0{nsn}",
        nsn,
        "0" + sep.join(parts),
        sep.join(parts),
        f"(0{parts[0]}) {parts[1]}{sep}{parts[2]}",
        f"+254{sep}{sep.join(parts)}",
        f"254{nsn}",
        f"000254{nsn}",
        e164,
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
    ]


@settings(max_examples=150, deadline=None)
@given(nsn=KENYAN_MOBILE, sep=SEPARATOR)
def test_every_spelling_of_a_kenyan_number_is_one_e164(nsn: str, sep: str) -> None:
    """Property: in a Kenyan clinic each national or international spelling of a valid
    number is stored as the same E.164, and what is shown reads back to it."""
    e164 = f"+254{nsn}"
    assume(phonenumbers.is_valid_number(phonenumbers.parse(e164)))
    adapter = TypeAdapter(Phone)
    with phones.use_region("KE"):
        for typed in spellings(nsn, sep):
            assert adapter.validate_python(typed) == e164, typed
        shown = phones.shown(e164)
    assert shown.replace(" ", "") == f"0{nsn}"
    assert phones.to_e164(shown, "KE") == e164


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=40))
def test_any_text_is_a_number_or_a_value_error(text: str) -> None:
    """Property: the parser never raises anything but ValueError, and what it accepts is
    E.164 made of ASCII digits."""
    try:
        stored = phones.to_e164(text, "KE")
    except ValueError:
        return
    assert stored.startswith("+")
    assert stored[1:].isascii()
    assert stored[1:].isdigit()
    assert phones.to_e164(stored, "KE") == stored


@pytest.mark.parametrize(
    "typed",
    ["０７１２３４５６７８", "07١2345678", "1-800-FLOWERS", "0712345678 ext. 5", "0712", "+254"],
)
def test_what_is_not_an_ascii_number_is_refused(typed: str) -> None:
    with pytest.raises(ValueError, match="phone number"):
        phones.to_e164(typed, "KE")


def test_the_region_decides_how_a_national_number_reads_and_shows() -> None:
    assert phones.to_e164("0712 345 678", "TZ") == "+255712345678"
    with phones.use_region("TZ"):
        assert TypeAdapter(Phone).validate_python("0712 345 678") == "+255712345678"
        # A number of another country is shown in international format.
        assert phones.shown("+254712345678") == "+254 712 345678"
        assert phones.shown("+255712345678") == "0712 345 678"
    assert phones.shown("+254712345678") == "0712 345678"
    assert phones.shown("not a number") == "not a number"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=40))
async def test_any_phone_sent_to_the_api_is_a_422_on_the_field_never_a_500(
    client: httpx.AsyncClient, text: str
) -> None:
    answer = await client.post("/api/auth/otp/request", json={"phone": text})
    assert answer.status_code < 500, answer.text
    if answer.status_code == 422:
        [problem] = answer.json()["error"]["details"]["errors"]
        assert problem["loc"] == ["body", "phone"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=32))
async def test_any_phone_typed_at_sign_in_is_a_form_error_never_a_500(
    client: httpx.AsyncClient, text: str
) -> None:
    form = await client.get("/login/phone")
    answer = await client.post(
        "/login/phone", data={"phone": text, "csrf_token": csrf_from(form.text)}
    )
    assert answer.status_code in (303, 422, 429), answer.text
    if answer.status_code == 422:
        assert 'data-testid="form-error"' in answer.text or "like 0712 123456" in answer.text


async def test_a_patient_signs_in_with_a_national_number(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    form = await client.get("/login/phone")
    token = csrf_from(form.text)
    sent = await client.post("/login/phone", data={"phone": "0712 345 678", "csrf_token": token})
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == "/login/phone/verify?phone=%2B254712345678"
    verify = await client.get(sent.headers["location"])
    assert "We sent a 6-digit code to 0712 345678." in verify.text
    signed_in = await client.post(
        "/login/phone/verify",
        data={
            "phone": "712345678",
            "code": latest_code(runtime, "+254712345678"),
            "name": "Amina",
            "csrf_token": token,
        },
    )
    assert signed_in.status_code == 303, signed_in.text


async def test_a_tanzanian_clinic_reads_national_numbers_as_tanzanian(
    clinic: QueueClinic, runtime: Runtime
) -> None:
    admin = await clinic.staff(Role.admin)
    saved = await clinic.client.put("/api/admin/clinic", json={"phone_region": "TZ"}, headers=admin)
    assert saved.status_code == 200, saved.text
    answer = await clinic.client.post("/api/auth/otp/request", json={"phone": "0712 345 678"})
    assert answer.status_code == 202, answer.text
    assert latest_code(runtime, "+255712345678")


async def test_the_desk_registers_a_walk_in_typed_in_national_form(
    clinic: QueueClinic, client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    doctor, _ = await clinic.doctor()
    desk = await accounts.make(Role.receptionist)
    await sign_in_page_staff(client, desk)
    page = await client.get("/desk/queue")
    assert 'placeholder="0712 123456"' in page.text
    form = {
        "csrf_token": csrf_from(page.text),
        "doctor_id": str(doctor.id),
        "phone": "0712 345 678",
        "name": "Juma Walker",
        "severity": "routine",
    }
    made = await client.post("/desk/queue/walk-in", data=form)
    assert made.status_code == 303, made.text
    async with runtime.transaction(write=False) as session:
        stored = await session.scalar(select(User.phone).where(User.name == "Juma Walker"))
    assert stored == "+254712345678"
    # The same person typed another way is found, not registered twice.
    again = await client.post("/desk/queue/walk-in", data={**form, "phone": "+254712345678"})
    assert again.status_code in (303, 409, 422), again.text
    async with runtime.transaction(write=False) as session:
        count = len((await session.scalars(select(User).where(User.phone == stored))).all())
    assert count == 1
    # The desk's booking search finds them by the national number and shows it so.
    found = await client.get("/desk/book", params={"q": "0712 345 678"})
    assert "Juma Walker" in found.text
    assert "0712 345678" in found.text
    assert "+254712345678" not in found.text


async def test_a_walk_in_with_a_bad_number_is_a_form_error(
    clinic: QueueClinic, client: httpx.AsyncClient, accounts: Accounts
) -> None:
    doctor, _ = await clinic.doctor()
    await sign_in_page_staff(client, await accounts.make(Role.receptionist))
    page = await client.get("/desk/queue")
    refused = await client.post(
        "/desk/queue/walk-in",
        data={
            "csrf_token": csrf_from(page.text),
            "doctor_id": str(doctor.id),
            "phone": "0712 34",
            "name": "Juma",
            "severity": "routine",
        },
    )
    assert refused.status_code == 422
    assert "Write a phone number, like 0712 123456." in refused.text
    assert 'value="0712 34"' in refused.text


async def test_the_admins_user_search_finds_a_number_typed_nationally(
    clinic: QueueClinic, accounts: Accounts
) -> None:
    admin = await clinic.staff(Role.admin)
    await accounts.make(Role.patient, name="Wanjiku", phone="+254712345678")
    for typed in ("0712 345 678", "712345678", "+254 712 345678"):
        found = await clinic.client.get("/api/admin/users", params={"q": typed}, headers=admin)
        assert found.status_code == 200, found.text
        assert [u["name"] for u in found.json()["items"]] == ["Wanjiku"], typed
