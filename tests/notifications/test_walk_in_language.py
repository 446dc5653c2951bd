"""The texts a patient the desk registers receives are in the clinic's language (issue 18:
the desk's new-patient SMS reached Swahili readers in English, the receptionist's page
language)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from clinicflow.i18n import gettext_in
from clinicflow.identity.models import PatientProfile, User
from clinicflow.identity.schemas import Language, Role
from clinicflow.notifications.jobs import Dispatcher
from clinicflow.runtime import Runtime
from tests.notifications.standins import TwilioStandIn
from tests.queue.clinic import QueueClinic

pytestmark = pytest.mark.usefixtures("app")


async def test_a_swahili_clinics_new_walk_in_gets_a_swahili_sms(
    clinic: QueueClinic, runtime: Runtime, dispatcher: Dispatcher, twilio: TwilioStandIn
) -> None:
    admin = await clinic.staff(Role.admin)
    saved = await clinic.client.put(
        "/api/admin/clinic", json={"default_language": "sw"}, headers=admin
    )
    assert saved.status_code == 200, saved.text
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    # The receptionist's own requests are in English; the patient is a stranger to them.
    made = await clinic.client.post(
        "/api/queue/walk-in",
        json={"doctor_id": str(doctor.id), "phone": "0712 345 678", "name": "Mzee Juma"},
        headers={**desk, "Accept-Language": "en"},
    )
    assert made.status_code == 201, made.text
    async with runtime.transaction(write=False) as session:
        language = await session.scalar(
            select(PatientProfile.preferred_language)
            .join(User, User.id == PatientProfile.user_id)
            .where(User.phone == "+254712345678")
        )
    assert language is Language.sw
    while await dispatcher.run_once():
        pass
    texts = [sms.body for sms in twilio.messages if sms.to == "+254712345678"]
    assert texts, twilio.messages
    # "You are checked in" and "You're next", both in Swahili.
    assert len(texts) == 2, texts
    assert texts[0].startswith(gettext_in("sw", "You are checked in") + ":"), texts
    assert texts[1].startswith(gettext_in("sw", "You're next") + ":"), texts
